"""The keyword index, the read model and the corpus statistics of one index generation, in SQLite.

Beside Chroma (vectors, and the records everything else can be rebuilt from) each generation has
one file, `<index folder>/<collection>[_<generation>].sparse.sqlite3`, kept in step by
`StoredIndex` (rag/backends/store.py) through the same domain operations:

- `chunks`: every chunk put (document, version, character span, text, keyword tokens);
- `keyword_base`, `keyword_delta`: BM25 postings;
- `documents`: each committed document version (metadata, cleaned text, parsed day, chunk count);
- `vocabulary`, `source_terms`: chunk frequencies for BM25 and the corpus statistics answering uses
  (rag/retrieval/stats.py), updated when a version is committed or removed, so opening an index
  computes nothing.

A chunk counts only while its version is the one committed in `documents`, as in Chroma, so an
interrupted indexing run shows no half document here either.

Keyword search is the BM25 that llama-index's `BM25Retriever` (bm25s) computed in memory, from disk:
the same tokens (lowercase, `\\w\\w+`, English stopwords out, Snowball English stems), the same Lucene
scoring (k1 1.5, b 0.75) over the committed chunks. Postings are read per query term only: one
blob per term (`keyword_base`, rebuilt by `compact`) plus rows for the chunks put since
(`keyword_delta`), scored with numpy. SQLite's FTS5 was measured first: the same recall, but its
`bm25()` scores every chunk that holds any query word (a median of 34,000 of 57,500 chunks for a
news question), 38 ms a query at that size against 1.6 ms here; benchmarks/README.md, "Sparse engine".

WAL mode: any number of processes on the machine read while the one that indexes writes (the index
lock in rag/ingest/locks.py keeps writers to one). The file must be on a local disk: SQLite's
locking is not reliable on network file systems.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import sqlite3
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.retrieval.dates import parse_published
from rag.retrieval.stats import CorpusStats, chunk_terms, source_names, title_terms
from rag.text import stopwords, terms
from rag.types import Document

# Bump when the tables change: a file with another schema is emptied and filled again from Chroma.
SCHEMA = "1"
BATCH = 500  # ids per statement, well under SQLite's limit on bound parameters
K1, B = 1.5, 0.75  # bm25s's defaults, as BM25Retriever used them
MAX_QUERY_TERMS = 128  # distinct words of a query that count (a 2,000-character question has about 200)
# `compact` when the chunks put or removed since the last one pass this share of those in the base
# (and this many): rebuilding costs about 5 s at 57,000 chunks, reading the delta grows with it.
COMPACT_SHARE, COMPACT_MIN = 0.1, 500
_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the base postings name removed rows until `compact`
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    version TEXT NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens TEXT NOT NULL,
    length INTEGER NOT NULL,
    in_base INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(doc_id, version, start_char);
CREATE INDEX IF NOT EXISTS chunks_in_delta ON chunks(id) WHERE in_base = 0;
CREATE TABLE IF NOT EXISTS keyword_base(
    id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE, rows BLOB NOT NULL, tfs BLOB NOT NULL, lengths BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS keyword_delta(
    term TEXT NOT NULL, row INTEGER NOT NULL, tf INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (term, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents(
    doc_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    publisher TEXT,
    publisher_key TEXT,
    author TEXT,
    published TEXT,
    url TEXT,
    day TEXT,
    chunks INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_publisher ON documents(publisher_key);
-- Covers the per-search totals and date shares, which would otherwise read every document's text pages.
CREATE INDEX IF NOT EXISTS documents_by_day ON documents(day, published, chunks, tokens);
-- Per term, over committed versions: chunks holding it as answering reads words (`df`), headlines
-- and source names holding it (`refs`), chunks holding it as a keyword token (`keyword_df`).
CREATE TABLE IF NOT EXISTS vocabulary(
    term TEXT PRIMARY KEY, df INTEGER NOT NULL, refs INTEGER NOT NULL, keyword_df INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS source_terms(
    doc_id TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (doc_id, term)
) WITHOUT ROWID;
"""
_DERIVED = ("vocabulary", "source_terms", "keyword_base", "keyword_delta")
_ALL_TABLES = ("chunks", "documents", "meta", *_DERIVED)


