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

import time
from collections.abc import Callable

from rag.ingest.chunking import Chunker
from rag.ingest.locks import index_lock, mark_changed
from rag.config import Config
from rag.backends.embeddings import Embedder
from rag.backends.store import Store, StoredIndex
from rag.types import Chunk, Document, IndexSummary

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)

DOC_FIELDS = ("title", "source", "publisher", "author", "published", "url")


def _version(doc: Document, config: Config) -> str:
    """What must match for a stored document to count as unchanged."""
    return f"{doc.content_hash[:32]}:{config.ingest.chunk_tokens}:{config.ingest.chunk_overlap}"


def _meta(doc: Document) -> dict:
    # Chroma metadata values cannot be None.
    return {key: getattr(doc, key) for key in DOC_FIELDS if getattr(doc, key) is not None}


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
