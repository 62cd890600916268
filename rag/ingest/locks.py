"""Who may write the index, and how readers learn that it changed.

- `index_lock`: one writer at a time per index folder (the app's uploads and the CLI may race).
- `poll_lock`: one feed poll (or fetch of links) at a time per index folder, across processes.
- `serving` / `served_by_app`: Chroma's embedded store is not safe across processes, so one app
  process serves an embedded index (a second one is refused and told to use a Chroma server), and
  the CLI hands its indexing to that app instead of writing (rag/ingest/handoff.py).
- `mark_changed` / `generation`: a file touched after every run that changed something; a process
  that loaded the index sees its new time and reloads, so `python -m rag index` shows up in a
  running app without a restart.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path

from rag.config import Config
from rag.errors import IndexProblem


class IndexBusy(IndexProblem):
    """Another process (or thread) is indexing into the folder: try again when it finishes."""


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
    """Held by the app while it serves the index. Chroma's embedded store is not safe across
    processes: with it, the lock is exclusive, so a second app process on the same index folder is
    refused (IndexProblem) before it opens anything, and the CLI hands its indexing to the app
    (`served_by_app`). With a Chroma server any number of app processes share it."""
    config.paths.index_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.index_dir / ".serving", "w") as handle:
        if config.chroma.chroma_host:
            fcntl.flock(handle, fcntl.LOCK_SH)
        else:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexProblem(
                    f"Another app process already serves the embedded index in {config.paths.index_dir}; "
                    "to serve it from several processes, run a Chroma server and set CHROMA_HOST (and CHROMA_PORT)."
                ) from None
        yield


def served_by_app(config: Config) -> bool:
    """Whether an app process serves this embedded index now (then the CLI must not write it)."""
    if config.chroma.chroma_host:
        return False  # a Chroma server takes writes from any number of processes
    path = config.paths.index_dir / ".serving"
    if not path.exists():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


@contextmanager
def index_lock(config: Config):
    """One writer at a time per index folder (the app's uploads and the CLI may race)."""
    config.paths.index_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"Another process is indexing into {config.paths.index_dir}; try again when it finishes.") from None
        yield


@contextmanager
def poll_lock(config: Config):
    """One feed poll at a time per index folder, across processes (several app processes sharing
    a Chroma server all run the schedule; the first takes the poll, the others skip it). Separate
    from `index_lock`, which a poll takes only for its indexing step: fetching may take minutes,
    and uploads must not wait for it."""
    config.paths.index_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.index_dir / ".feeds.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem("Another process is fetching links or feeds; try again when it finishes.") from None
        yield
