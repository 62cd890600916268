"""The same service against a real `chroma run` server, and OpenAI-style embeddings from a real
llama.cpp embeddings endpoint."""

import pytest

from rag.config import Config
from rag.errors import IndexProblem, StoreUnavailable
from rag.service import Service
from tests.servers.helpers import chroma_server, free_port, llama_server

pytestmark = pytest.mark.servers

QUESTIONS = [
    "what did Rubio say about Istanbul",
    "Who led the Russian delegation?",
    "What did Angela Merkel say about the ceasefire?",
    "How many prisoners were swapped?",
]


def test_server_store_gives_the_same_answers_and_reindexes_incrementally(corpus_copy, tmp_path, service):
    with chroma_server(tmp_path / "chroma-data") as server:
        config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "local",
                                         chroma_host=server.host, chroma_port=server.port)
        remote = Service(config)
        built = remote.index()
        assert built.documents == 5 and built.embedded_chunks == built.chunks > 0
        assert not (tmp_path / "local" / "chroma").exists()  # nothing went to the embedded store
        for question in QUESTIONS:
            here, there = service.ask(question), remote.ask(question)
            assert (there.text, there.answerable) == (here.text, here.answerable)
            assert [(c.doc_id, c.start, c.end) for c in there.citations] == [(c.doc_id, c.start, c.end) for c in here.citations]

        (corpus_copy / "putin-trump-bail-on-istanbul-talks.txt").unlink()
        again = Service(config).index()
        assert again.removed == ["putin-trump-bail-on-istanbul-talks"] and again.embedded_chunks == 0
        assert "putin-trump-bail-on-istanbul-talks" not in {s.doc_id for s in Service(config).sources()}


def test_server_down_is_a_clear_error_naming_host_and_port(corpus_copy, tmp_path):
    port = free_port()
    config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "i", chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        Service(config).ask("Who led the Russian delegation?")


def test_openai_compatible_embeddings_and_model_mismatch(corpus_copy, tmp_path):
    # One article is enough to show the embedder at work: SmolLM2 embeds slowly on 2 cores.
    for path in corpus_copy.iterdir():
        if path.name not in ("putin-trump-bail-on-istanbul-talks.txt", "metadata.yaml"):
            path.unlink()
    with llama_server(embeddings=True) as server:
        # Embeddings from the server; answers stay extractive (no OPENAI_BASE_URL for the LLM).
        # The embedding requests share the LLM time limit: a generous one for busy machines.
        config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "index",
                                         embed_model=server.model, embed_base_url=server.base_url, llm_timeout=300)
        p = Service(config)
        summary = p.index()
        assert summary.embedded_chunks == summary.chunks > 0
        answer = p.ask("Who led the Russian delegation?")
        stored = p.store.open(p.embedder.name).chunks_of("putin-trump-bail-on-istanbul-talks")
        assert answer.citations and {len(vector) for _, _, vector in stored} == {576}

    local = Service(Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "index"))
    with pytest.raises(IndexProblem, match="rebuild"):
        local.ask("Who led the Russian delegation?")


def test_a_running_app_sees_documents_indexed_by_another_process(corpus_copy, tmp_path):
    import os
    import subprocess
    import sys

    question = "What did the harbour master say about the ferry timetable?"
    with chroma_server(tmp_path / "chroma-data") as server:
        config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=tmp_path / "local",
                                         chroma_host=server.host, chroma_port=server.port)
        running = Service(config)
        running.index()
        assert running.ask(question).answerable is False

        (corpus_copy / "ferry.txt").write_text(
            "Island Ferry Timetable Changes\n\nThe harbour authority approved a new ferry timetable on Monday. "
            "“We listened to the islanders,” said the harbour master, Ines Varga.\n", encoding="utf-8")
        env = {**os.environ, "CHROMA_HOST": server.host, "CHROMA_PORT": str(server.port)}
        result = subprocess.run([sys.executable, "-m", "rag", "index", "--corpus", str(corpus_copy), "--index", str(tmp_path / "local")],
                                capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr

        answer = running.ask(question)
        assert answer.answerable and answer.citations[0].doc_id == "ferry"
