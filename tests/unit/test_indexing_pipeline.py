"""The indexing pipeline on the fake embedder and embedded Chroma: progress, batching across
documents, bounded memory, the commit order that makes a killed run safe, and files not read
again when unchanged."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from rag.backends.embeddings import HashingEmbedder
from rag.backends.store import Store, StoredIndex
from rag.config import Config
from rag.ingest import corpus as corpus_module
from rag.ingest import indexer
from rag.ingest.chunking import Chunker
from rag.ingest.corpus import load_corpus
from rag.ingest.indexer import update_index
from rag.ingest.isolation import LoaderWorker
from rag.service import Service
from rag.types import Document
from tests.conftest import copy_corpus
from tests.unit.conftest import FAKE_PROFILE

WORDS = "harbour ferry council budget timetable islanders vote tunnel bridge winter schedule".split()


class SlowEmbedder(HashingEmbedder):
    """The hashing embedder, slower and recording each call, so the reader runs ahead as it does
    ahead of a real model."""

    def __init__(self, batch_size: int = 8, delay: float = 0.01, fail_after: int | None = None):
        super().__init__()
        self.batch_size = batch_size
        self.delay = delay
        self.fail_after = fail_after
        self.calls: list[list[str]] = []

    def embed(self, texts):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("the embedder failed")
        self.calls.append(list(texts))
        time.sleep(self.delay)
        return super().embed(texts)


def article(number: int, sentences: int = 3) -> Document:
    words = itertools.cycle(WORDS[number % len(WORDS):] + WORDS[: number % len(WORDS)])
    text = " ".join(
        f"Report {number} sentence {s}: the {next(words)} {next(words)} plan was {next(words)} by the council."
        for s in range(sentences)
    )
    name = f"doc-{number:04d}"
    return Document(name, text, f"Report {number}", f"{name}.txt", f"hash-{number}-{sentences}")


@pytest.fixture
def config(tmp_path) -> Config:
    corpus = copy_corpus(tmp_path / "corpus")
    return Config.from_env().with_(**FAKE_PROFILE, corpus_dir=corpus, index_dir=tmp_path / "index")


def stored(config: Config, embed_model: str = "fake:hashing") -> tuple[dict[str, str], dict[str, str]]:
    """(committed version per document, document per stored chunk)."""
    index = Store(config).open(embed_model)
    chunks = {chunk_id: meta["doc_id"] for chunk_id, _, meta, _ in index.chunk_records(vectors=False)}
    return index.committed_versions(), chunks


def test_progress_is_monotone_within_its_estimate_and_ends_at_the_total(config):
    calls: list[tuple[int, int]] = []
    summary = Service(config).index(progress=lambda done, total: calls.append((done, total)))
    assert summary.embedded_chunks == summary.chunks > 0
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and all(done <= total for done, total in calls)
    assert calls[-1] == (summary.chunks, summary.chunks)

    calls.clear()
    again = Service(config).index(progress=lambda done, total: calls.append((done, total)))
    assert again.embedded_chunks == 0 and calls == [(0, 0)]


def test_chunks_of_many_documents_are_embedded_together_sorted_by_length(config):
    documents = [article(n, sentences=1 + n % 3) for n in range(40)]
    embedder = SlowEmbedder(batch_size=16, delay=0.05)
    summary = update_index(config, Store(config), embedder, documents)
    assert summary.embedded_chunks == summary.chunks == sum(len(call) for call in embedder.calls) == 40
    assert len(embedder.calls) <= 8  # one call per document would be 40
    assert all([len(t) for t in call] == sorted(len(t) for t in call) for call in embedder.calls)


def test_reading_runs_only_a_bounded_way_ahead_of_committing(config, monkeypatch):
    monkeypatch.setattr(indexer, "WINDOW_CHUNKS", 8)
    monkeypatch.setattr(indexer, "QUEUED_DOCUMENTS", 4)
    read, committed, ahead = [0], [0], []
    commit = StoredIndex.commit_documents

    def counting_commit(self, documents):
        commit(self, documents)
        committed[0] += len(documents)

    def documents():
        for number in range(300):
            read[0] += 1
            ahead.append(read[0] - committed[0])
            yield article(number, sentences=1)

    monkeypatch.setattr(StoredIndex, "commit_documents", counting_commit)
    summary = update_index(config, Store(config), SlowEmbedder(batch_size=8, delay=0.002), documents())
    assert summary.documents == len(summary.added) == 300
    # the reader's queue and the document it reads, then three windows of one-chunk documents: the
    # one being embedded (or waiting for the writer), the one queued for the writer, the one it writes
    assert max(ahead) <= 4 + 1 + 3 * 8


def test_a_document_is_committed_only_after_all_its_chunks_are_stored(config, monkeypatch):
    events: list[tuple[str, str]] = []
    put, commit = StoredIndex.put_chunks, StoredIndex.commit_documents

    def recording_put(self, ids, vectors, texts, metadatas):
        put(self, ids, vectors, texts, metadatas)
        events.extend(("stored", meta["doc_id"] + "/" + chunk_id) for chunk_id, meta in zip(ids, metadatas))

    def recording_commit(self, documents):
        commit(self, documents)
        events.extend(("committed", doc_id) for doc_id, _, _ in documents)

    monkeypatch.setattr(StoredIndex, "put_chunks", recording_put)
    monkeypatch.setattr(StoredIndex, "commit_documents", recording_commit)
    documents = [article(n, sentences=2 + n % 5) for n in range(30)]
    update_index(config, Store(config), SlowEmbedder(batch_size=4), documents)
    _, chunks = stored(config)
    for position, (kind, doc_id) in enumerate(events):
        if kind == "committed":
            earlier = [name for k, name in events[:position] if k == "stored" and name.startswith(doc_id + "/")]
            before = {name.split("/", 1)[1] for name in earlier}
            assert before == {chunk_id for chunk_id, owner in chunks.items() if owner == doc_id}


@pytest.mark.parametrize("failing", ["embedder", "store"])
def test_a_run_failing_half_way_leaves_whole_documents_and_the_next_run_finishes(config, monkeypatch, failing):
    documents = [article(n, sentences=15 + n % 20) for n in range(60)]
    monkeypatch.setattr(indexer, "WINDOW_CHUNKS", 16)
    embedder = SlowEmbedder(batch_size=4, fail_after=20 if failing == "embedder" else None)
    if failing == "store":
        put = StoredIndex.put_chunks
        calls = []

        def failing_put(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 4:
                raise ConnectionError("the store went away")
            put(self, *args, **kwargs)

        monkeypatch.setattr(StoredIndex, "put_chunks", failing_put)
    with pytest.raises((RuntimeError, ConnectionError)):
        update_index(config, Store(config), embedder, documents)

    versions, chunks = stored(config)
    assert 0 < len(versions) < len(documents)
    chunker = Chunker(config)
    for doc in documents:
        if doc.doc_id in versions:
            held = sorted(c for c, owner in chunks.items() if owner == doc.doc_id)
            assert held == sorted(c.chunk_id for c in chunker.split(doc))

    monkeypatch.undo()
    finished = update_index(config, Store(config), SlowEmbedder(), documents)
    assert len(finished.added) == len(documents) - len(versions)
    assert finished.unchanged == len(versions)
    assert finished.embedded_chunks < finished.chunks


def counted_loads(monkeypatch) -> list[str]:
    loaded: list[str] = []
    load = LoaderWorker.load

    def counting(self, path, *args, **kwargs):
        loaded.append(Path(path).name)
        return load(self, path, *args, **kwargs)

    monkeypatch.setattr(LoaderWorker, "load", counting)
    return loaded


def test_unchanged_files_are_not_read_again(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)
    first = Service(config).index()
    loaded = counted_loads(monkeypatch)

    again = Service(config).index()
    assert loaded == [] and again.unchanged == again.documents == first.documents and again.embedded_chunks == 0

    wsj = config.paths.corpus_dir / "wsj-diplomatic-defeat-for-putin.txt"
    wsj.write_text(wsj.read_text(encoding="utf-8") + "\nA new paragraph about talks in Geneva.\n", encoding="utf-8")
    with (config.paths.corpus_dir / "metadata.yaml").open("a", encoding="utf-8") as sidecar:
        sidecar.write("post-alley-delay-and-distract.txt:\n  author: A. Columnist\n")
    changed = Service(config).index()
    assert sorted(loaded) == ["post-alley-delay-and-distract.txt", "wsj-diplomatic-defeat-for-putin.txt"]
    assert sorted(changed.updated) == ["post-alley-delay-and-distract", "wsj-diplomatic-defeat-for-putin"]

    loaded.clear()
    monkeypatch.setattr(corpus_module, "_fingerprint", lambda: "other loaders")
    assert Service(config).index().embedded_chunks == 0
    assert len(loaded) == first.documents  # another loader version reads everything again


def test_an_unchanged_file_that_gives_no_document_is_listed_as_skipped_without_being_read_again(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)
    empty = config.paths.corpus_dir / "empty-page.html"
    empty.write_text("<html><head><script>var x = 1;</script></head><body></body></html>", encoding="utf-8")
    first = Service(config).index()
    reasons = [s.reason for s in first.skipped if s.source == "empty-page.html"]
    assert reasons
    loaded = counted_loads(monkeypatch)

    again = Service(config).index()
    assert loaded == [] and [s.reason for s in again.skipped if s.source == "empty-page.html"] == reasons

    empty.write_text("<html><body><p>The harbour authority approved a new ferry timetable on Monday.</p></body></html>",
                     encoding="utf-8")
    changed = Service(config).index()
    assert loaded == ["empty-page.html"] and changed.added == ["empty-page"]


def test_a_later_copy_of_an_indexed_text_is_its_duplicate_whatever_its_name(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)
    Service(config).index()
    folder = config.paths.corpus_dir
    text = (folder / "wsj-diplomatic-defeat-for-putin.txt").read_text(encoding="utf-8")
    forged = f"---\ntitle: Forged headline\nurl: https://attacker.example/\n---\n{text}"
    (folder / "0-copy.txt").write_text(forged, encoding="utf-8")
    again = Service(config).index()
    assert again.added == [] and again.removed == [] and again.updated == []
    assert [(d.source, d.reason) for d in again.duplicates] == [
        ("0-copy.txt", "same text as wsj-diplomatic-defeat-for-putin.txt, which was indexed first")
    ]
    # Once the original leaves the corpus, the copy takes its place.
    (folder / "wsj-diplomatic-defeat-for-putin.txt").unlink()
    after = Service(config).index()
    assert after.added == ["0-copy"] and after.removed == ["wsj-diplomatic-defeat-for-putin"]


def test_a_manifest_is_not_trusted_for_versions_the_index_lacks(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)
    first = Service(config).index()
    loaded = counted_loads(monkeypatch)
    rebuilt = Service(config).index(rebuild=True)
    assert len(loaded) == first.documents and rebuilt.embedded_chunks == rebuilt.chunks


def test_recently_modified_files_are_not_recorded(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.5)
    time.sleep(0.6)
    Service(config).index()
    recent = config.paths.corpus_dir / "putin-trump-bail-on-istanbul-talks.txt"
    os.utime(recent)
    documents, _, _ = load_corpus(config.paths.corpus_dir, config=config)
    items = list(documents.read(known=lambda doc_id, version: True))
    assert [item.doc_id for item in items if isinstance(item, Document)] == ["putin-trump-bail-on-istanbul-talks"]


def test_a_corpus_is_read_lazily_and_lists_what_it_skipped_as_it_goes(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("")
    (folder / "b.txt").write_text("The council approved the harbour budget on Monday after a long debate.")
    config = Config.from_env().with_(**FAKE_PROFILE, corpus_dir=folder, index_dir=tmp_path / "index")
    documents, skipped, _ = load_corpus(folder, config=config)
    assert skipped == []
    assert documents  # reads up to the first document
    assert [d.doc_id for d in documents] == ["b"] and [s.source for s in skipped] == ["a.txt"]


def test_an_unchanged_corpus_is_known_without_opening_the_store(config, monkeypatch):
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)
    first = Service(config).index()

    def no_store(self):
        raise AssertionError("Chroma opened for an unchanged corpus")

    with monkeypatch.context() as patched:
        patched.setattr(Store, "client", property(no_store))
        again = Service(config).index()
    assert (again.documents, again.chunks, again.unchanged, again.embedded_chunks) == (
        first.documents, first.chunks, first.documents, 0)

    wsj = config.paths.corpus_dir / "wsj-diplomatic-defeat-for-putin.txt"
    wsj.write_text(wsj.read_text(encoding="utf-8") + "\nA new paragraph about talks in Geneva.\n", encoding="utf-8")
    assert Service(config).index().updated == ["wsj-diplomatic-defeat-for-putin"]  # a change takes the whole path

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    wsj.write_text(wsj.read_text(encoding="utf-8") + "\nAnd one more.\n", encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(indexer._Run, "run", killed)
        with pytest.raises(RuntimeError):
            Service(config).index()
    wsj.write_text(wsj.read_text(encoding="utf-8").replace("\nAnd one more.\n", ""), encoding="utf-8")
    # The corpus is back to what the last completed run indexed, but a run began since: checked in full.
    with monkeypatch.context() as patched:
        patched.setattr(Store, "client", property(no_store))
        with pytest.raises(AssertionError, match="Chroma opened"):
            Service(config).index()
    assert Service(config).index().embedded_chunks == 0
