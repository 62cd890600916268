"""Retrieval reads each matched chunk with its neighbours, and never returns the same text twice."""

from __future__ import annotations

from rag.config import Config
from rag.service import Service

QUESTION = "What did Medinsky say about the talks in Istanbul?"


def _chunk_span(search, passage):
    chunk = search.chunk(passage.chunk_id)
    return chunk.start, chunk.end


def test_passages_are_the_matched_chunk_widened_by_its_neighbours(service):
    search = service.search_index
    passages = service.retrieve(QUESTION, 5)
    assert len(passages) == 5
    widened = 0
    for p in passages:
        doc = search.documents[p.doc_id]
        assert doc.text[p.start : p.end] == p.text  # offsets cite the stored text exactly
        start, end = _chunk_span(search, p)
        assert p.start <= start and end <= p.end
        widened += (p.start, p.end) != (start, end)
    assert widened >= 4  # only a one-chunk article could leave a passage unwidened


def test_a_chunk_already_inside_a_returned_passage_is_not_returned_again(service):
    search = service.search_index
    passages = service.retrieve(QUESTION, 20)
    for p in passages:
        start, end = _chunk_span(search, p)
        others = [q for q in passages if q is not p and q.doc_id == p.doc_id]
        assert not any(q.start <= start and end <= q.end for q in others)


def test_context_chunks_zero_reads_the_chunk_alone(service, tmp_path):
    config = service.config.with_(context_chunks=0)
    bare = Service(config)
    for p in bare.retrieve(QUESTION, 5):
        assert (p.start, p.end) == _chunk_span(bare.search_index, p)
        assert p.text == bare.search_index.chunk(p.chunk_id).text


def test_context_chunks_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_CONTEXT_CHUNKS", "2")
    assert Config.from_env().retrieval.context_chunks == 2