@lru_cache(maxsize=1)
def _bm25_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def keyword_tokens(text: str) -> list[str]:
    """What bm25s's tokenizer makes of `text` for llama-index's BM25Retriever: lowercase words of
    two or more word characters, English stopwords removed, then Snowball-stemmed."""
    stop = _bm25_stopwords()
    return _stemmer().stemWords([w for w in _BM25_TOKEN.findall(text.lower()) if w not in stop])


# Hyphens, apostrophes, capitals, digits, question words: a change to how either analysis reads
# words changes what it makes of this.
_PROBE = "Who said the U.S.-led talks' 2nd round wasn't Zelensky's? Children running, ran; naïve café_bar."


@lru_cache(maxsize=1)
def analysis() -> str:
    """A fingerprint of everything the stored tokens and statistics depend on besides the texts:
    when the word lists or the word rules change, the derived tables are recomputed from the texts."""
    parts = [SCHEMA, *sorted(_bm25_stopwords()), "|", *sorted(stopwords()), "|", *keyword_tokens(_PROBE), "|", *terms(_PROBE)]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DocumentInfo:
    """A committed document version's metadata (its text stays on disk until it is read)."""

    doc_id: str
    version: str
    title: str
    source: str
    publisher: str | None
    author: str | None
    published: str | None
    url: str | None
    chunks: int
    day: str | None  # the published day as ISO YYYY-MM-DD, None when the metadata names no day


@dataclass(frozen=True)
class StoredChunk:
    """A committed chunk: its span in its document's cleaned text, and its text."""

    chunk_id: str
    doc_id: str
    version: str
    start: int
    end: int
    text: str
    row: int = 0  # the order it was stored in: earlier chunks have smaller rows


_INFO = "d.doc_id, d.version, d.title, d.source, d.publisher, d.author, d.published, d.url, d.chunks, d.day"


def _info(row: tuple) -> DocumentInfo:
    return DocumentInfo(*row[:10])


