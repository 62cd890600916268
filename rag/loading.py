"""Loading documents from the corpus folder: one function per file type, then cleaning.

Bad input never stops loading: every file that cannot be read becomes a `Skipped` entry with a
reason, and every good file is still returned.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from rag.cleaning import clean_article
from rag.types import Document, Skipped

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")
SIDECAR = "metadata.yaml"
META_FIELDS = ("title", "publisher", "author", "published", "url")


class BadFile(Exception):
    """Raised by a loader when a file cannot be turned into a document; the message is the reason."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode(data: bytes) -> str:
    """Decode bytes as text: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252."""
    if not data.strip():
        raise BadFile("empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise BadFile("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        # Mostly-undecodable bytes are a binary format, not a text in a legacy encoding.
        if text.count("\ufffd") > max(10, len(text) // 100):
            raise BadFile("not a text file (undecodable bytes)") from None
        return text


def _front_matter(text: str) -> tuple[dict, str]:
    m = re.match(r"\A---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return {k: str(v) for k, v in meta.items() if k in META_FIELDS and v is not None}, text[m.end() :]


def _record(doc_id: str, source: str, raw_text: str, meta: dict) -> Document:
    cleaned = clean_article(raw_text)
    if len(cleaned.text.split()) < 5:
        raise BadFile("no article text after cleaning")
    fields = {
        "title": meta.get("title") or cleaned.title or _title_from_text(cleaned.text) or _title_from_name(doc_id),
        "publisher": meta.get("publisher") or cleaned.publisher,
        "author": meta.get("author") or cleaned.author,
        "published": meta.get("published"),
        "url": meta.get("url"),
    }
    # Metadata is part of the version: fixing a title or URL updates the index too.
    version = content_hash(cleaned.text + json.dumps(fields, sort_keys=True))
    return Document(doc_id=doc_id, text=cleaned.text, source=source, content_hash=version, **fields)


def _title_from_text(text: str, limit: int = 90) -> str | None:
    """No headline: the opening words of the article, as news readers show an untitled item."""
    first = text.strip().split("\n", 1)[0]
    first = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(first.split()) < 3:
        return None
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _title_from_name(doc_id: str) -> str:
    words = re.sub(r"[-_]+", " ", Path(doc_id).name).strip()
    return words[:1].upper() + words[1:] if words else doc_id


def load_text(path: Path, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    front, body = _front_matter(decode(path.read_bytes()))
    yield _record(doc_id, source, body, {**meta, **front})


def load_html(path: Path, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    import trafilatura

    html = decode(path.read_bytes())
    extracted = trafilatura.bare_extraction(html, include_comments=False, include_tables=False, with_metadata=True)
    if extracted is None or not getattr(extracted, "text", None):
        raise BadFile("no article text found in the HTML")
    found = {
        "title": extracted.title,
        "publisher": extracted.sitename,
        "author": extracted.author,
        "published": extracted.date,
        "url": extracted.url,
    }
    found = {k: v for k, v in found.items() if v}
    text = extracted.text
    if found.get("title") and not text.startswith(found["title"]):
        text = f"{found['title']}\n\n{text}"
    yield _record(doc_id, source, text, {**found, **meta})


def load_pdf(path: Path, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(path.read_bytes()))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise BadFile(f"unreadable PDF ({exc.__class__.__name__})") from None
    found = {}
    if info.get("/Title"):
        found["title"] = str(info["/Title"])
    if info.get("/Author"):
        found["author"] = str(info["/Author"])
    yield _record(doc_id, source, "\n\n".join(p.strip() for p in pages if p.strip()), {**found, **meta})


def load_jsonl(path: Path, doc_id: str, source: str, meta: dict, skipped: list[Skipped]) -> Iterator[Document]:
    """One document a line; a malformed line is skipped and reported, the rest still load."""
    text = decode(path.read_bytes())
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            body = record.get("text")
            if not isinstance(body, str) or not body.strip():
                raise ValueError("no 'text' field")
        except (ValueError, json.JSONDecodeError) as exc:
            skipped.append(Skipped(where, f"malformed JSONL line: {exc}"))
            continue
        record_id = str(record.get("id") or f"{doc_id}-{lineno}")
        fields = {k: str(record[k]) for k in META_FIELDS if record.get(k)}
        try:
            yield _record(record_id, where, body, {**meta, **fields})
        except BadFile as exc:
            skipped.append(Skipped(where, str(exc)))


def _read_sidecar(folder: Path, skipped: list[Skipped]) -> dict[str, dict]:
    """`metadata.yaml` in the corpus folder: {file name relative to the folder: {title, publisher, ...}}."""
    path = folder / SIDECAR
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of file names to fields")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        skipped.append(Skipped(SIDECAR, f"ignored: {exc}"))
        return {}
    return {
        str(name): {k: str(v) for k, v in (fields or {}).items() if k in META_FIELDS and v is not None}
        for name, fields in data.items()
        if isinstance(fields, dict) or fields is None
    }


def iter_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir() or path.name == SIDECAR:
            continue
        yield path


def doc_id_for(rel: Path) -> str:
    return rel.with_suffix("").as_posix()


def load_file(path: Path, folder: Path, meta: dict, skipped: list[Skipped], max_bytes: int) -> list[Document]:
    """Load one file; append to `skipped` (and return nothing) when it cannot be used."""
    rel = path.relative_to(folder)
    source = rel.as_posix()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        skipped.append(Skipped(source, f"unsupported file type '{suffix or path.name}'"))
        return []
    try:
        size = path.stat().st_size
        if size > max_bytes:
            skipped.append(Skipped(source, f"too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)"))
            return []
        doc_id = doc_id_for(rel)
        if suffix in (".txt", ".md", ".markdown"):
            return list(load_text(path, doc_id, source, meta))
        if suffix in (".html", ".htm"):
            return list(load_html(path, doc_id, source, meta))
        if suffix == ".pdf":
            return list(load_pdf(path, doc_id, source, meta))
        return list(load_jsonl(path, doc_id, source, meta, skipped))
    except BadFile as exc:
        skipped.append(Skipped(source, str(exc)))
    except OSError as exc:
        skipped.append(Skipped(source, f"unreadable ({exc.strerror or exc.__class__.__name__})"))
    return []


def load_corpus(folder: Path, max_bytes: int = 20 * 1024 * 1024) -> tuple[list[Document], list[Skipped], list[Skipped]]:
    """Every usable document under `folder`, recursively.

    Returns (documents, skipped, duplicates): identical documents are kept once and the later
    copies are listed as duplicates.
    """
    skipped: list[Skipped] = []
    duplicates: list[Skipped] = []
    sidecar = _read_sidecar(folder, skipped)
    documents: list[Document] = []
    seen_text: dict[str, str] = {}
    seen_ids: set[str] = set()
    for path in iter_files(folder):
        rel = path.relative_to(folder).as_posix()
        for doc in load_file(path, folder, sidecar.get(rel, {}), skipped, max_bytes):
            text_key = content_hash(doc.text)
            if text_key in seen_text:
                duplicates.append(Skipped(doc.source, f"same text as {seen_text[text_key]}"))
                continue
            if doc.doc_id in seen_ids:
                doc.doc_id = f"{doc.doc_id}{Path(rel).suffix}"
            if doc.doc_id in seen_ids:
                duplicates.append(Skipped(doc.source, f"document id '{doc.doc_id}' already used"))
                continue
            seen_text[text_key] = doc.source
            seen_ids.add(doc.doc_id)
            documents.append(doc)
    return documents, skipped, duplicates
