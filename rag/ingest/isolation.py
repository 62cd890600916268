"""Loading corpus files in a worker process with a time limit and a memory limit.

Why this exists: the loaders hand files that anyone who can drop a file into the corpus folder (or
upload one) controls to third-party parsers: PyYAML, pypdf, trafilatura/lxml, and llama-index's
sentence splitter. rag/ingest/loading.py turns their exceptions into `Skipped` reasons, but not every
failure is an exception: a crafted file can make a parser loop for hours, allocate gigabytes, or
crash the interpreter in C code. Such a file must cost the run one skipped file, not the run.

So each file is loaded in a worker process. The worker runs under an address-space limit
(`RAG_LOAD_MEMORY_MB` beyond its own size after start-up); the parent waits at most
`RAG_LOAD_TIMEOUT` seconds for each document (a JSONL file streams its records one by one) and that
much per started megabyte for the whole file. When the worker overruns or dies, the parent kills
it, reports the file as skipped, and starts a fresh worker for the next file.

`check_file` (for uploads) also chunks each document in the worker, since the splitter is a parser
too. A corpus run does not: importing the splitter would make the worker's start-up a second
instead of a twentieth, for every run. Instead rag/ingest/chunking.py keeps the splitter linear on
pathological text and rag/ingest/loading.py caps a document at 2,000,000 characters, so the indexer's
own chunking stays bounded (about 10 s for the largest document).

The feeds use the same worker for everything they parse (`call`): feeds and sitemaps, feed discovery
on a home page, robots.txt, and the article pages, so the app process only ever holds fetched bytes
and the plain results parsed from them, and a body that makes a parser loop or allocate costs its
own feed. A call gets `RAG_LOAD_TIMEOUT` per started megabyte of its input.

One worker serves a whole run, files (and calls) going to it one at a time. A worker is a fresh interpreter,
never a fork: the parent may hold onnxruntime and Chroma threads, which a fork would copy in
whatever state they are in. It is started with `subprocess` rather than multiprocessing's "spawn"
or "forkserver", because both of those import the caller's `__main__` module in the worker: that
re-runs any script that calls `rag.ask()` without an `if __name__ == "__main__":` guard, and puts
Gradio into every worker the app starts. Messages go over a socket pair as pickles
(`multiprocessing.connection.Connection`, which also gives `poll` with a timeout).
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

from rag.ingest.chunking import Chunker
from rag.config import Config
from rag.errors import IndexProblem, RagError
from rag.ingest.loading import iter_file
from rag.types import Document, Skipped

# The worker gets the caller's sys.path, so it imports the same `rag`, wherever that came from.
WORKER = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
    "from rag.ingest.isolation import _serve; _serve(int(sys.argv[1]))"
)
STARTUP_SECONDS = 120.0  # a slow, busy machine
MB = 1024 * 1024
T = TypeVar("T")


class LoaderWorker:
    """A worker process that loads files one at a time (and chunks their documents when `chunk`);
    use it as a context manager. Thread-safe: requests from several threads take turns."""

    def __init__(self, config: Config, chunk: bool = False):
        self.config = config
        self.chunk = chunk
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._turn = threading.RLock()
        # Whether the last `load` ran to its end: what it skipped then follows from the file, the
        # loaders and the limits alone; a file stopped for time or lost with the worker may load
        # another time.
        self.settled = True

    def __enter__(self) -> LoaderWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(self, path: Path, folder: Path, meta: dict, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
        """`rag.ingest.loading.load_file` in the worker: (documents, skipped). A file that overruns the
        limits or kills the worker is skipped with the reason; documents it gave before are kept."""
        with self._turn:
            return self._load(path, folder, meta, max_bytes)

    def call(self, function: Callable[..., T], *args, size: int = 0, error: type[Exception] = RagError,
             until: float | None = None) -> T:
        """`function(*args)` in the worker (a module-level function: it goes by name). Its
        RagError comes back as itself; anything else that goes wrong (another exception, too much
        memory, more than `RAG_LOAD_TIMEOUT` per started MB of `size` or past `until`, a
        `time.monotonic()` time such as a feed's budget, the worker dying) is raised as `error`
        with a one-line reason, and a worker that overran is replaced."""
        with self._turn:
            self._send(("call", function, args))
            limit = self.config.ingest.load_timeout * max(1, math.ceil(size / MB))
            reason = f"took longer than {limit:g} s to read (RAG_LOAD_TIMEOUT); stopped"
            if until is not None and until - time.monotonic() < limit:
                limit = max(0.0, until - time.monotonic())
                reason = "stopped when the feed's time budget ran out (RAG_FEED_BUDGET) while reading it"
            if not self._conn.poll(limit):
                self._stop()
                raise error(reason)
            try:
                kind, value = self._conn.recv()
            except (EOFError, OSError):
                raise error(self._died()) from None
            if kind == "result":
                return value
            if kind == "raise":
                raise value
            raise error(value)

    def _send(self, request: tuple) -> None:
        if self._process is None:
            self._start()
        try:
            self._conn.send(request)
        except OSError:  # the worker died between requests (the kernel's OOM killer, say)
            self._stop()
            self._start()
            self._conn.send(request)

    def _load(self, path: Path, folder: Path, meta: dict, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
        source = path.relative_to(folder).as_posix()
        self.settled = False
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0  # the worker reports why it cannot read it
        self._send(("load", str(path), str(folder), meta, max_bytes))
        documents: list[Document] = []
        skipped: list[Skipped] = []
        timeout = self.config.ingest.load_timeout
        file_limit = timeout * max(1, math.ceil(size / MB))
        started = last = time.monotonic()
        while True:
            wait = min(last + timeout, started + file_limit) - time.monotonic()
            if wait <= 0 or not self._conn.poll(wait):
                self._stop()
                if last + timeout <= started + file_limit:
                    reason = f"took longer than {timeout:g} s to load (RAG_LOAD_TIMEOUT); stopped"
                else:
                    reason = f"took longer than {file_limit:g} s in all to load (RAG_LOAD_TIMEOUT per MB); stopped"
                skipped.append(Skipped(source, reason))
                return documents, skipped
            try:
                kind, item = self._conn.recv()
            except (EOFError, OSError):
                skipped.append(Skipped(source, self._died()))
                return documents, skipped
            last = time.monotonic()
            if kind == "document":
                documents.append(item)
            elif kind == "skipped":
                skipped.append(item)
            else:
                self.settled = True
                return documents, skipped

    def close(self) -> None:
        with self._turn:
            if self._process is not None:
                self._stop()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", WORKER, str(theirs.fileno()), json.dumps(sys.path)],
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                )
            except OSError as exc:
                raise IndexProblem(f"Could not start the file loader process ({exc.strerror or exc}).") from None
            self._conn = Connection(ours.detach())
        try:
            self._conn.send((self.config, self.chunk))
            ready = self._conn.poll(STARTUP_SECONDS) and self._conn.recv()
        except (EOFError, OSError):
            ready = None
        if not ready:
            process = self._process
            self._stop()
            raise IndexProblem(f"The file loader process did not start (exit code {process.returncode}).")

    def _stop(self) -> None:
        # Killed, not asked to exit: it holds nothing worth a clean exit, and an interpreter with
        # llama-index loaded takes half a second to shut down.
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process.poll() is None:
            process.kill()
        process.wait()
        conn.close()

    def _died(self) -> str:
        process = self._process
        try:
            process.wait(5)  # its end of the socket closes a moment before its exit status is ready
        except subprocess.TimeoutExpired:
            pass
        self._stop()
        code = process.returncode
        if code < 0:
            how = signal.Signals(-code).name
            hint = ", probably out of memory" if -code in (signal.SIGKILL, signal.SIGABRT) else ""
            return f"the loader process died ({how}{hint}) reading it"
        return f"the loader process died (exit code {code}) reading it"


def check_file(path: Path, config: Config) -> tuple[list[Document], list[Skipped]]:
    """Fully check one file, e.g. an upload in a staging folder before it goes into the corpus:
    loaded and each document chunked, in a worker, under the configured limits. Returns
    (documents, skipped); the file is good when it gives documents and nothing is skipped.
    A symbolic link must point inside `path`'s own folder."""
    with LoaderWorker(config, chunk=True) as worker:
        return worker.load(path, path.parent, {}, config.ingest.max_file_bytes)


def _serve(fd: int) -> None:
    """The worker: load the files the parent sends, one at a time, until it goes away."""
    # Ctrl-C reaches the whole process group; the parent decides what happens to this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    config, chunk = conn.recv()
    chunker = None
    if chunk:
        chunker = Chunker(config)
        chunker.split(Document("warm-up", "Loading the tokenizers now. The first file should not pay.", "", "", ""))
    with open("/proc/self/statm") as handle:
        own_size = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = own_size + config.ingest.load_memory_mb * MB
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    conn.send(("ready", None))
    try:
        while True:
            kind, *request = conn.recv()
            if kind == "call":
                _call(conn, config, *request)
            else:
                _load(conn, chunker, config, *request)
    except (EOFError, OSError):
        pass  # the parent is done, or gone


def _call(conn, config: Config, function: Callable, args: tuple) -> None:
    try:
        reply = ("result", function(*args))
    except MemoryError:
        reply = ("error", f"needs more than {config.ingest.load_memory_mb} MB of memory to read (RAG_LOAD_MEMORY_MB)")
    except RagError as exc:
        reply = ("raise", exc)
    except Exception as exc:  # a parser's own bug on hostile input: this call fails, not the worker
        reply = ("error", f"could not be read ({exc.__class__.__name__})")
    conn.send(reply)


def _load(conn, chunker: Chunker | None, config: Config, path: str, folder: str, meta: dict, max_bytes: int) -> None:
    skipped: list[Skipped] = []
    sent = 0

    def flush() -> None:
        nonlocal sent
        for item in skipped[sent:]:
            conn.send(("skipped", item))
        sent = len(skipped)

    source = Path(path).relative_to(folder).as_posix()
    try:
        for doc in iter_file(Path(path), Path(folder), meta, skipped, max_bytes):
            try:
                if chunker:
                    chunker.split(doc)
            except MemoryError:
                raise
            except Exception as exc:  # the splitter is third-party code too
                skipped.append(Skipped(doc.source, f"could not be split into chunks ({exc.__class__.__name__})"))
            else:
                conn.send(("document", doc))
            flush()
    except MemoryError:
        reason = f"needs more than {config.ingest.load_memory_mb} MB of memory to load (RAG_LOAD_MEMORY_MB)"
        skipped.append(Skipped(source, reason))
    except Exception as exc:  # a parser error no loader anticipated: this file is skipped, not the run
        skipped.append(Skipped(source, f"could not be loaded ({exc.__class__.__name__})"))
    flush()
    conn.send(("done", None))