class SparseIndex:
    """One generation's SQLite file: writes from the process holding the index lock, reads from
    any thread of any process (each thread gets its own connection)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # A log left by a deleted file would be replayed into the new one.
                self.delete_files(self.path)
            try:
                db = self._connect()
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_NOTADB:
                    raise
                # Not an SQLite file (damaged, or something else at its path): everything in it is
                # copied from the collections, so it starts again empty and is refilled.
                self.delete_files(self.path)
                db = self._connect()
            self._local.db, self._local.depth = db, 0
            with self._guard:
                self._connections.append(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly (`_writing`, `reading`).
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, at worst the last commits lost
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # for a new file: `compact` gives back what it frees
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            try:
                db.executescript(_TABLES)
            except sqlite3.OperationalError as exc:
                if "no such column" not in str(exc):
                    raise
                # Tables of an older schema whose columns this one's indexes name: dropped in one
                # transaction (safe beside other processes' readers), made anew, refilled from Chroma.
                self._drop_tables(db)
                db.executescript(_TABLES)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _drop_tables(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        for table in _ALL_TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (they close with the object too: this is for tests and
        benchmarks that reopen the file at once)."""
        with self._guard:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    @staticmethod
    def delete_files(path: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        # A commit touches hundreds of term pages; readers (one connection per serving thread)
        # keep SQLite's default 2 MB.
        db.execute("PRAGMA cache_size=-16384")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One consistent snapshot for every read inside (nested uses share the outer one), so a
        search never mixes two versions of a document that another process is committing."""
        db = self._db()
        self._local.depth += 1
        if self._local.depth == 1:
            db.execute("BEGIN")
        try:
            yield
        finally:
            self._local.depth -= 1
            if self._local.depth == 0:
                db.execute("COMMIT")

    # Writing: the same operations, in the same order, as on the Chroma collections -------------

    def put_chunks(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        """Store chunks (not yet visible: their version is committed later). A chunk id names its
        document version and text, so one already stored is left as it is."""
        with self._writing() as db:
            known = self._known(db, ids)
            for cid, text, meta in zip(ids, texts, metadatas):
                if cid in known:
                    continue
                known.add(cid)
                tokens = keyword_tokens(text or "")
                row = db.execute(
                    "INSERT INTO chunks(chunk_id, doc_id, version, start_char, end_char, text, tokens, length) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (cid, meta["doc_id"], meta["version"], int(meta.get("start", 0)), int(meta.get("end", 0)),
                     text or "", " ".join(tokens), len(tokens)),
                ).lastrowid
                db.executemany(
                    "INSERT INTO keyword_delta(term, row, tf, length) VALUES (?, ?, ?, ?)",
                    [(term, row, tf, len(tokens)) for term, tf in Counter(tokens).items()],
                )

    def commit_document(self, doc_id: str, text: str, metadata: dict) -> None:
        self.commit_documents([(doc_id, text, metadata)])

    def commit_documents(self, documents: Iterable[tuple[str, str, dict]]) -> None:
        """Make each document's `metadata["version"]` its visible version, and count it in the
        statistics in place of the version it replaces (one transaction)."""
        with self._writing() as db:
            for doc_id, text, metadata in documents:
                self._commit(db, doc_id, text, metadata)

    def _commit(self, db: sqlite3.Connection, doc_id: str, text: str, metadata: dict) -> None:
        version = metadata["version"]
        publisher = metadata.get("publisher")
        day = parse_published(metadata.get("published"))
        self._count(db, doc_id, -1)
        chunks, tokens = db.execute(
            "SELECT count(*), coalesce(sum(length), 0) FROM chunks WHERE doc_id = ? AND version = ?", (doc_id, version)
        ).fetchone()
        db.execute(
            "INSERT OR REPLACE INTO documents(doc_id, version, title, source, publisher, publisher_key, author, "
            "published, url, day, chunks, tokens, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_id, version, metadata.get("title", doc_id), metadata.get("source", ""), publisher,
             publisher.lower() if publisher else None, metadata.get("author"), metadata.get("published"),
             metadata.get("url"), day.isoformat() if day else None, chunks, tokens, text or ""),
        )
        self._count(db, doc_id, +1)

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        """Withdraw documents (their chunks stay, invisible, until `remove_chunks`)."""
        with self._writing() as db:
            for doc_id in doc_ids:
                self._count(db, doc_id, -1)
                db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def stale_chunks(self, live: Mapping[str, str]) -> list[str]:
        """Ids of chunks whose (doc_id, version) is not in `live`; reads one row per stored
        version through the index on (doc_id, version), not every chunk's metadata."""
        db = self._db()
        groups = db.execute("SELECT DISTINCT doc_id, version FROM chunks").fetchall()
        stale: list[str] = []
        for doc_id, version in groups:
            if live.get(doc_id) != version:
                stale += [cid for (cid,) in db.execute(
                    "SELECT chunk_id FROM chunks WHERE doc_id = ? AND version = ?", (doc_id, version))]
        return stale

    def remove_chunks(self, ids: list[str]) -> None:
        with self._writing() as db:
            dead = 0
            for start in range(0, len(ids), BATCH):
                part = ids[start : start + BATCH]
                marks = ",".join("?" * len(part))
                for row, tokens, in_base in db.execute(
                    f"SELECT id, tokens, in_base FROM chunks WHERE chunk_id IN ({marks})", part
                ).fetchall():
                    if in_base:
                        dead += 1  # its postings stay in the base blobs, unseen, until `compact`
                    else:
                        db.executemany("DELETE FROM keyword_delta WHERE term = ? AND row = ?",
                                       [(term, row) for term in set(tokens.split())])
                db.execute(f"DELETE FROM chunks WHERE chunk_id IN ({marks})", part)
            if dead:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('dead', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value", (dead,)
                )

    def compact_if_due(self) -> None:
        """`compact` when the chunks put or removed since the last one are many (called at the
        end of an indexing run)."""
        db = self._db()
        # Counted in indexes: `in_base` sits after the text, so reading it row by row reads every text.
        stored = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        delta = db.execute("SELECT count(*) FROM chunks WHERE in_base = 0").fetchone()[0]
        changed = delta + int(self._meta(db, "dead") or 0)
        if changed > max(COMPACT_MIN, COMPACT_SHARE * (stored - delta)):
            self.compact()

    def compact(self) -> None:
        """Rebuild the postings of every stored chunk as one blob per term and empty the delta:
        a query then reads one row per term however many chunks hold it."""
        with self._writing() as db:
            self._compact(db)
        self._give_back()

    def _give_back(self) -> None:
        # executescript runs the pragma to its end; execute would free one page.
        self._db().executescript("PRAGMA incremental_vacuum;")

    @staticmethod
    def _compact(db: sqlite3.Connection) -> None:
        term_ids: dict[str, int] = {}
        owners, rows, tfs, lengths = array("i"), array("i"), array("H"), array("H")
        top = 0
        for row, tokens, length in db.execute("SELECT id, tokens, length FROM chunks ORDER BY id"):
            top = row
            for term, tf in Counter(tokens.split()).items():
                owners.append(term_ids.setdefault(term, len(term_ids)))
                rows.append(row)
                tfs.append(min(tf, 65535))
                lengths.append(min(length, 65535))
        owner = np.frombuffer(owners, dtype=np.int32)
        order = np.argsort(owner, kind="stable")  # by term; rows stay ascending within one
        bounds = np.searchsorted(owner[order], np.arange(len(term_ids) + 1))
        by_term = [np.frombuffer(a, dtype=d)[order] for a, d in ((rows, np.int32), (tfs, np.uint16), (lengths, np.uint16))]
        db.execute("DELETE FROM keyword_base")
        db.execute("DELETE FROM keyword_delta")
        db.executemany(
            "INSERT INTO keyword_base(term, rows, tfs, lengths) VALUES (?, ?, ?, ?)",
            ((term, *(part[bounds[i] : bounds[i + 1]].tobytes() for part in by_term)) for term, i in term_ids.items()),
        )
        db.execute("UPDATE chunks SET in_base = 1 WHERE in_base = 0")
        db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [("dead", "0"), ("base_top", str(top))])

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _known(self, db: sqlite3.Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            found.update(cid for (cid,) in db.execute(
                f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})", part))
        return found

    def known_chunk_ids(self, ids: list[str]) -> set[str]:
        return self._known(self._db(), ids)

    def versions(self) -> dict[str, str]:
        """Committed version per document."""
        return dict(self._db().execute("SELECT doc_id, version FROM documents"))

    def current(self) -> bool:
        """Whether the stored tokens and statistics were made by this code's analysis."""
        return self._meta(self._db(), "analysis") == analysis()

    def reanalyse(self) -> None:
        """Recompute every chunk's tokens, the postings and the statistics from the stored texts
        (when the word lists changed, or for a new file)."""
        with self._writing() as db:
            for table in _DERIVED:
                db.execute(f"DELETE FROM {table}")
            for row, text in db.execute("SELECT id, text FROM chunks").fetchall():
                tokens = keyword_tokens(text)
                db.execute("UPDATE chunks SET tokens = ?, length = ? WHERE id = ?", (" ".join(tokens), len(tokens), row))
            for doc_id, version in db.execute("SELECT doc_id, version FROM documents").fetchall():
                db.execute(
                    "UPDATE documents SET tokens = (SELECT coalesce(sum(length), 0) FROM chunks WHERE doc_id = ? AND version = ?) "
                    "WHERE doc_id = ?", (doc_id, version, doc_id),
                )
                self._count(db, doc_id, +1)
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('analysis', ?)", (analysis(),))
            self._compact(db)
        self._give_back()

    def clear(self) -> None:
        """Make every table anew, empty, in this schema's shape (a file of another schema is refilled
        from Chroma)."""
        db = self._db()
        self._drop_tables(db)
        db.executescript(_TABLES)

    def schema(self) -> str | None:
        return self._meta(self._db(), "schema")

    def mark_schema(self) -> None:
        with self._writing() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA,))

    def _count(self, db: sqlite3.Connection, doc_id: str, sign: int) -> None:
        """Add (+1) or take away (-1) the committed version of `doc_id` in the statistics: each of
        its chunks counts once for each term it holds; its headline and source names are known."""
        row = db.execute(
            "SELECT version, title, publisher, author FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return
        version, title, publisher, author = row
        df: Counter[str] = Counter()
        keyword_df: Counter[str] = Counter()
        for text, tokens in db.execute("SELECT text, tokens FROM chunks WHERE doc_id = ? AND version = ?", (doc_id, version)):
            df.update(chunk_terms(text))
            keyword_df.update(set(tokens.split()))
        names = source_names(publisher, author)
        refs = title_terms(title) | names
        touched = df.keys() | refs | keyword_df.keys()
        # One row per term for all three counts: the two analyses mostly make the same stems, and
        # each row a commit touches is a page written.
        db.executemany(
            "INSERT INTO vocabulary(term, df, refs, keyword_df) VALUES (?, ?, ?, ?) ON CONFLICT(term) DO UPDATE SET "
            "df = df + excluded.df, refs = refs + excluded.refs, keyword_df = keyword_df + excluded.keyword_df",
            [(term, sign * df[term], sign * (term in refs), sign * keyword_df[term]) for term in touched],
        )
        if sign > 0:
            db.executemany("INSERT OR IGNORE INTO source_terms(doc_id, term) VALUES (?, ?)", [(doc_id, t) for t in names])
        else:
            db.executemany("DELETE FROM vocabulary WHERE term = ? AND df <= 0 AND refs <= 0 AND keyword_df <= 0",
                           [(t,) for t in touched])
            db.execute("DELETE FROM source_terms WHERE doc_id = ?", (doc_id,))

    # Reading ----------------------------------------------------------------------------------

    def keyword(self, query: str, n: int) -> list[str]:
        """Ids of the `n` committed chunks that best match `query` by BM25, best first (ties by
        the order they were stored in)."""
        return [chunk_id for chunk_id, _ in self.keyword_scored(query, n)]

    def keyword_scored(self, query: str, n: int) -> list[tuple[str, float]]:
        """`keyword`, each id with its BM25 score."""
        tokens = keyword_tokens(query)
        if not tokens or n <= 0:
            return []
        db = self._db()
        chunks, length = db.execute("SELECT coalesce(sum(chunks), 0), coalesce(sum(tokens), 0) FROM documents").fetchone()
        if not chunks:
            return []
        average = max(length / chunks, 1e-9)
        top = max(db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0], int(self._meta(db, "base_top") or 0))
        scores = np.zeros(top + 1, dtype=np.float32)
        # A word the query repeats counts again, as in bm25s. Only the first MAX_QUERY_TERMS
        # distinct words are looked up: each costs a query and a pass over its postings.
        for term, times in itertools.islice(Counter(tokens).items(), MAX_QUERY_TERMS):
            found = db.execute("SELECT keyword_df FROM vocabulary WHERE term = ? AND keyword_df > 0", (term,)).fetchone()
            if not found:
                continue
            idf = times * math.log(1 + (chunks - found[0] + 0.5) / (found[0] + 0.5))
            for rows, tfs, lengths in self._postings(db, term):
                scores[rows] += idf * tfs / (K1 * (1 - B + B * lengths / average) + tfs)
        matched = np.flatnonzero(scores)
        # Best first; the base may still hold removed chunks, and either part chunks of versions
        # not committed, so read further down the ranking until `n` visible ones are found.
        out: list[tuple[str, float]] = []
        seen, limit = 0, max(2 * n, 50)
        while True:
            best = matched if limit >= len(matched) else matched[np.argpartition(-scores[matched], limit)[:limit]]
            part = best[np.lexsort((best, -scores[best]))][seen:].tolist()
            visible = dict(db.execute(
                "SELECT c.id, c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id AND d.version = c.version "
                f"WHERE c.id IN ({','.join('?' * len(part))})", part,
            )) if part else {}
            out += [(visible[row], float(scores[row])) for row in part if row in visible]
            if len(out) >= n or limit >= len(matched):
                return out[:n]
            seen, limit = seen + len(part), limit * 4

    @staticmethod
    def _postings(db: sqlite3.Connection, term: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(chunk rows, term frequencies, chunk lengths) of one term: its base blob, then the delta."""
        base = db.execute("SELECT rows, tfs, lengths FROM keyword_base WHERE term = ?", (term,)).fetchone()
        if base:
            yield (np.frombuffer(base[0], dtype=np.int32), np.frombuffer(base[1], dtype=np.uint16).astype(np.float32),
                   np.frombuffer(base[2], dtype=np.uint16).astype(np.float32))
        delta = db.execute("SELECT row, tf, length FROM keyword_delta WHERE term = ?", (term,)).fetchall()
        if delta:
            found = np.array(delta, dtype=np.int64)
            yield found[:, 0], found[:, 1].astype(np.float32), found[:, 2].astype(np.float32)

    def chunks(self, ids: Iterable[str]) -> dict[str, tuple[StoredChunk, DocumentInfo]]:
        """The committed chunks among `ids`, each with its document's metadata."""
        ids = list(dict.fromkeys(ids))
        out: dict[str, tuple[StoredChunk, DocumentInfo]] = {}
        db = self._db()
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            rows = db.execute(
                f"SELECT c.chunk_id, c.doc_id, c.version, c.start_char, c.end_char, c.text, c.id, {_INFO} "
                "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id AND d.version = c.version "
                f"WHERE c.chunk_id IN ({','.join('?' * len(part))})",
                part,
            )
            for row in rows:
                out[row[0]] = (StoredChunk(*row[:7]), _info(row[7:]))
        return out

    def spans(self, doc_id: str, version: str) -> list[tuple[int, int]]:
        """(start, end) of each chunk of one document version, in text order."""
        return list(self._db().execute(
            "SELECT start_char, end_char FROM chunks WHERE doc_id = ? AND version = ? ORDER BY start_char, id",
            (doc_id, version),
        ))

    def document(self, doc_id: str, version: str | None = None) -> Document | None:
        """The committed document (with its cleaned text), or None; with `version`, only that one."""
        row = self._db().execute(
            f"SELECT {_INFO}, d.text FROM documents d WHERE d.doc_id = ?"
            + (" AND d.version = ?" if version is not None else ""),
            (doc_id,) if version is None else (doc_id, version),
        ).fetchone()
        if row is None:
            return None
        info = _info(row)
        return Document(
            doc_id=info.doc_id, text=row[10], title=info.title, source=info.source, content_hash=info.version,
            publisher=info.publisher, author=info.author, published=info.published, url=info.url,
        )

    def document_infos(self) -> list[DocumentInfo]:
        """Every committed document's metadata, by id."""
        return [_info(row) for row in self._db().execute(f"SELECT {_INFO} FROM documents d ORDER BY d.doc_id")]

    def document_ids(self) -> list[str]:
        return [doc_id for (doc_id,) in self._db().execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def document_count(self) -> int:
        return self._db().execute("SELECT count(*) FROM documents").fetchone()[0]

    def chunk_total(self) -> int:
        """How many chunks are visible (of committed versions)."""
        return self._db().execute("SELECT coalesce(sum(chunks), 0) FROM documents").fetchone()[0]

    def chunks_by_day(self) -> list[tuple[str | None, str | None, int]]:
        """(parsed day, `published` as written when no day was parsed, chunk count) per distinct
        pair: what date filters need, a few hundred rows for years of news."""
        return list(self._db().execute(
            "SELECT day, CASE WHEN day IS NULL THEN published END AS written, sum(chunks) "
            "FROM documents GROUP BY day, written"
        ))

    def publisher_spellings(self, publisher: str) -> list[str]:
        """How the stored documents spell the outlet `publisher` (matched without regard to case)."""
        return sorted(p for (p,) in self._db().execute(
            "SELECT DISTINCT publisher FROM documents WHERE publisher_key = ?", (publisher.lower(),)))

    def stats(self) -> CorpusStats:
        """Corpus statistics for answering: term lookups go to the file; the source names of every
        document (a few terms each) are read now."""
        db = self._db()
        named: dict[str, set[str]] = {}
        for doc_id, term in db.execute("SELECT doc_id, term FROM source_terms"):
            named.setdefault(doc_id, set()).add(term)
        source_terms = {doc_id: frozenset(named.get(doc_id, ())) for doc_id in self.document_ids()}
        return CorpusStats(self.chunk_total(), TermCounts(self), KnownTerms(self), source_terms)

    def df(self, term: str) -> int:
        row = self._db().execute("SELECT df FROM vocabulary WHERE term = ?", (term,)).fetchone()
        return row[0] if row else 0

    def known(self, term: str) -> bool:
        return self._db().execute(
            "SELECT 1 FROM vocabulary WHERE term = ? AND (df > 0 OR refs > 0)", (term,)).fetchone() is not None


class TermCounts(Mapping[str, int]):
    """Chunk frequency per term, looked up in the file."""

    def __init__(self, sparse: SparseIndex):
        self._sparse = sparse

    def __getitem__(self, term: str) -> int:
        count = self._sparse.df(term) if isinstance(term, str) else 0
        if count <= 0:
            raise KeyError(term)
        return count

    def __iter__(self) -> Iterator[str]:
        return (term for (term,) in self._sparse._db().execute("SELECT term FROM vocabulary WHERE df > 0"))

    def __len__(self) -> int:
        return self._sparse._db().execute("SELECT count(*) FROM vocabulary WHERE df > 0").fetchone()[0]


class KnownTerms:
    """`term in known_terms`: whether any chunk, headline or source name holds the term."""

    def __init__(self, sparse: SparseIndex):
        self._sparse = sparse

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._sparse.known(term)
