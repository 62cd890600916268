"""A rebuild against a real `chroma run` server that crashes after switching generations: the
running app keeps answering, and the next run finishes the job."""

import pytest

from rag.config import Config
from rag.service import Service
from tests.integration.test_indexing import FERRY, FERRY_QUESTION, assert_one_generation, collections

pytestmark = pytest.mark.servers


def test_a_rebuild_against_a_chroma_server_crashing_after_the_switch(corpus_copy, tmp_path, monkeypatch):
    import chromadb.api.client

    from tests.servers.helpers import chroma_server

    with chroma_server(tmp_path / "chroma-data") as server:
        config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "local",
                                         chroma_host=server.host, chroma_port=server.port)
        running = Service(config)  # stands for the app, serving while another process rebuilds
        running.index()
        assert running.ask(FERRY_QUESTION).answerable is False

        (corpus_copy / "ferry.txt").write_text(FERRY, encoding="utf-8")
        with monkeypatch.context() as patched:
            def crash(*_):
                raise RuntimeError("killed while deleting the old generation")

            patched.setattr(chromadb.api.client.Client, "delete_collection", crash)
            with pytest.raises(RuntimeError, match="killed"):
                Service(config).index(rebuild=True)
        assert collections(running) == {"news_meta", "news_chunks", "news_docs", "news_1_chunks", "news_1_docs"}
        assert running.ask(FERRY_QUESTION).citations[0].doc_id == "ferry"
        assert Service(config).ask(FERRY_QUESTION).citations[0].doc_id == "ferry"

        finished = Service(config)
        assert finished.index().unchanged == 6
        assert_one_generation(finished)
        assert finished.store.live_generation() == "1"
        assert running.ask("Who led the Russian delegation?").citations
        assert Service(config).index(rebuild=True).documents == 6
        assert collections(finished) == {"news_meta", "news_2_chunks", "news_2_docs"}
        assert running.ask(FERRY_QUESTION).citations[0].doc_id == "ferry"


