"""Feeds with a real `chroma run` server and two processes: one poll at a time across processes,
and a process that serves (here: this one) answers from the articles another process's poll
added, on its next question."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rag.config import Config
from rag.ingest.locks import poll_lock
from rag.service import Service
from tests.conftest import ROOT
from tests.fetching.newsserver import NewsServer

pytestmark = pytest.mark.servers


def test_a_poll_in_another_process_reaches_the_serving_one(tmp_path):
    from tests.servers.helpers import chroma_server

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("The harbour office in Riverton opens at nine on weekdays, a clerk said.", encoding="utf-8")
    with chroma_server(tmp_path / "chroma-data") as server, NewsServer() as site:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
        env.update(RAG_EMBED_MODEL="fake:hashing", RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(tmp_path / "index"),
                   CHROMA_HOST=server.host, CHROMA_PORT=str(server.port), RAG_FETCH_ALLOW_PRIVATE="1",
                   RAG_FETCH_HOST_DELAY="0")
        config = Config.from_env().with_(embed_model="fake:hashing", corpus_dir=corpus, index_dir=tmp_path / "index",
                                         chroma_host=server.host, chroma_port=server.port)
        serving = Service(config)  # stands for an app process
        serving.index()
        question = "When did the Riverton maritime museum reopen?"
        assert "museum" not in serving.ask(question).text

        def rag(*args):
            return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT,
                                  env=env, timeout=180)

        added = rag("feeds", "add", site.url("/feed.xml"))
        assert added.returncode == 0 and "3 added" in added.stdout, added.stderr
        answer = serving.ask(question)  # no restart: the next question sees the other process's poll
        assert "The Riverton maritime museum reopened" in answer.text
        assert site.url("/articles/museum-reopens") in {c.url for c in answer.citations}

        with poll_lock(config):  # this process is polling: the other one's poll waits for the next round
            busy = rag("feeds", "poll")
        assert busy.returncode == 1 and "Another process is fetching links or feeds" in busy.stderr
