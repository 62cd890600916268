"""The SQLite side of the index (rag/backends/sparse.py): keyword ranking, visibility of committed
versions only, corpus statistics kept right through adds, edits and removals, generations, and the
file brought in step from Chroma when it is missing or behind. Fake embedder, no model."""

from __future__ import annotations

import math
import shutil
import sqlite3
from collections import Counter

import pytest

from rag.backends.sparse import SparseIndex, keyword_tokens
from rag.retrieval.stats import chunk_terms, source_names, title_terms
from rag.service import Service

FERRY = ("Island Ferry Timetable Changes\n\nThe harbour authority approved a new ferry timetable on Monday. "
         "“We listened to the islanders,” said the harbour master, Ines Varga.\n")


def put(sparse: SparseIndex, doc_id: str, version: str, texts: list[str], commit: bool = True, **meta) -> list[str]:
    """Store `texts` as the chunks of one document version (one after the other in its text)."""
    ids, metas, text, cursor = [], [], "", 0
    for n, piece in enumerate(texts):
        text += piece + " "
        ids.append(f"{doc_id}:{version}:{n}")
        metas.append({"doc_id": doc_id, "version": version, "start": cursor, "end": cursor + len(piece)})
        cursor = len(text)
    sparse.put_chunks(ids, texts, metas)
    if commit:
        sparse.commit_document(doc_id, text, {"version": version, "title": meta.pop("title", doc_id), **meta})
    return ids


@pytest.fixture
def sparse(tmp_path):
    made = SparseIndex(tmp_path / "sparse.sqlite3")
    yield made
    made.close()


def expected_stats(documents: dict[str, tuple[list[str], dict]]) -> tuple[int, Counter, set[str], dict[str, frozenset]]:
    """The statistics computed from scratch over what is committed, as answering defines them."""
    df: Counter[str] = Counter()
    known: set[str] = set()
    named = {}
    for doc_id, (texts, meta) in documents.items():
        for text in texts:
            df.update(chunk_terms(text))
        names = source_names(meta.get("publisher"), meta.get("author"))
        named[doc_id] = frozenset(names)
        known |= names | title_terms(meta.get("title", doc_id))
    return sum(len(t) for t, _ in documents.values()), df, known | set(df), named


def assert_stats_match(sparse: SparseIndex, documents: dict[str, tuple[list[str], dict]]) -> None:
    chunks, df, known, named = expected_stats(documents)
    stats = sparse.stats()
    assert stats.chunks == chunks
    assert dict(stats.df) == dict(df)
    assert all(term in stats.known_terms for term in known)
    assert "zzyzx" not in stats.known_terms and "zzyzx" not in known
    assert dict(stats.source_terms) == named
    for term in list(df)[:5]:
        assert stats.idf(term) == pytest.approx(math.log(1 + (chunks - df[term] + 0.5) / (df[term] + 0.5)))


def test_keyword_ranking_prefers_more_and_rarer_matches(sparse):
    put(sparse, "a", "1", ["The ferry timetable changes on Monday, the ferry company said.", "Weather was mild."])
    put(sparse, "b", "1", ["A ferry crossed the bay.", "The council met on Monday."])
    put(sparse, "c", "1", ["Parliament debated the budget.", "Taxes rise on Monday."])
    assert sparse.keyword("ferry timetable", 10) == ["a:1:0", "b:1:0"]  # nothing else holds either word
    assert sparse.keyword("ferries", 10)[0] == "a:1:0"  # stemmed as bm25s stems: ferries -> ferri <- ferry
    assert sparse.keyword("monday ferry", 10)[:2] == ["a:1:0", "b:1:0"]
    assert sparse.keyword("the and of", 10) == []  # stopwords only
    assert sparse.keyword('" OR ( * -', 10) == [] and keyword_tokens("Ferries' ferry-boats") == ["ferri", "ferri", "boat"]
    assert len(sparse.keyword("monday", 2)) == 2


def test_keyword_ranking_is_the_bm25_retriever_s(sparse, fake_config):
    """The same ranking as llama-index's in-memory BM25Retriever (bm25s), over the shipped corpus
    chunked as the index chunks it, before and after folding the postings into the base."""
    import logging

    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    from rag.ingest.chunking import Chunker
    from rag.ingest.corpus import load_corpus

    documents, _, _ = load_corpus(fake_config.paths.corpus_dir, config=fake_config)
    chunker = Chunker(fake_config)
    nodes = []
    for doc in documents:
        pieces = chunker.split(doc)
        put(sparse, doc.doc_id, "1", [c.text for c in pieces])
        nodes += [TextNode(id_=f"{doc.doc_id}:1:{n}", text=c.text) for n, c in enumerate(pieces)]
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    reference = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=20, language="en")
    questions = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?", "prisoner exchange numbers",
                 "sanctions against Russia by the European Union", "Trump Putin phone call ceasefire"]
    for compacted in (False, True):
        if compacted:
            sparse.compact()
        for question in questions:
            expected = [h.node.node_id for h in reference.retrieve(question) if h.score > 0]  # as SearchIndex kept them
            got = sparse.keyword(question, 20)
            assert got[:10] == expected[:10] and len(got) == len(expected) > 3, question


