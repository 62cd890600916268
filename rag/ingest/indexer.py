"""Incremental, crash-safe indexing: documents -> chunks -> embeddings -> Chroma.

Per changed document: (1) upsert its new chunks (ids derived from content, so a re-run after a
crash re-embeds nothing it already stored), (2) write its record in the docs collection, which
commits the new version, (3) delete the chunks of older versions. Queries only see committed
versions, so killing the process at any point leaves an index that still answers, and the next
run finishes the job.

A rebuild indexes everything into a new generation of collections while the live one keeps
answering, switches readers to it with one write, then deletes the old one (`rag/backends/store.py`). A
rebuild killed before the switch leaves the old index live, one killed after it the new one; either
way the next run deletes what is left of the other.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from rag.ingest.chunking import Chunker
from rag.config import Config
from rag.backends.embeddings import Embedder
from rag.errors import IndexProblem
from rag.backends.store import Store, StoredIndex
from rag.types import Chunk, Document, IndexSummary

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)

DOC_FIELDS = ("title", "source", "publisher", "author", "published", "url")


def chunk_id(doc: Document, chunk_hash_key: str, start: int, text: str) -> str:
    """Unique per document version, so a new version's chunks never overwrite the committed ones."""
    digest = hashlib.sha1(f"{doc.doc_id}\0{doc.content_hash}\0{chunk_hash_key}\0{start}\0{text}".encode()).hexdigest()
    return digest[:24]


def _version(doc: Document, config: Config) -> str:
    """What must match for a stored document to count as unchanged."""
    return f"{doc.content_hash[:32]}:{config.ingest.chunk_tokens}:{config.ingest.chunk_overlap}"


def _meta(doc: Document) -> dict:
    # Chroma metadata values cannot be None.
    return {key: getattr(doc, key) for key in DOC_FIELDS if getattr(doc, key) is not None}


def generation_file(config: Config) -> Path:
    """Touched after every indexing run that changed something: processes that loaded the index
    (the app) see its new time and reload, so `python -m rag index` shows up without a restart."""
    return config.paths.index_dir / f".{config.paths.collection}.generation"


def mark_changed(config: Config) -> None:
    path = generation_file(config)
    path.write_text(str(time.time()))


def generation(config: Config) -> float:
    try:
        return generation_file(config).stat().st_mtime
    except OSError:
        return 0.0


@contextmanager
def serving(config: Config):
    """Held by the app while it serves an embedded index. Chroma's embedded store is not safe
    across processes, so `python -m rag index` refuses to write while this is held; the app's
    own uploads go through its process and are fine."""
    config.paths.index_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.index_dir / ".serving", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def check_not_served(config: Config) -> None:
    if config.chroma.chroma_host:
        return  # a Chroma server takes writes from any number of processes
    path = config.paths.index_dir / ".serving"
    if not path.exists():
        return
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem(
                f"The app is serving the index in {config.paths.index_dir}: add documents in its Corpus tab, "
                "or stop it and run this again."
            ) from None


@contextmanager
def index_lock(config: Config):
    """One writer at a time per index folder (the app's uploads and the CLI may race)."""
    config.paths.index_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem(f"Another process is indexing into {config.paths.index_dir}; try again when it finishes.") from None
        yield


def update_index(
    config: Config,
    store: Store,
    embedder: Embedder,
    documents: list[Document],
    rebuild: bool = False,
    progress: Progress | None = None,
    summary: IndexSummary | None = None,
) -> IndexSummary:
    started = time.perf_counter()
    summary = summary or IndexSummary()
    with index_lock(config):
        if store.remove_leftovers():
            mark_changed(config)  # a reader may still hold the generation a killed rebuild retired
        building = store.start_generation() if rebuild else None
        index = store.open(embedder.name, create=True, generation=building)
        committed_version = index.committed_versions()

        current = {doc.doc_id: doc for doc in documents}
        todo = [doc for doc in documents if committed_version.get(doc.doc_id) != _version(doc, config)]
        summary.unchanged = len(documents) - len(todo)

        chunker = Chunker(config) if todo else None  # loading the splitter costs a second
        planned: list[tuple[Document, list[Chunk]]] = [(doc, chunker.split(doc)) for doc in todo]
        total = sum(len(p) for _, p in planned)
        done = 0
        if progress:
            progress(0, total)

        for doc, pieces in planned:
            present = index.stored_chunk_ids([c.chunk_id for c in pieces])
            missing = [c for c in pieces if c.chunk_id not in present]
            if missing:
                reusable = _stored_vectors(index, doc) if doc.doc_id in committed_version else {}
                fresh = [c for c in missing if c.text not in reusable]
                embedded = dict(zip((c.chunk_id for c in fresh), embedder.embed([chunker.embedding_text(doc, c) for c in fresh])))
                index.put_chunks(
                    ids=[c.chunk_id for c in missing],
                    vectors=[embedded[c.chunk_id] if c.chunk_id in embedded else reusable[c.text] for c in missing],
                    texts=[c.text for c in missing],
                    metadatas=[
                        {**_meta(doc), "doc_id": doc.doc_id, "version": _version(doc, config), "start": c.start, "end": c.end}
                        for c in missing
                    ],
                )
                summary.embedded_chunks += len(fresh)
            index.commit_document(doc.doc_id, doc.text, {**_meta(doc), "version": _version(doc, config), "chunks": len(pieces)})
            (summary.updated if doc.doc_id in committed_version else summary.added).append(doc.doc_id)
            done += len(pieces)
            if progress:
                progress(done, total)

        removed = [doc_id for doc_id in committed_version if doc_id not in current]
        index.remove_documents(removed)
        summary.removed.extend(removed)
        index.remove_stale_chunks({d.doc_id: _version(d, config) for d in documents})
        summary.documents = len(documents)
        summary.chunks = index.chunk_count()
        if building is None:
            if summary.added or summary.updated or summary.removed:
                mark_changed(config)
        else:
            store.make_live(building)
            mark_changed(config)
            store.remove_leftovers()  # the old generation, once readers have been told to reload
    summary.seconds = time.perf_counter() - started
    return summary


def _stored_vectors(index: StoredIndex, doc: Document) -> dict:
    """Vectors already stored for this document's chunks, by chunk text: an edit re-embeds only
    the chunks it touched. Only valid while the headline (part of the embedded text) is the same."""
    return {text: vector for text, meta, vector in index.chunks_of(doc.doc_id) if meta.get("title") == doc.title}
