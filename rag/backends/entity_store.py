"""Named entities found once, when an article is indexed, and read back when a question needs them.

Reading the ten candidate sentences of a question with spaCy took about 25 ms of a 75 ms ask at
9,000 chunks (benchmarks/README.md). Every sentence is read instead when its article is indexed, in
batches, for about 1.7 ms each (about a quarter more indexing time with MiniLM on 2 cores), and kept in
`<index folder>/entities.sqlite3` by a hash of the sentence's text: a question's sentences are cut
from the same cleaned text with the same splitter, so nearly all are found there, and any that are
not (a window cut mid-sentence, an index from before this store) go to the model as before.

Keys are hashes of text, values offsets and labels: no article text is kept twice, and a removed
article leaves no text behind. Rows are tied to the model that found them; another model (an
upgrade of the package) starts an empty table. Articles not yet read (an index built before this
store, a run cut short, articles another machine put on a shared Chroma server) are read at this
machine's next `index` that changes something; until then their questions read the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.backends.ner import Entity, EntityRecognizer
from rag.text import sentence_spans
from rag.types import Document

ENTITIES_FILE = "entities.sqlite3"
# Sentences per model call while indexing: small enough that a question asked meanwhile (the
# model is shared and takes one call at a time) waits a tenth of a second, not seconds.
READ_BATCH = 64
# A question reads sentences cut from a passage window (a few chunks, about 3,000 characters), so a
# longer "sentence" (a hostile file's text without full stops) is never asked for; spaCy's NER would
# take about 1 GB of memory per 100,000 characters of it.
LONGEST_SENTENCE = 4000
_LOOKUP_BATCH = 500

log = logging.getLogger(__name__)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EntityStore:
    """Sentence entities by sentence text, in one SQLite file beside the index."""

    def __init__(self, path: Path, model: str):
        self.path = path
        self.model = model
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS entities (key BLOB PRIMARY KEY, found TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS articles (doc_id TEXT NOT NULL, version TEXT NOT NULL, "
                       "PRIMARY KEY (doc_id, version))")
            row = db.execute("SELECT value FROM meta WHERE name = 'model'").fetchone()
            if row is None or row[0] != self.model:
                with db:
                    db.execute("DELETE FROM entities")
                    db.execute("DELETE FROM articles")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (self.model,))
            self._db = db
        return self._db

    def found(self, texts: Sequence[str]) -> dict[str, list[Entity]]:
        """The stored entities of those of `texts` that were read before. A question never creates
        the file, and an unreadable one (a read-only or damaged folder) reads as empty: the model
        answers instead."""
        keys = {_key(t): t for t in texts}
        out: dict[str, list[Entity]] = {}
        with self._lock:
            if self._db is None and not self.path.exists():
                return out
            try:
                db = self._connect()
                listed = list(keys)
                for start in range(0, len(listed), _LOOKUP_BATCH):
                    part = listed[start : start + _LOOKUP_BATCH]
                    rows = db.execute(f"SELECT key, found FROM entities WHERE key IN ({','.join('?' * len(part))})", part)
                    for key, found in rows:
                        out[keys[key]] = [Entity(*e) for e in json.loads(found)]
            except (sqlite3.Error, OSError, ValueError, TypeError):
                log.warning("entities store %s unreadable; the entity model reads the sentences", self.path)
                return {}
        return out

    def keep(self, read: Iterable[tuple[str, list[Entity]]]) -> None:
        rows = [(_key(text), json.dumps([[e.start, e.end, e.label] for e in found])) for text, found in read]
        with self._lock:
            db = self._connect()
            with db:
                db.executemany("INSERT OR REPLACE INTO entities VALUES (?, ?)", rows)

    def unread(self, articles: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Those of `articles` ((doc_id, version) pairs: the whole index) whose sentences were not
        all kept yet; articles no longer listed are forgotten."""
        articles = list(articles)
        with self._lock:
            db = self._connect()
            done = set(db.execute("SELECT doc_id, version FROM articles"))
            gone = done - set(articles)
            if gone:
                with db:
                    db.executemany("DELETE FROM articles WHERE doc_id = ? AND version = ?", gone)
        return [a for a in articles if a not in done]

    def mark_read(self, article: tuple[str, str]) -> None:
        with self._lock:
            db = self._connect()
            with db:
                db.execute("INSERT OR IGNORE INTO articles VALUES (?, ?)", article)


class StoredEntities:
    """A recognizer whose answers are looked up in an `EntityStore` first; `read_ahead` fills the
    store from whole articles when they are indexed."""

    def __init__(self, recognizer: EntityRecognizer, store: EntityStore):
        self.recognizer = recognizer
        self.store = store
        self.name = recognizer.name

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        stored = self.store.found(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in stored]
        if missing:
            stored.update(zip(missing, self.recognizer.entities(missing)))
        return [list(stored[t]) for t in texts]

    def read_ahead(self, documents: Iterable[Document]) -> int:
        """Find and keep the entities of every sentence of those `documents` not read before (new
        articles, an index older than this store, a run cut short); the number of sentences read."""
        read = 0
        for doc in documents:
            spans = [(s, e) for s, e in sentence_spans(doc.text) if e - s <= LONGEST_SENTENCE]
            try:
                for start in range(0, len(spans), READ_BATCH):
                    read += self._read([doc.text[s:e] for s, e in spans[start : start + READ_BATCH]])
            except Exception:
                # One article the model cannot read (a "sentence" over spaCy's length limit, say)
                # must not stop the others; it is not tried again, and its questions read the model.
                log.warning("entities of %s could not be read; its questions will read them", doc.doc_id, exc_info=True)
            self.store.mark_read((doc.doc_id, doc.content_hash))
        return read

    def _read(self, sentences: list[str]) -> int:
        known = self.store.found(sentences)
        todo = [s for s in dict.fromkeys(sentences) if s not in known]
        if todo:
            self.store.keep(zip(todo, self.recognizer.entities(todo)))
        return len(todo)


__all__ = ["ENTITIES_FILE", "EntityStore", "StoredEntities"]
