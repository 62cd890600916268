"""Start `python app.py` in a child process over a temporary copy of the corpus (a plain helper).

    with app_server() as server:
        server.url            # http://127.0.0.1:<port>
        server.ready_seconds  # from process start to /health answering

The corpus copy gets one extra article, XSS_FILE, whose title and text carry HTML and markdown
that must render as text; its topic ("zebra migration") is in no other article.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

XSS_FILE = "zebra-xss-test.txt"
XSS_TITLE = "Test article on <script>alert(1)</script> rendering"
XSS_TEXT = f"""---
title: "{XSS_TITLE}"
publisher: Test <b>Outlet</b>
author: <img src=x onerror=alert(4)>
---
Zebra migration in the Serengeti reached a record this season, park rangers said on Monday on www.zebra-map.example.org and http://zebra-map.example.org/pixel.png today.

The zebra migration began early because of heavy rains, and the rangers counted the herds crossing the river while a caption read <script>alert("xss")</script> under the photo.

Rangers said the zebra migration route was marked on a map <img src=x onerror=alert(2)> that visitors could open, and a guide wrote [click](javascript:alert(3)) beside it.

Scientists expect the zebra migration to return to its usual timing next year, when the rains are normal again.
"""


class AppStartError(RuntimeError):
    pass


@dataclass
class AppServer:
    url: str
    port: int
    corpus_dir: Path
    index_dir: Path
    process: subprocess.Popen
    started: float  # time.perf_counter() when the process was started
    ready_seconds: float
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def make_corpus(folder: Path) -> Path:
    """A copy of the project corpus plus the XSS article."""
    shutil.copytree(ROOT / "corpus", folder)
    (folder / XSS_FILE).write_text(XSS_TEXT, encoding="utf-8")
    return folder


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AppStartError(f"app.py exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AppStartError(f"app.py did not answer {url}/health within {timeout:.0f} s")


@contextlib.contextmanager
def app_server(
    timeout: float = 120.0, env: dict[str, str] | None = None,
    corpus_dir: Path | None = None, index_dir: Path | None = None,
) -> Iterator[AppServer]:
    """Run app.py on a free port over `corpus_dir` and `index_dir` (default: fresh temporary
    folders; pass folders from an earlier run to start with the index already built)."""
    with tempfile.TemporaryDirectory(prefix="rag-app-") as tmp:
        tmp_path = Path(tmp)
        corpus = corpus_dir if corpus_dir and corpus_dir.exists() else make_corpus(corpus_dir or tmp_path / "corpus")
        index = index_dir or tmp_path / "index"
        port = free_port()
        url = f"http://{HOST}:{port}"
        child_env = {
            **os.environ,
            "RAG_HOST": HOST,
            "RAG_PORT": str(port),
            "RAG_CORPUS_DIR": str(corpus),
            "RAG_INDEX_DIR": str(index),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        for name in ("RAG_AUTH", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST"):
            if not (env and name in env):
                child_env.pop(name, None)  # the tests expect the plain local, extractive setup
        log_path = tmp_path / "app.log"
        with open(log_path, "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=child_env,
                stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                try:
                    wait_healthy(url, process, timeout)
                except AppStartError as exc:
                    raise AppStartError(f"{exc}\n--- app log ---\n{log_path.read_text(errors='replace')}") from None
                server = AppServer(url, port, corpus, index, process, started, time.perf_counter() - started, log_path)
                yield server
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
