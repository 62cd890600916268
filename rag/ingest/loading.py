"""Loading documents from the corpus folder: one function per file type, then cleaning.

Bad input never stops loading: every file that cannot be read becomes a `Skipped` entry with a
reason, and every good file is still returned. Files are read defensively because anyone who can
drop a file into the folder (or upload one) controls them: only regular files inside the folder
are opened, YAML may not use aliases, and text must decode to something that looks like text.
What defensive reading cannot bound (a parser that loops or eats memory) is left to
`rag/ingest/isolation.py`, which runs `load_file` in a worker process with time and memory limits.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import yaml

from rag.ingest.cleaning import clean_article
from rag.types import Document, Skipped

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")
SIDECAR = "metadata.yaml"
META_FIELDS = ("title", "publisher", "author", "published", "url")

# Limits for what hostile files can make the parsers do; no real article comes near them.
MAX_CHARS = 2_000_000  # a document's text; a long novel is about a million characters
FRONT_MATTER_BYTES = 64 * 1024
SIDECAR_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 2000  # a title, author, URL...
LISTED_PROBLEMS = 20  # bad JSONL lines listed per file; a file of a million bad lines gets a count
# A PDF's cost grows with its pages and with the text its compressed streams expand to, and its
# size bounds neither: 3 MB held 20,000 near-empty pages (minutes of parsing and embedding). Both
# are held to budgets relative to the file's size that real documents stay far below (text pages
# take a kilobyte or more, and text compresses about fourfold).
PDF_BYTES_PER_PAGE = 512
PDF_FREE_PAGES = 50
PDF_CHARS_PER_BYTE = 8


class BadFile(Exception):
    """Raised by a loader when a file cannot be turned into a document; the message is the reason."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "an unknown kind"


