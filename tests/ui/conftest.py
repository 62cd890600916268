"""The ui tier: `python app.py` in a child process (tests/ui/app_server.py), gradio_client, Chromium.

Most apps here start over a copy of a prebuilt index (`app_folders`) instead of embedding the
corpus again at each start; the module server of test_app_api.py still builds its index from
scratch, so the app's first-start path stays covered.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.app_server import ROOT, make_corpus


@pytest.fixture(scope="session")
def app_template(tmp_path_factory) -> tuple[Path, Path]:
    """The app's corpus (corpus/ plus the XSS article) and its index, built once per session by
    `python -m rag index` in a child process, so this process holds no Chroma handle on it."""
    base = tmp_path_factory.mktemp("app-template")
    corpus, index = make_corpus(base / "corpus"), base / "index"
    command = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    built = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    return corpus, index


@pytest.fixture(scope="session")
def app_folders(app_template, tmp_path_factory):
    """app_folders() -> (corpus_dir, index_dir): fresh copies of the template, to pass to
    `app_server(corpus_dir=..., index_dir=...)` for an app that starts with its index built."""
    corpus, index = app_template

    def copy() -> tuple[Path, Path]:
        base = tmp_path_factory.mktemp("app")
        shutil.copytree(corpus, base / "corpus")
        shutil.copytree(index, base / "index")
        return base / "corpus", base / "index"

    return copy
