"""Commands run beside a real app process (`python app.py`) serving the default embedded index:
a second app process is refused with a one-line message, and `rag feeds add`, `rag index`,
`rag remove` fetch or delete themselves and hand the indexing to the app, which then answers
from it without a restart."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio_client imports huggingface_hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from tests.conftest import ROOT  # noqa: E402
from tests.fetching.newsserver import NewsServer  # noqa: E402
from tests.ui.app_server import app_server, free_port  # noqa: E402

pytestmark = pytest.mark.servers
QUESTION = "When did the Riverton maritime museum reopen?"


def test_commands_beside_the_app_hand_it_their_indexing(tmp_path):
    from gradio_client import Client

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "note.txt").write_text("The harbour office in Riverton opens at nine on weekdays, a clerk said.", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env.update(RAG_EMBED_MODEL="fake:hashing", RAG_NER="none", RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(index),
               RAG_FETCH_ALLOW_PRIVATE="1", RAG_FETCH_HOST_DELAY="0", RAG_FEED_INTERVAL="0", HF_HUB_OFFLINE="1")

    def rag(*args):
        return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=180)

    app_env = {k: env[k] for k in env if k.startswith("RAG_")}
    with NewsServer() as site, app_server(env=app_env, corpus_dir=corpus, index_dir=index) as app:
        second = subprocess.run([sys.executable, "app.py"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                                env={**env, "RAG_PORT": str(free_port())})
        assert second.returncode != 0
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: Another app process already serves the embedded index in {index}; to serve it from several "
            "processes, run a Chroma server and set CHROMA_HOST (and CHROMA_PORT).")

        client = Client(app.url + "/", verbose=False)
        assert "museum" not in client.predict(QUESTION, [], 5, api_name="/ask")["text"]
        added = rag("feeds", "add", site.url("/"))
        assert added.returncode == 0, added.stderr
        assert f"The app serving {index} is indexing it" in added.stderr
        assert "3 added" in added.stdout and "4 documents" in added.stdout
        reply = client.predict(QUESTION, [], 5, api_name="/ask")
        assert site.url("/articles/museum-reopens") in {c["url"] for c in reply["citations"]}

        removed = rag("remove", site.url("/articles/museum-reopens"))
        assert removed.returncode == 0 and "1 removed" in removed.stdout, removed.stderr
        assert site.url("/articles/museum-reopens") not in {
            c["url"] for c in client.predict(QUESTION, [], 5, api_name="/ask")["citations"]}
        (corpus / "note.txt").unlink()
        indexed = rag("index")
        assert indexed.returncode == 0 and "1 removed" in indexed.stdout, indexed.stderr
        assert "is indexing it" in indexed.stderr
