"""An unchanged corpus is known without opening the store.

A run that completed over an embedded index leaves a note in the index folder
(`.<collection>.settled.json`: the live generation's SQLite file, the embedding model setting and
the chunk count); a run deletes it before it changes anything, so a run that did not complete
leaves none. `unchanged` compares the corpus's document versions, taken from the file manifest
(unchanged files are not read), with the versions in that SQLite file: when they are the same,
nothing needs indexing, and neither Chroma (whose import and opening cost about a second) nor the
embedder is touched. Any difference, a missing note or a file that must be read sends the caller
down the whole path. A Chroma server gets no note: another machine may write it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rag.config import Config
from rag.ingest.corpus import Corpus
from rag.types import IndexSummary


def version_of(content_hash: str, config: Config) -> str:
    """What must match for a stored document to count as unchanged."""
    return f"{content_hash[:32]}:{config.ingest.chunk_tokens}:{config.ingest.chunk_overlap}"


def note_path(config: Config) -> Path:
    return config.paths.index_dir / f".{config.paths.collection}.settled.json"


def forget(config: Config) -> None:
    """Before a run changes anything (under the index lock)."""
    note_path(config).unlink(missing_ok=True)


def record(config: Config, sparse_file: Path, chunks: int) -> None:
    """After a run completed (under the index lock)."""
    if config.chroma.chroma_host:
        return
    note_path(config).write_text(json.dumps({
        "sparse": str(sparse_file), "embed_model": config.embeddings.embed_model, "chunks": chunks}))


def unchanged(config: Config, corpus: Corpus, summary: IndexSummary) -> bool:
    """Whether `corpus` is exactly what the last completed run indexed; fills `summary` when it
    is. Reads no file: one that changed (or is new) means no. Call it holding the index lock."""
    if config.chroma.chroma_host:
        return False
    try:
        note = json.loads(note_path(config).read_text(encoding="utf-8"))
        if note.get("embed_model") != config.embeddings.embed_model:
            return False
        db = sqlite3.connect(f"file:{note['sparse']}?mode=ro", uri=True)
        try:
            committed = dict(db.execute("SELECT doc_id, version FROM documents"))
        finally:
            db.close()
    except (OSError, ValueError, KeyError, TypeError, sqlite3.Error):
        return False
    records = corpus.unchanged(lambda doc_id, content_hash: committed.get(doc_id) == version_of(content_hash, config))
    if records is None:
        return False
    live = {item.doc_id: version_of(item.content_hash, config) for item in records}
    if live != committed:
        return False
    summary.unchanged, summary.documents, summary.chunks = len(live), len(live), int(note.get("chunks", 0))
    return True
