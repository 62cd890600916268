"""The corpus folder as a stream of documents: every file through the isolated loader, duplicates set aside.

Documents are handed on as their files are read, so a run holds one file's documents at a time,
never the corpus; skipped files and duplicates are listed as they are found.

Unchanged files are not read again. A manifest in the index folder records each file that loaded
cleanly: its size, times and inode, its sidecar fields and the documents it gave (ids and content
hashes), under a fingerprint of the loaders' code. A later run reuses an entry only when all of
that still matches and the index has committed exactly those document versions (the indexer says
which, `read(known=...)`); the file then yields `Known` records instead of documents. Anything else
is read again, so a stale or missing manifest costs time, never correctness.

The manifest is also the record of who holds what: a document id or a text that the index holds
for one file cannot be taken over by another file, whatever the order of their names (`Claims`).
A later file with the same text is a duplicate of the indexed one; a JSONL record whose `id` is
already used is refused; a file whose name-derived id is taken gets its extension appended.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from rag.config import Config
from rag.ingest import cleaning, loading
from rag.ingest.isolation import LoaderWorker
from rag.ingest.loading import content_hash, iter_files, read_sidecar
from rag.types import Document, Skipped

MANIFEST_VERSION = 1
# A file changed again within the timestamp granularity of its first change can keep its size and
# times ("racy git"). Files modified this recently before they were read are not recorded.
RACY_SECONDS = 2.0
PARSER_PACKAGES = ("trafilatura", "pypdf", "PyYAML")


@dataclass(frozen=True)
class Known:
    """A document of an unchanged file whose version the index already holds: not read again."""

    doc_id: str
    content_hash: str


_RECORD_SOURCE = re.compile(r"\.jsonl:\d+$")  # the source of a JSONL record: "file.jsonl:LINE"


@dataclass
class Claims:
    """Which file holds each document id and text: first the files whose documents the index
    holds (from the last run's manifest, for files still in the corpus), then those read earlier
    in this pass. The first indexed wins, not the first in sort order."""

    indexed_ids: dict[str, str] = field(default_factory=dict)  # doc id -> file (relative path)
    indexed_texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # text key -> (file, source)
    ids: dict[str, str] = field(default_factory=dict)  # this pass: doc id -> source
    texts: dict[str, str] = field(default_factory=dict)  # this pass: text key -> source

    def text_holder(self, text_key: str, rel: str) -> str | None:
        """The source of another document that holds this text, if any (file `rel` may re-read its own)."""
        if text_key in self.texts:
            return self.texts[text_key]
        file, source = self.indexed_texts.get(text_key, (rel, ""))
        return source if file != rel else None

    def id_holder(self, doc_id: str, rel: str) -> str | None:
        if doc_id in self.ids:
            return self.ids[doc_id]
        file = self.indexed_ids.get(doc_id, rel)
        return file if file != rel else None

    def place(self, original: str, rel: str, source: str) -> tuple[str | None, str | None]:
        """(the id a document of file `rel` gets, or None and why it gets none). A JSONL record's
        id is its own: a clash refuses it. A file's id comes from its name: a clash appends the
        extension ("story" -> "story.md")."""
        holder = self.id_holder(original, rel)
        if holder is None:
            return original, None
        if _RECORD_SOURCE.search(source):
            return None, f"document id '{original}' is already used by {holder}"
        alternative = f"{original}{Path(rel).suffix}"
        if self.id_holder(alternative, rel) is None:
            return alternative, None
        return None, f"document id '{alternative}' already used"

    def take(self, doc_id: str, text_key: str, source: str) -> None:
        self.ids[doc_id] = source
        self.texts[text_key] = source

    def conflict(self, doc: Document) -> str | None:
        """Why a document from outside the corpus (an upload being checked) would take nothing
        over: its text or its JSONL id is already held. None when it can be added."""
        holder = self.text_holder(content_hash(doc.text), "")
        if holder:
            return f"same text as {holder}, already in the corpus"
        if _RECORD_SOURCE.search(doc.source) and doc.doc_id in self.indexed_ids:
            return f"document id '{doc.doc_id}' is already used by {self.indexed_ids[doc.doc_id]}"
        return None


@dataclass
class _File:
    path: Path
    rel: str
    size: int
    signature: list[int] | None  # size, mtime, ctime, inode; None when it cannot be trusted


class Corpus:
    """The documents under a folder, read lazily: iterate it (once per pass) for `Document`s, or
    `read(known)` for `Document`s and `Known` records of unchanged files. `skipped` and
    `duplicates` fill as it is read; `bool(corpus)` tells whether it gives any document."""

    def __init__(self, folder: Path, max_bytes: int, config: Config):
        self.folder = folder
        self.max_bytes = max_bytes
        self.config = config
        self.skipped: list[Skipped] = []
        self.duplicates: list[Skipped] = []
        self.manifest_path = config.paths.index_dir / f".{config.paths.collection}.files.json"
        self._known: Callable[[str, str], bool] | None = None
        self._pending: Iterator[Document | Known] | None = None
        self._peeked: list[Document | Known] = []
        self._entries: dict[str, dict] = {}
        self._complete = False
        self._bytes_total = 0
        self._bytes_done = 0.0

    def __iter__(self) -> Iterator[Document]:
        for item in self.read():
            if isinstance(item, Document):
                yield item

    def __bool__(self) -> bool:
        # An unchanged file that gave documents will give them again: no need to start reading.
        if self._pending is None:
            files = self._files()
            old = self._old_entries()
            if any(old.get(f.rel, {}).get("stat") == f.signature and old[f.rel]["docs"] for f in files if f.signature):
                return True
            self._pending = self._items(files)
        if not self._peeked:
            first = next(self._pending, None)
            if first is not None:
                self._peeked.append(first)
        return bool(self._peeked)

    def read(self, known: Callable[[str, str], bool] | None = None) -> Iterator[Document | Known]:
        """One pass over the corpus. `known(doc_id, content_hash)`: whether the index holds that
        version; the documents of an unchanged file it holds come as `Known` records."""
        self._known = known
        if self._pending is None:
            self._pending = self._items(self._files())
        pending, peeked = self._pending, self._peeked
        self._pending, self._peeked = None, []
        try:
            yield from peeked
            yield from pending
        finally:
            pending.close()  # stops the loader process when a caller gives up early
            self._known = None  # the caller's, which may hold this corpus (and an open store) in turn

    def unchanged(self, known: Callable[[str, str], bool]) -> list[Known] | None:
        """The `Known` records of the whole corpus when no file needs reading (each unchanged and
        its versions held, as `read` would decide), else None. Reads no file."""
        files = self._files()
        sidecar = read_sidecar(self.folder, self.skipped)
        old = self._old_entries()
        claims = self.claims(present={f.rel for f in files})
        self._known = known
        try:
            records: list[Known] = []
            for file in files:
                entry = old.get(file.rel)
                reused = self._reuse(file, sidecar.get(file.rel, {}), entry, claims) if entry else None
                if reused is None:
                    self.skipped.clear()
                    return None
                records += reused
            return records
        finally:
            self._known = None

    def fraction_read(self) -> float:
        """How much of the corpus still to read has been read, by file size: for an estimate."""
        return min(1.0, self._bytes_done / self._bytes_total) if self._bytes_total else 1.0

    def save_manifest(self) -> None:
        """Record the files of the last complete pass, for the next run to skip those unchanged.
        Call it once the index has committed their documents."""
        if not self._complete:
            return
        record = {"version": MANIFEST_VERSION, "folder": str(self.folder.resolve()), "loaders": self._loaders(),
                  "files": self._entries}
        temporary = self.manifest_path.with_name(self.manifest_path.name + ".tmp")
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.manifest_path)

    def _files(self) -> list[_File]:
        files = []
        now = time.time_ns()
        for path in iter_files(self.folder):
            try:
                info = os.stat(path)
            except OSError:
                files.append(_File(path, path.relative_to(self.folder).as_posix(), 0, None))
                continue
            recent = max(info.st_mtime_ns, info.st_ctime_ns) > now - RACY_SECONDS * 1e9
            signature = None if recent else [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
            files.append(_File(path, path.relative_to(self.folder).as_posix(), info.st_size, signature))
        return files

    def _manifest(self) -> dict:
        try:
            record = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        valid = (
            isinstance(record, dict) and record.get("version") == MANIFEST_VERSION
            and record.get("folder") == str(self.folder.resolve()) and isinstance(record.get("files"), dict)
        )
        return record if valid else {}

    def _old_entries(self) -> dict[str, dict]:
        """The manifest's files, when the loaders that read them are today's: to skip reading them."""
        record = self._manifest()
        return record["files"] if record.get("loaders") == self._loaders() else {}

    def claims(self, present: set[str] | None = None) -> Claims:
        """What the index holds by file, from the manifest (recorded whatever the loaders' version:
        ids and texts stay claimed across upgrades). `present`: the files still in the corpus
        (default: all recorded ones that exist)."""
        claims = Claims()
        for rel, entry in self._manifest().get("files", {}).items():
            if present is not None and rel not in present or present is None and not (self.folder / rel).is_file():
                continue
            for _original, doc_id, text_key, _version, source in entry.get("docs", []):
                claims.indexed_ids.setdefault(doc_id, rel)
                claims.indexed_texts.setdefault(text_key, (rel, source))
        return claims

    def _loaders(self) -> str:
        """The loaders' fingerprint and the limits a recorded skip depends on: a file skipped for
        its size or its memory is read again when a limit changes (one stopped for time is never
        recorded)."""
        return f"{_fingerprint()}:{self.max_bytes}:{self.config.ingest.load_memory_mb}"

    def _items(self, files: list[_File]) -> Iterator[Document | Known]:
        self.skipped.clear()
        self.duplicates.clear()
        self._entries, self._complete = {}, False
        self._bytes_total, self._bytes_done = sum(f.size for f in files), 0.0
        sidecar = read_sidecar(self.folder, self.skipped)
        old = self._old_entries()
        claims = self.claims(present={f.rel for f in files})
        with LoaderWorker(self.config) as worker:
            for file in files:
                meta = sidecar.get(file.rel, {})
                entry = old.get(file.rel)
                reused = self._reuse(file, meta, entry, claims) if entry else None
                if reused is not None:
                    self._entries[file.rel] = entry
                    self._bytes_total -= file.size
                    yield from reused
                    continue
                loaded, problems = worker.load(file.path, self.folder, meta, self.max_bytes)
                self.skipped.extend(problems)
                if not loaded and problems and worker.settled and file.signature:
                    # It gives nothing and will give nothing while it is unchanged: not read again.
                    reasons = [[p.source, p.reason] for p in problems]
                    self._entries[file.rel] = {"stat": file.signature, "meta": meta, "docs": [], "skipped": reasons}
                    continue
                docs = []
                clean = not problems
                for doc in loaded:
                    original = doc.doc_id
                    text_key = content_hash(doc.text)
                    holder = claims.text_holder(text_key, file.rel)
                    doc_id, refusal = (None, None) if holder else claims.place(original, file.rel, doc.source)
                    if holder or doc_id is None:
                        reason = f"same text as {holder}" if holder else refusal
                        if holder and holder not in claims.texts.values():
                            reason += ", which was indexed first"
                        self.duplicates.append(Skipped(doc.source, reason))
                        clean = False
                        continue
                    doc.doc_id = doc_id
                    claims.take(doc_id, text_key, doc.source)
                    docs.append([original, doc_id, text_key, doc.content_hash, doc.source])
                    self._bytes_done += file.size / len(loaded)
                    yield doc
                self._bytes_done += file.size - file.size * len(docs) / max(len(loaded), 1)
                if docs or (clean and file.signature):
                    # Recorded even when it cannot be skipped next time (a problem, or changed too
                    # recently to trust its times): its documents' ids and texts are claimed.
                    stat = file.signature if clean else None
                    self._entries[file.rel] = {"stat": stat, "meta": meta, "docs": docs}
        self._complete = True

    def _reuse(self, file: _File, meta: dict, entry: dict, claims: Claims) -> list[Known] | None:
        """The `Known` records of an unchanged file, or None when it must be read: it changed, the
        index lacks one of its versions, or another file now holds one of its texts or ids
        (replaying exactly what reading it would decide)."""
        if self._known is None or file.signature is None:
            return None
        if entry.get("stat") != file.signature or entry.get("meta") != meta:
            return None
        if entry.get("skipped"):
            self.skipped.extend(Skipped(source, reason) for source, reason in entry["skipped"])
            return []
        replay = Claims(claims.indexed_ids, claims.indexed_texts, dict(claims.ids), dict(claims.texts))
        for original, doc_id, text_key, version, source in entry["docs"]:
            if replay.text_holder(text_key, file.rel) or replay.place(original, file.rel, source)[0] != doc_id:
                return None
            if not self._known(doc_id, version):
                return None
            replay.take(doc_id, text_key, source)
        claims.ids, claims.texts = replay.ids, replay.texts
        return [Known(doc_id, version) for _, doc_id, _, version, _ in entry["docs"]]


def indexed_claims(config: Config) -> Claims:
    """What the index of `config` holds, by file: for checking an upload before it is added."""
    return Corpus(config.paths.corpus_dir, config.ingest.max_file_bytes, config).claims()


def load_corpus(
    folder: Path, max_bytes: int = 20 * 1024 * 1024, config: Config | None = None
) -> tuple[Corpus, list[Skipped], list[Skipped]]:
    """Every usable document under `folder`, recursively, each file loaded in a worker process
    under `config`'s limits (`load_timeout`, `load_memory_mb`; default: from the environment).

    Returns (documents, skipped, duplicates): `documents` is a `Corpus`, read as it is iterated;
    the two lists fill as it is read. Identical documents are kept once and the later copies are
    listed as duplicates.
    """
    corpus = Corpus(folder, max_bytes, config or Config.from_env())
    return corpus, corpus.skipped, corpus.duplicates


def _fingerprint() -> str:
    """What decides the documents a file gives, besides the file: the loaders' code and parsers."""
    digest = hashlib.sha256()
    for module in (loading, cleaning):
        digest.update(Path(module.__file__).read_bytes())
    for package in PARSER_PACKAGES:
        try:
            digest.update(metadata.version(package).encode())
        except metadata.PackageNotFoundError:
            digest.update(b"-")
    return digest.hexdigest()