def read_bytes(path: Path, folder: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, which must be a regular file inside `folder` (after following links).

    A named pipe would block the reader forever and a device can stream without end, so the type
    is checked before opening, and again on the open descriptor in case the file was swapped.
    """
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root:
        raise BadFile("symbolic link to a file outside the corpus folder")
    mode = os.stat(real).st_mode
    if not stat.S_ISREG(mode):
        raise BadFile(f"not a regular file ({_kind(mode)})")
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadFile(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise BadFile(f"too large ({info.st_size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
        return handle.read(info.st_size)  # no more than was checked, should it grow meanwhile


# Characters that do not occur in prose: controls other than whitespace, lone surrogates,
# private-use code points, non-characters and U+FFFD (what undecodable bytes become). Binary data
# read as text is full of them. A few controls in a real article are stray bytes: they are dropped,
# as are C1 controls, which are not counted because a whole article's apostrophes become U+0092
# when Windows-1252 text was once converted as Latin-1.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff\ue000-\uf8ff\ufdd0-\ufdef\ufffd\ufffe\uffff]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _check_text(text: str) -> None:
    bad = len(_NOT_TEXT.findall(text))
    if bad > max(10, len(text) // 100):
        raise BadFile(f"not a text file ({bad / len(text):.0%} control or undecodable characters)")


# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode(data: bytes) -> str:
    """Decode bytes as text: UTF-8 (with or without BOM), UTF-16/UTF-32 with a BOM, else Windows-1252."""
    if not data.strip():
        raise BadFile("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise BadFile(f"not valid {encoding} text ({exc.reason})") from None
            break
    else:
        if b"\x00" in data:
            raise BadFile("binary file (contains NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
            # Mostly-undecodable bytes are a binary format, not a text in a legacy encoding.
            if text.count("\ufffd") > max(10, len(text) // 100):
                raise BadFile("not a text file (undecodable bytes)") from None
    _check_text(text)
    return text


class AliasRefused(BadFile):
    """YAML with aliases: a few hundred bytes of nested aliases ("billion laughs") expand to
    gigabytes as soon as the values are read. Metadata never needs them."""


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise AliasRefused("YAML aliases are not allowed")
        return super().compose_node(parent, index)


def _yaml(text: str):
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except BadFile:
        raise
    except Exception as exc:  # YAMLError, and e.g. ValueError for a date like 2025-02-30
        raise BadFile(f"invalid YAML ({getattr(exc, 'problem', None) or exc.__class__.__name__})") from None


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def _front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter, and the text after it. Front matter that is not a YAML mapping, or does
    not end within 64 KB, is treated as part of the text, as if there were none; front matter with
    aliases is dropped, metadata and all."""
    m = _FRONT_MATTER.match(text, 0, FRONT_MATTER_BYTES)
    if not m:
        return {}, text
    try:
        meta = _yaml(m.group(1)) or {}
    except AliasRefused:
        return {}, text[m.end() :]
    except BadFile:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return {k: str(v) for k, v in meta.items() if k in META_FIELDS and v is not None}, text[m.end() :]


def _field(value: str | None) -> str | None:
    """A metadata value as stored: no control characters (Chroma and browsers choke on lone
    surrogates), bounded length."""
    if value is None:
        return None
    return _CONTROLS.sub("", value)[:MAX_FIELD_CHARS] or None


def _record(doc_id: str, source: str, raw_text: str, meta: dict) -> Document:
    if len(raw_text) > MAX_CHARS:
        raise BadFile(f"text too long for an article ({len(raw_text):,} characters > {MAX_CHARS:,})")
    _check_text(raw_text)
    cleaned = clean_article(_CONTROLS.sub("", raw_text))
    if len(cleaned.text.split()) < 5:
        raise BadFile("no article text after cleaning")
    fields = {
        "title": meta.get("title") or cleaned.title or _title_from_text(cleaned.text) or _title_from_name(doc_id),
        "publisher": meta.get("publisher") or cleaned.publisher,
        "author": meta.get("author") or cleaned.author,
        "published": meta.get("published"),
        "url": meta.get("url"),
    }
    fields = {k: _field(v) for k, v in fields.items()}
    fields["title"] = fields["title"] or _title_from_name(doc_id)
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


def load_text(data: bytes, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    front, body = _front_matter(decode(data))
    yield _record(doc_id, source, body, {**meta, **front})


PRECISE_SHARE = 0.6  # the least of a single-line extraction's length its paragraph form may keep


def load_html(data: bytes, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    import trafilatura

    html = decode(data)
    options = {"include_comments": False, "include_tables": False, "with_metadata": True}
    try:
        extracted = trafilatura.bare_extraction(html, **options)
        if extracted is not None and "\n" not in (getattr(extracted, "text", None) or "").strip():
            # On a short article trafilatura falls back to its baseline, which joins the headline,
            # the byline and the paragraphs with spaces: "Engineers confirm the timetable By Tom
            # Berg Engineers confirmed ..." would then be the first sentence, scored and quoted.
            # Its precise mode keeps the paragraphs; taken when it keeps most of the text.
            precise = trafilatura.bare_extraction(html, favor_precision=True, **options)
            text = getattr(precise, "text", None) or ""
            if "\n" in text.strip() and len(text) >= PRECISE_SHARE * len(extracted.text):
                extracted.text = text
    except Exception as exc:  # lxml and trafilatura raise all sorts on broken markup
        raise BadFile(f"unreadable HTML ({exc.__class__.__name__})") from None
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


def load_pdf(data: bytes, doc_id: str, source: str, meta: dict) -> Iterator[Document]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty password only to restrict printing or copying.
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadFile("encrypted PDF (needs a password)")
        allowed = max(PDF_FREE_PAGES, len(data) // PDF_BYTES_PER_PAGE)
        if len(reader.pages) > allowed:
            raise BadFile(f"too many pages for its size ({len(reader.pages):,} pages in {len(data) / 1024:,.0f} KB)")
        pages, budget = [], PDF_CHARS_PER_BYTE * len(data)
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            budget -= len(pages[-1])
            if budget < 0:
                raise BadFile("more text than a PDF of its size holds")
        info = reader.metadata or {}
        found = {key: str(info[name]) for key, name in (("title", "/Title"), ("author", "/Author")) if info.get(name)}
    except BadFile:
        raise
    except DependencyError:
        raise BadFile("encrypted PDF (AES, which needs the 'cryptography' package)") from None
    except Exception as exc:  # pypdf's own errors (PdfReadError, LimitReachedError...) and its bugs
        raise BadFile(f"unreadable PDF ({exc.__class__.__name__})") from None
    yield _record(doc_id, source, "\n\n".join(p.strip() for p in pages if p.strip()), {**found, **meta})


def _jsonl_record(line: str) -> dict:
    try:
        record = json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if "text" not in record:
        raise ValueError("no 'text' field")
    if not isinstance(record["text"], str):
        raise ValueError(f"'text' is not a string ({type(record['text']).__name__})")
    if not record["text"].strip():
        raise ValueError("empty 'text'")
    return record


def load_jsonl(data: bytes, doc_id: str, source: str, meta: dict, skipped: list[Skipped]) -> Iterator[Document]:
    """One document a line; a malformed line is skipped and reported, the rest still load."""
    problems = 0

    def report(where: str, reason: str) -> None:
        nonlocal problems
        problems += 1
        if problems <= LISTED_PROBLEMS:
            skipped.append(Skipped(where, reason))

    for lineno, line in enumerate(decode(data).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            record = _jsonl_record(line)
        except ValueError as exc:  # json.JSONDecodeError is one
            report(where, f"malformed JSONL line: {exc}")
            continue
        raw_id = record.get("id")
        record_id = _field(str(raw_id)) if raw_id and isinstance(raw_id, (str, int, float)) else None
        fields = {k: str(record[k]) for k in META_FIELDS if record.get(k)}
        try:
            yield _record(record_id or f"{doc_id}-{lineno}", where, record["text"], {**meta, **fields})
        except BadFile as exc:
            report(where, str(exc))
    if problems > LISTED_PROBLEMS:
        skipped.append(Skipped(source, f"{problems - LISTED_PROBLEMS} more bad lines not listed"))


def read_sidecar(folder: Path, skipped: list[Skipped]) -> dict[str, dict]:
    """`metadata.yaml` in the corpus folder: {file name relative to the folder: {title, publisher, ...}}."""
    path = folder / SIDECAR
    if not path.exists():
        return {}
    try:
        data = _yaml(decode(read_bytes(path, folder, SIDECAR_BYTES))) or {}
        if not isinstance(data, dict):
            raise BadFile("expected a mapping of file names to fields")
    except BadFile as exc:
        skipped.append(Skipped(SIDECAR, f"ignored: {exc}"))
        return {}
    except OSError as exc:
        skipped.append(Skipped(SIDECAR, f"ignored: unreadable ({exc.strerror or exc.__class__.__name__})"))
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


def iter_file(path: Path, folder: Path, meta: dict, skipped: list[Skipped], max_bytes: int) -> Iterator[Document]:
    """The documents of one file as they are read (a JSONL file has many); what cannot be used
    is appended to `skipped`. In this process, with no limits: see `rag.ingest.isolation` for those."""
    rel = path.relative_to(folder)
    source = rel.as_posix()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        skipped.append(Skipped(source, f"unsupported file type '{suffix or path.name}'"))
        return
    try:
        data = read_bytes(path, folder, max_bytes)
        doc_id = doc_id_for(rel)
        if suffix in (".txt", ".md", ".markdown"):
            yield from load_text(data, doc_id, source, meta)
        elif suffix in (".html", ".htm"):
            yield from load_html(data, doc_id, source, meta)
        elif suffix == ".pdf":
            yield from load_pdf(data, doc_id, source, meta)
        else:
            yield from load_jsonl(data, doc_id, source, meta, skipped)
    except BadFile as exc:
        skipped.append(Skipped(source, str(exc)))
    except OSError as exc:
        skipped.append(Skipped(source, f"unreadable ({exc.strerror or exc.__class__.__name__})"))


def load_file(path: Path, folder: Path, meta: dict, skipped: list[Skipped], max_bytes: int) -> list[Document]:
    """Load one file; append to `skipped` (and return nothing) when it cannot be used."""
    return list(iter_file(path, folder, meta, skipped, max_bytes))
