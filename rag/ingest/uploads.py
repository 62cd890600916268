"""Admitting uploaded files into the corpus folder: staged, checked fully, then moved in.

An upload is untrusted. It is copied into a hidden staging folder inside the corpus folder (the
loader ignores dot-folders), loaded and chunked there under the same per-file limits as indexing,
and only a file that passes is moved in. A rejected upload leaves the corpus exactly as it was,
and an upload never replaces an existing article: a different file with the same name is kept
beside it under a new name, and one whose every document repeats the text (or JSONL id) of an
indexed article is refused, as indexing would set it aside as a duplicate anyway.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.loading import SUPPORTED
from rag.types import Document, Skipped

STAGING = ".staging"

Check = Callable[[Path], tuple[list[Document], list[Skipped]]]  # a whole-file check: (documents, problems)
Conflict = Callable[[Document], str | None]  # why a document would take nothing over: its text or id is held


@dataclass
class Admitted:
    """What happened to a batch of uploads."""

    added: list[Path] = field(default_factory=list)  # files now in the corpus folder
    rejected: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a name clash that was resolved


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot, only ordinary characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = os.path.splitext(base)
    stem = re.sub(r"[^\w.-]+", "-", stem, flags=re.ASCII).strip(".-")[:120] or "upload"
    return stem + suffix.lower()


def admit(paths: Sequence[Path], corpus_dir: Path, max_bytes: int, check: Check,
          conflict: Conflict = lambda doc: None) -> Admitted:
    """Stage, check and move each upload into `corpus_dir`; see the module docstring."""
    result = Admitted()
    staging = corpus_dir / STAGING / uuid.uuid4().hex
    staging.mkdir(parents=True, exist_ok=True)
    try:
        for number, source in enumerate(paths):
            name = safe_name(source.name)
            problem = _precheck(source, name, max_bytes)
            if problem:
                result.rejected.append(Skipped(source.name, problem))
                continue
            # A folder per upload: two uploads with one name must not share (or rewrite) a file.
            staged = staging / str(number) / name
            staged.parent.mkdir()
            shutil.copyfile(source, staged, follow_symlinks=False)
            documents, problems = check(staged)
            if problems or not documents:
                reasons = "; ".join(p.reason for p in problems) or "no article text found"
                result.rejected.append(Skipped(source.name, reasons))
                continue
            clashes = [reason for reason in map(conflict, documents) if reason]
            if len(clashes) == len(documents):
                result.rejected.append(Skipped(source.name, "; ".join(dict.fromkeys(clashes))))
                continue
            target = _place(staged, corpus_dir / name, result)
            if target:
                result.added.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            (corpus_dir / STAGING).rmdir()  # only when no other upload is being staged
        except OSError:
            pass
    return result


def _precheck(source: Path, name: str, max_bytes: int) -> str | None:
    suffix = Path(name).suffix
    if suffix not in SUPPORTED:
        return f"unsupported file type '{suffix or name}'; allowed: {', '.join(SUPPORTED)}"
    try:
        info = source.lstat()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc.__class__.__name__})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > max_bytes:
        return f"larger than {max_bytes / 1e6:.1f} MB"
    return None


def _place(staged: Path, wanted: Path, result: Admitted) -> Path | None:
    """Move `staged` to `wanted`, or to `wanted-2`, `-3`... when that name is taken by another
    file. os.link fails instead of overwriting, so two uploads racing for a name both survive."""
    candidate = wanted
    for n in range(2, 1000):
        if candidate.exists() and _same_bytes(candidate, staged):
            result.rejected.append(Skipped(wanted.name, f"already in the corpus as {candidate.name}"))
            return None
        try:
            os.link(staged, candidate)
        except FileExistsError:
            candidate = wanted.with_name(f"{wanted.stem}-{n}{wanted.suffix}")
            continue
        if candidate != wanted:
            result.notes.append(f"{wanted.name}: a different file has this name; kept both, saved as {candidate.name}")
        return candidate
    result.rejected.append(Skipped(wanted.name, "too many files with this name"))
    return None


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False