def test_postings_folded_into_the_base_leave_the_ranking_unchanged(sparse):
    put(sparse, "a", "1", ["Ferries run hourly in summer.", "The ferry company added boats."])
    put(sparse, "b", "1", ["Buses replace ferries in winter.", "A ferry strike is planned."])
    before = sparse.keyword("ferry boats winter", 10)
    sparse.compact()
    assert sparse.keyword("ferry boats winter", 10) == before
    put(sparse, "a", "2", ["Ferries run every two hours."])  # a new version: its chunks in the delta
    sparse.remove_chunks(sparse.stale_chunks({"a": "2", "b": "1"}))  # the old ones: dead in the base
    after = sparse.keyword("ferry boats winter", 10)
    assert "a:1:1" not in after and "a:2:0" in after
    sparse.compact()
    assert sparse.keyword("ferry boats winter", 10) == after


def test_only_committed_versions_are_visible_and_stale_chunks_are_found(sparse):
    put(sparse, "a", "1", ["Ferries run hourly in summer."])
    pending = put(sparse, "a", "2", ["Ferries run every two hours in winter."], commit=False)
    put(sparse, "b", "1", ["A new harbour opened."], commit=False)
    assert sparse.keyword("ferries", 10) == ["a:1:0"]  # version 2 is put, not committed
    assert sparse.keyword("harbour", 10) == [] and sparse.versions() == {"a": "1"}
    assert sorted(sparse.stale_chunks({"a": "1"})) == sorted(pending + ["b:1:0"])

    sparse.commit_document("a", "Ferries run every two hours in winter. ", {"version": "2", "title": "a"})
    assert sparse.keyword("ferries", 10) == pending
    assert sparse.document("a").text.startswith("Ferries run every two hours") and sparse.document("a", "1") is None
    stale = sparse.stale_chunks({"a": "2"})
    assert sorted(stale) == ["a:1:0", "b:1:0"]
    sparse.remove_chunks(stale)
    assert sparse.known_chunk_ids(["a:1:0", "b:1:0", *pending]) == set(pending)

    sparse.remove_documents(["a"])
    assert sparse.keyword("ferries", 10) == [] and sparse.chunk_total() == 0 and sparse.document("a") is None


def test_statistics_follow_adds_edits_and_removals(sparse):
    committed: dict[str, tuple[list[str], dict]] = {}

    def commit(doc_id, version, texts, **meta):
        put(sparse, doc_id, version, texts, **meta)
        committed[doc_id] = (texts, meta)

    commit("wsj", "1", ["Rubio said the talks in Istanbul were useful.", "Markets rose."],
           title="Diplomatic defeat for Putin", publisher="The Wall Street Journal", author="Jane Roe")
    commit("ft", "1", ["Putin sent Medinsky to Istanbul.", "Markets fell in Moscow."], title="Obstacles to peace",
           publisher="Financial Times")
    assert_stats_match(sparse, committed)
    assert {"wsj", "jane", "roe"} <= sparse.stats().source_terms["wsj"]  # initials of the outlet too
    assert "obstacl" in sparse.stats().known_terms  # a headline word the text lacks

    commit("wsj", "2", ["Rubio said little after Istanbul."], title="Rubio in Turkey", publisher="The Wall Street Journal")
    assert_stats_match(sparse, committed)
    assert "obstacl" in sparse.stats().known_terms and "diplomat" not in sparse.stats().known_terms
    (market,) = chunk_terms("Markets")
    assert sparse.stats().df[market] == 1  # left in the Financial Times article only

    sparse.remove_documents(["ft"])
    del committed["ft"]
    assert_stats_match(sparse, committed)
    assert "medinski" not in sparse.stats().known_terms and "ft" not in sparse.stats().source_terms

    sparse.commit_document("wsj", "Rubio said little after Istanbul. ", {"version": "2", "title": "Rubio in Turkey",
                                                                         "publisher": "The Wall Street Journal"})
    assert_stats_match(sparse, committed)  # committing the same version again counts it once


def test_a_change_of_word_lists_recomputes_tokens_and_statistics(sparse, monkeypatch):
    import rag.backends.sparse as module

    put(sparse, "a", "1", ["The ferry timetable changes on Monday."], title="Ferries", publisher="Coast Weekly")
    before = (dict(sparse.stats().df), sparse.keyword("ferry", 5))
    sparse.reanalyse()
    assert sparse.current()
    monkeypatch.setattr(module, "analysis", lambda: "another analysis")
    assert not sparse.current()
    sparse.reanalyse()
    assert sparse.current() and (dict(sparse.stats().df), sparse.keyword("ferry", 5)) == before


