"""Incremental, crash-safe indexing: documents -> chunks -> embeddings -> Chroma, as a pipeline.

The embedder is the bottleneck, so everything else runs beside it, in bounded steps that keep
memory flat in the corpus size:
1. a reader thread takes documents as the corpus gives them (each file loaded in a worker
   process, rag/ingest/isolation.py; unchanged files not even read, rag/ingest/corpus.py), passes
   over unchanged ones and splits the rest into chunks, at most `QUEUED_DOCUMENTS` ahead;
2. this thread gathers the chunks of many documents into a window of about `WINDOW_CHUNKS`,
   sorts them by length (the embedder pads a batch to its longest text) and embeds them batch
   by batch;
3. a writer thread stores each window's chunks in one upsert, then commits its documents in one more.

Per changed document: (1) its new chunks are stored (ids derived from content, so a re-run after
a crash re-embeds nothing it already stored), (2) its record in the docs collection is written
once all its chunks are stored, which commits the new version, (3) the chunks of older versions
are deleted at the end of the run. Queries only see committed versions, so killing the process
at any point leaves an index that still answers, and the next run finishes the job.

An unchanged corpus opens no store (rag/ingest/settled.py): checked against the SQLite file first.

A rebuild indexes everything into a new generation of collections while the live one keeps
answering, switches readers to it with one write, then deletes the old one (`rag/backends/store.py`). A
rebuild killed before the switch leaves the old index live, one killed after it the new one; either
way the next run deletes what is left of the other.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from rag.backends.embeddings import Embedder
from rag.backends.store import Store, StoredIndex
from rag.config import Config
from rag.ingest.chunking import Chunker
from rag.ingest import settled
from rag.ingest.corpus import Corpus, Known
from rag.ingest.locks import index_lock, mark_changed
from rag.types import Chunk, Document, IndexSummary

Progress = Callable[[int, int], None]  # (chunks done, chunks to do: an estimate until the corpus is read)

DOC_FIELDS = ("title", "source", "publisher", "author", "published", "url")
# Sorting 512 chunks by length leaves as little padding as sorting the whole corpus, and their
# upsert costs a tenth of 50 upserts of ten (embedded Chroma writes a transaction per call).
WINDOW_CHUNKS = 512
# Once everything is read, smaller windows: the last one's write and commits are the only ones
# nothing overlaps, and with 512 chunks they took a second and a half.
LAST_WINDOWS_CHUNKS = 64
QUEUED_DOCUMENTS = 64  # how far reading may run ahead of embedding
PUT_BATCH = 1000  # well under Chroma's maximum batch
DEFAULT_BATCH = 32  # texts per embedding call, for an embedder that does not say


_version_of = settled.version_of


def _meta(doc: Document) -> dict:
    # Chroma metadata values cannot be None.
    return {key: getattr(doc, key) for key in DOC_FIELDS if getattr(doc, key) is not None}


def update_index(
    config: Config,
    store: Store,
    embedder: Embedder,
    documents: Iterable[Document],
    rebuild: bool = False,
    progress: Progress | None = None,
    summary: IndexSummary | None = None,
) -> IndexSummary:
    """Bring the index up to date with `documents` (a `Corpus` is read as it goes and its
    unchanged files are skipped unread); documents not among them are removed."""
    started = time.perf_counter()
    summary = summary or IndexSummary()
    with index_lock(config):
        if not rebuild and isinstance(documents, Corpus) and settled.unchanged(config, documents, summary):
            summary.seconds = time.perf_counter() - started
            return summary
        settled.forget(config)  # until this run completes
        if store.remove_leftovers():
            mark_changed(config)  # a reader may still hold the generation a killed rebuild retired
        building = store.start_generation() if rebuild else None
        index = store.open(embedder.name, create=True, generation=building)
        run = _Run(config, index, embedder, summary, progress)
        run.run(documents)

        removed = [doc_id for doc_id in run.committed if doc_id not in run.live]
        index.remove_documents(removed)
        summary.removed.extend(removed)
        index.remove_stale_chunks(run.live)
        summary.documents = len(run.live)
        summary.chunks = index.chunk_count()
        if building is None:
            if summary.added or summary.updated or summary.removed:
                mark_changed(config)
        else:
            store.make_live(building)
            mark_changed(config)
            store.remove_leftovers()  # the old generation, once readers have been told to reload
        if isinstance(documents, Corpus):
            documents.save_manifest()
            settled.record(config, store.sparse_path(store.live_generation()), summary.chunks)
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Planned:
    """A changed document and its chunks, on its way to the embedder."""

    doc: Document
    version: str
    chunks: list[Chunk]


@dataclass
class _Window:
    """Documents embedded together, and the chunks of theirs that the index does not hold yet."""

    planned: list[_Planned]
    ids: list[str] = field(default_factory=list)
    vectors: list = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)


class _Cancelled(Exception):
    """The consumer of a channel has stopped."""


class _Channel:
    """A bounded queue from one thread to another that also carries the end of the stream (or
    the exception that ended it) and lets the consumer stop the producer."""

    _END = object()

    def __init__(self, size: int):
        self._queue: queue.Queue = queue.Queue(size)
        self._cancelled = threading.Event()
        self._ended = False
        self.error: BaseException | None = None  # why the consumer stopped

    def put(self, item) -> None:
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def close(self, error: BaseException | None = None) -> None:
        try:
            self.put((self._END, error))
        except _Cancelled:
            pass

    def cancel(self, error: BaseException | None = None) -> None:
        self.error = self.error or error
        self._cancelled.set()

    def get(self, wait: bool = True):
        """The next item; None at the end, or (when not `wait`) when nothing is ready."""
        if self._ended:
            return None
        try:
            item = self._queue.get(block=wait)
        except queue.Empty:
            return None
        if isinstance(item, tuple) and item and item[0] is self._END:
            self._ended = True
            if item[1] is not None:
                raise item[1]
            return None
        return item


class _Run:
    """One indexing run's pipeline: read and chunk (a thread), embed (the caller's thread), write (a thread)."""

    def __init__(self, config: Config, index: StoredIndex, embedder: Embedder, summary: IndexSummary,
                 progress: Progress | None):
        self.config, self.index, self.embedder, self.summary = config, index, embedder, summary
        self.progress = progress
        self.committed = index.committed_versions()
        self.live: dict[str, str] = {}  # every document of the corpus: its current version
        self.planned_chunks = 0  # chunks of changed documents read so far
        self.all_read = False
        self.done = 0
        self.read_fraction: Callable[[], float] = lambda: 0.0

    def run(self, documents: Iterable[Document]) -> None:
        if isinstance(documents, Corpus):
            stream: Iterator[Document | Known] = documents.read(known=self._holds)
            self.read_fraction = documents.fraction_read
        else:
            stream = iter(documents)
            if hasattr(documents, "__len__"):
                live, expected = self.live, max(len(documents), 1)  # not `self`: no cycle keeping the store open
                self.read_fraction = lambda: len(live) / expected
        planned = _Channel(QUEUED_DOCUMENTS)
        windows = _Channel(1)
        reader = threading.Thread(target=self._read, args=(stream, planned), name="index-reader", daemon=True)
        writer = threading.Thread(target=self._write_all, args=(windows,), name="index-writer", daemon=True)
        reader.start()
        writer.start()
        try:
            for window in self._windows(planned):
                self._embed(window)
                windows.put(window)
        except _Cancelled:
            pass  # the writer failed: its error is raised below
        finally:
            planned.cancel()
            windows.close()
            writer.join()
        if windows.error is not None:
            raise windows.error
        reader.join()
        if self.progress:
            self.progress(self.done, self.done)

    def _holds(self, doc_id: str, content_hash: str) -> bool:
        return self.committed.get(doc_id) == _version_of(content_hash, self.config)

    # 1. Reading and chunking (the reader thread) --------------------------------------------

    def _read(self, stream: Iterator[Document | Known], out: _Channel) -> None:
        chunker = None  # loading the splitter costs a second: only when something changed
        try:
            for item in stream:
                version = _version_of(item.content_hash, self.config)
                self.live[item.doc_id] = version
                if isinstance(item, Known) or self.committed.get(item.doc_id) == version:
                    self.summary.unchanged += 1
                    continue
                chunker = chunker or Chunker(self.config)
                chunks = chunker.split(item)
                self.planned_chunks += len(chunks)
                out.put(_Planned(item, version, chunks))
            self.all_read = True
            out.close()
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the embedding thread, which raises it
            out.close(exc)
        finally:
            if hasattr(stream, "close"):
                stream.close()  # a corpus stops its loader process

    # 2. Embedding (the caller's thread) -----------------------------------------------------

    def _windows(self, planned: _Channel) -> Iterator[_Window]:
        """Windows of about WINDOW_CHUNKS chunks (LAST_WINDOWS_CHUNKS at the end); a smaller one
        rather than waiting for the reader."""
        while True:
            first = planned.get()
            if first is None:
                return
            window = [first]
            size = len(first.chunks)
            while size < (LAST_WINDOWS_CHUNKS if self.all_read else WINDOW_CHUNKS):
                item = planned.get(wait=False)
                if item is None:
                    break
                window.append(item)
                size += len(item.chunks)
            yield _Window(window)

    def _embed(self, window: _Window) -> None:
        pieces = [(p, c) for p in window.planned for c in p.chunks]
        present = self.index.stored_chunk_ids([c.chunk_id for _, c in pieces])
        missing = [(p, c) for p, c in pieces if c.chunk_id not in present]
        updated = {p.doc.doc_id: p.doc for p, _ in missing if p.doc.doc_id in self.committed}
        reusable = {doc_id: self._stored_vectors(doc) for doc_id, doc in updated.items()}
        fresh = [i for i, (p, c) in enumerate(missing) if c.text not in reusable.get(p.doc.doc_id, {})]
        self._advance(len(pieces) - len(fresh))

        texts = {i: Chunker.embedding_text(missing[i][0].doc, missing[i][1]) for i in fresh}
        by_length = sorted(fresh, key=lambda i: len(texts[i]))
        vectors: dict[int, np.ndarray] = {}
        batch = getattr(self.embedder, "batch_size", DEFAULT_BATCH)  # extra embedders may not say
        for start in range(0, len(by_length), batch):
            part = by_length[start : start + batch]
            vectors.update(zip(part, self.embedder.embed([texts[i] for i in part])))
            self._advance(len(part))
        self.summary.embedded_chunks += len(fresh)

        for i, (p, c) in enumerate(missing):
            window.ids.append(c.chunk_id)
            window.vectors.append(vectors[i] if i in vectors else reusable[p.doc.doc_id][c.text])
            window.texts.append(c.text)
            window.metadatas.append({**_meta(p.doc), "doc_id": p.doc.doc_id, "version": p.version,
                                     "start": c.start, "end": c.end})

    def _stored_vectors(self, doc: Document) -> dict:
        """Vectors already stored for this document's chunks, by chunk text: an edit re-embeds only
        the chunks it touched. Only valid while the headline (part of the embedded text) is the same."""
        stored = self.index.chunks_of(doc.doc_id)
        return {text: vector for text, meta, vector in stored if meta.get("title") == doc.title}

    def _advance(self, chunks: int) -> None:
        self.done += chunks
        if self.progress:
            self.progress(self.done, self._total())

    def _total(self) -> int:
        """Chunks to embed in all: those read so far, extrapolated over what is left to read."""
        planned, fraction = self.planned_chunks, self.read_fraction()
        return max(planned, round(planned / fraction)) if 0 < fraction < 1 else planned

    # 3. Writing (the writer thread) ---------------------------------------------------------

    def _write_all(self, windows: _Channel) -> None:
        try:
            while (window := windows.get()) is not None:
                self._write(window)
        except BaseException as exc:
            windows.cancel(exc)

    def _write(self, window: _Window) -> None:
        for start in range(0, len(window.ids), PUT_BATCH):
            end = start + PUT_BATCH
            self.index.put_chunks(window.ids[start:end], window.vectors[start:end], window.texts[start:end],
                                  window.metadatas[start:end])
        self.index.commit_documents([
            (p.doc.doc_id, p.doc.text, {**_meta(p.doc), "version": p.version, "chunks": len(p.chunks)}) for p in window.planned
        ])
        for p in window.planned:
            (self.summary.updated if p.doc.doc_id in self.committed else self.summary.added).append(p.doc.doc_id)
