"""The corpus folder as a stream of documents: every file through the isolated loader, duplicates set aside.

Documents are handed on as their files are read, so a run holds one file's documents at a time,
never the corpus; skipped files and duplicates are listed as they are found.

Unchanged files are not read again. A manifest in the index folder records each file that loaded
cleanly: its size, times and inode, its sidecar fields and the documents it gave (ids and content
hashes), under a fingerprint of the loaders' code. A later run reuses an entry only when all of
that still matches and the index has committed exactly those document versions (the indexer says
which, `read(known=...)`); the file then yields `Known` records instead of documents. Anything else
is read again, so a stale or missing manifest costs time, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

    def _old_entries(self) -> dict[str, dict]:
        try:
            record = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        valid = (
            isinstance(record, dict) and record.get("version") == MANIFEST_VERSION
            and record.get("folder") == str(self.folder.resolve()) and record.get("loaders") == self._loaders()
        )
        return record["files"] if valid else {}

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
        seen_text: dict[str, str] = {}
        seen_ids: set[str] = set()
        with LoaderWorker(self.config) as worker:
            for file in files:
                meta = sidecar.get(file.rel, {})
                entry = old.get(file.rel)
                reused = self._reuse(file, meta, entry, seen_text, seen_ids) if entry else None
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
                for number, doc in enumerate(loaded, 1):
                    original = doc.doc_id
                    text_key = content_hash(doc.text)
                    if text_key in seen_text:
                        self.duplicates.append(Skipped(doc.source, f"same text as {seen_text[text_key]}"))
                        clean = False
                        continue
                    if doc.doc_id in seen_ids:
                        doc.doc_id = f"{doc.doc_id}{Path(file.rel).suffix}"
                    if doc.doc_id in seen_ids:
                        self.duplicates.append(Skipped(doc.source, f"document id '{doc.doc_id}' already used"))
                        clean = False
                        continue
                    seen_text[text_key] = doc.source
                    seen_ids.add(doc.doc_id)
                    docs.append([original, doc.doc_id, text_key, doc.content_hash, doc.source])
                    self._bytes_done += file.size / len(loaded)
                    yield doc
                self._bytes_done += file.size - file.size * len(docs) / max(len(loaded), 1)
                if clean and file.signature:
                    self._entries[file.rel] = {"stat": file.signature, "meta": meta, "docs": docs}
        self._complete = True

    def _reuse(
        self, file: _File, meta: dict, entry: dict, seen_text: dict[str, str], seen_ids: set[str]
    ) -> list[Known] | None:
        """The `Known` records of an unchanged file, or None when it must be read: it changed, the
        index lacks one of its versions, or an earlier file now claims one of its texts or ids
        (replaying exactly what reading it would decide)."""
        if self._known is None or file.signature is None:
            return None
        if entry.get("stat") != file.signature or entry.get("meta") != meta:
            return None
        if entry.get("skipped"):
            self.skipped.extend(Skipped(source, reason) for source, reason in entry["skipped"])
            return []
        texts: dict[str, str] = {}
        ids: set[str] = set()
        for original, doc_id, text_key, version, source in entry["docs"]:
            if text_key in seen_text or text_key in texts:
                return None
            taken = original in seen_ids or original in ids
            expected = f"{original}{Path(file.rel).suffix}" if taken else original
            if expected != doc_id or doc_id in seen_ids or doc_id in ids or not self._known(doc_id, version):
                return None
            texts[text_key] = source
            ids.add(doc_id)
        seen_text.update(texts)
        seen_ids.update(ids)
        return [Known(doc_id, version) for _, doc_id, _, version, _ in entry["docs"]]


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