@pytest.fixture
def indexed(tmp_path, fake_config):
    """A private copy of the corpus and of the session's fake index."""
    corpus = shutil.copytree(fake_config.paths.corpus_dir, tmp_path / "corpus")
    index_dir = shutil.copytree(fake_config.paths.index_dir, tmp_path / "index")
    return fake_config.with_(corpus_dir=corpus, index_dir=index_dir)


def sparse_files(config) -> set[str]:
    return {p.name for p in config.paths.index_dir.glob("*.sparse.sqlite3")}


def test_a_rebuild_switches_the_sparse_file_with_the_generation(indexed):
    question = "What did the harbour master say about the ferry timetable?"
    before = Service(indexed)
    assert sparse_files(indexed) == {"news.sparse.sqlite3"}
    assert before.ask(question).answerable is False
    (indexed.paths.corpus_dir / "ferry.txt").write_text(FERRY, encoding="utf-8")

    summary = Service(indexed).index(rebuild=True)
    assert summary.embedded_chunks == summary.chunks and summary.documents == 6
    assert sparse_files(indexed) == {"news_1.sparse.sqlite3"}  # the retired generation's file is gone
    answer = before.ask(question)  # the running service reloads on the marker
    assert answer.answerable and answer.citations[0].doc_id == "ferry"
    assert "ferry" in {s.doc_id for s in before.sources()}


def test_a_missing_or_behind_file_is_brought_in_step_from_chroma(indexed):
    question = "Who led the Russian delegation?"
    expected = [(p.chunk_id, p.start, p.end) for p in Service(indexed).retrieve(question, 5)]
    stats = Service(indexed).search_index.stats
    (indexed.paths.index_dir / "news.sparse.sqlite3").unlink()

    again = Service(indexed)  # a reader: brings the file in step, embeds nothing
    assert [(p.chunk_id, p.start, p.end) for p in again.retrieve(question, 5)] == expected
    assert again.search_index.stats.chunks == stats.chunks and dict(again.search_index.stats.df) == dict(stats.df)

    # Killed between Chroma's commit and the file's: the next index run completes the file.
    index = again.store.open(again.embedder.name)
    index.sparse.remove_documents(["wsj-diplomatic-defeat-for-putin"])
    assert not index.in_step()
    summary = Service(indexed).index()
    assert summary.embedded_chunks == 0 and summary.unchanged == 5
    assert index.in_step() and index.sparse.chunk_total() == stats.chunks


def test_an_unchanged_reindex_reads_no_chunk_records(indexed, monkeypatch):
    from chromadb.api.models.Collection import Collection

    calls: list[tuple[str, dict]] = []
    original = Collection.get

    def recorded(self, *args, **kwargs):
        calls.append((self.name, kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "get", recorded)
    summary = Service(indexed).index()
    assert summary.unchanged == 5 and not summary.added and not summary.removed
    assert [name for name, _ in calls if name.endswith("_docs")]  # the recording works
    assert [name for name, _ in calls if name.endswith("_chunks")] == []


def test_documents_are_read_by_id_and_listed_without_texts(indexed):
    service = Service(indexed)
    search = service.search_index
    assert len(search.documents) == 5 and sorted(search.documents) == sorted(s.doc_id for s in service.sources())
    doc = search.documents["wsj-diplomatic-defeat-for-putin"]
    assert doc.text and service.document("wsj-diplomatic-defeat-for-putin").text == doc.text
    assert service.document("nope") is None and "nope" not in search.documents
    assert sum(s.chunks for s in service.sources()) == search.stats.chunks == search.sparse.chunk_total()


def test_a_file_of_an_older_shape_or_no_database_at_all_is_made_again(indexed):
    question = "Who led the Russian delegation?"
    expected = [p.chunk_id for p in Service(indexed).retrieve(question, 5)]
    path = indexed.paths.index_dir / "news.sparse.sqlite3"

    SparseIndex.delete_files(path)
    old = sqlite3.connect(path)  # an earlier release's chunks table, without the columns indexed now
    old.execute("CREATE TABLE chunks(id INTEGER PRIMARY KEY, chunk_id TEXT, doc_id TEXT, version TEXT, text TEXT)")
    old.execute("INSERT INTO chunks(chunk_id, doc_id, version, text) VALUES ('x', 'y', '1', 'stale')")
    old.commit()
    old.close()
    assert [p.chunk_id for p in Service(indexed).retrieve(question, 5)] == expected

    SparseIndex.delete_files(path)
    path.write_bytes(b"not a database " * 500)
    assert [p.chunk_id for p in Service(indexed).retrieve(question, 5)] == expected
