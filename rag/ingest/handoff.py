"""Indexing handed to the app that serves an embedded index.

Chroma's embedded store is not safe across processes, so while the app serves one
(rag/ingest/locks.py's `serving`), a command run beside it (`rag index`, `rag add`, `rag feeds
add|poll|remove --delete-articles`, `rag remove`) does its own part (fetching, writing or deleting
corpus files, the feed state) and hands only the indexing to the app:

- `hand_to_app` writes a request file into `index/.requests/` (written under another name, then
  renamed: the app never reads half a request) and waits for the app's answer beside it;
- the app's `HandoffWorker` thread looks for requests every second, runs each as its own
  indexing run (the searches then reload, as after an upload) and writes the answer: the summary,
  or the one-line error.

A request survives the app: one left when the app stops is run when it starts again. Waiting
ends when the answer comes, or when no app serves the index any more (the request then waits for
the next start).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from rag.config import Config
from rag.errors import IndexProblem
from rag.ingest.locks import IndexBusy, served_by_app
from rag.types import IndexSummary, Skipped

log = logging.getLogger("rag.handoff")
POLL_SECONDS = 1.0  # how often the app looks for requests, and the CLI for the answer
KEEP_ANSWERS_SECONDS = 3600.0  # answers nobody collected (the CLI was stopped) are deleted after this


def requests_folder(config: Config) -> Path:
    return config.paths.index_dir / ".requests"


def _write(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)


def _summary(data: dict) -> IndexSummary:
    fields = {f.name for f in dataclasses.fields(IndexSummary)}
    summary = IndexSummary(**{k: v for k, v in data.items() if k in fields})
    summary.duplicates = [Skipped(**s) for s in data.get("duplicates", [])]
    summary.skipped = [Skipped(**s) for s in data.get("skipped", [])]
    return summary


def hand_to_app(config: Config, rebuild: bool = False, allow_empty: bool = False,
                say: Callable[[str], None] = lambda line: None) -> IndexSummary:
    """Ask the app serving this embedded index to bring it up to date, and wait for its summary.
    Raises IndexProblem with the app's error, or when the app stopped before answering (the
    request then runs when it starts again)."""
    folder = requests_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time():.6f}-{uuid.uuid4().hex}"
    _write(folder / f"{name}.json", {"rebuild": rebuild, "allow_empty": allow_empty})
    say(f"The app serving {config.paths.index_dir} is indexing it (the request is {folder / name}.json) ...")
    answer = folder / f"{name}.answer.json"
    while not answer.exists():
        if not served_by_app(config):
            if answer.exists():
                break
            raise IndexProblem(f"The app stopped before indexing; it indexes when it starts again "
                               f"(or run this command again while no app serves {config.paths.index_dir}).")
        time.sleep(POLL_SECONDS)
    data = json.loads(answer.read_text(encoding="utf-8"))
    answer.unlink(missing_ok=True)
    if data.get("error"):
        raise IndexProblem(f"The app could not index: {data['error']}")
    return _summary(data["summary"])


class HandoffWorker:
    """The app's side: a daemon thread that runs the requests in `index/.requests/` in order.
    `index(rebuild=..., allow_empty=...)` is the app's own indexing (its Service)."""

    def __init__(self, config: Config, index: Callable[..., IndexSummary]):
        self.config, self.index = config, index
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-requests", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    def run_pending(self) -> int:
        """Run the requests waiting now; returns how many ran."""
        folder = requests_folder(self.config)
        if not folder.is_dir():
            return 0
        ran = 0
        for request in sorted(p for p in folder.glob("*.json") if not p.name.endswith(".answer.json")):
            if self._stop.is_set():
                break
            try:
                asked = json.loads(request.read_text(encoding="utf-8"))
                answer = {"summary": dataclasses.asdict(self.index(rebuild=bool(asked.get("rebuild")),
                                                                   allow_empty=bool(asked.get("allow_empty"))))}
            except IndexBusy:
                return ran  # the schedule's poll (or an upload) is indexing: the next round
            except (IndexProblem, ValueError, OSError) as exc:
                answer = {"error": str(exc)}
            except Exception as exc:  # a bug: this request fails, the app goes on
                log.exception("an indexing request failed")
                answer = {"error": f"unexpected {exc.__class__.__name__}; the details are in the app's log"}
            _write(request.with_name(request.name.replace(".json", ".answer.json")), answer)
            request.unlink(missing_ok=True)
            ran += 1
        now = time.time()
        for old in folder.glob("*.answer.json"):
            if now - old.stat().st_mtime > KEEP_ANSWERS_SECONDS:
                old.unlink(missing_ok=True)
        return ran

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:
                log.exception("reading indexing requests failed")
            self._stop.wait(POLL_SECONDS)
