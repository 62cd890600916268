"""Re-answer followed questions when the news changes.

The service calls `FollowWatcher.changed(summary)` after every indexing run that added, changed
or removed articles (a feed poll, a link fetch, an upload, `rag index`). The watcher picks the
follows those articles could affect (rag/follows/matching.py), asks each again as of today with
its filters, compares the answer with the one last seen (rag/follows/changes.py) and records
an update, new sources, or nothing.

In the app this runs in a child process at the lowest CPU priority (`os.nice(19)`), one question
at a time with a short pause between them: the operating system gives the app's own answers the
CPU first, and, unlike a thread, the process never holds the app's interpreter lock. The command
line runs it in place before it exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.errors import RagError
from rag.follows.changes import SOURCE, UPDATE, compare, snapshot
from rag.follows.matching import affected
from rag.follows.store import Followed, FollowStore
from rag.team.models import utcnow
from rag.types import IndexSummary

log = logging.getLogger("rag.follows")


@dataclass
class Refresh:
    """What one round of re-answers did: questions asked, follows checked (several users may follow
    one question), updates and new sources recorded."""

    asked: int = 0
    checked: int = 0
    updates: int = 0
    sources: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the thread that re-answered (a busy machine stretches `seconds`, not this)


class FollowWatcher:
    """Keeps the follows in `store()` current with `service`'s index: in place, in the thread that
    indexed (the command line), or, given the team database's URL as `worker`, in a child process
    at the lowest CPU priority (the app)."""

    def __init__(self, service, store: Callable[[], FollowStore], worker: str | None = None):
        self.service, self._store, self._url = service, store, worker
        settings = service.config.team
        self.share, self.pause = settings.follow_match, settings.follow_pause_ms / 1000
        self._pending = 0  # runs sent to the worker and not yet done
        self._lock = threading.Lock()
        self._work = self._done = self._process = None
        self.last = Refresh()

    def changed(self, summary: IndexSummary) -> None:
        """The service's index listener."""
        work = ([*summary.added, *summary.updated], list(summary.removed))
        if self._url is None:
            self.last = self.refresh(*work)
            return
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._pending += 1
            self._work.put(work)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until the re-answers sent to the worker are done; returns whether they are."""
        deadline = time.monotonic() + timeout
        while self._pending:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def refresh(self, changed: list[str], removed: list[str]) -> Refresh:
        """Re-ask the follows that the `changed` and `removed` articles could affect, now."""
        started, cpu = time.perf_counter(), time.thread_time()
        report = Refresh()
        store = self._store()
        candidates = store.candidates()
        if not candidates:  # nobody follows anything: a first index of 20,000 articles reads none of them
            return report
        docs = {doc_id: doc for doc_id in changed if (doc := self.service.document(doc_id)) is not None}
        chosen = affected(candidates, docs, removed, self.service.search_index.stats.idf, self.share)
        edited = set(changed)
        # Users of one newsroom follow the same stories: each question (with its filters) is asked once.
        same: dict[tuple, list[Followed]] = {}
        for follow in store.load(chosen):
            same.setdefault((" ".join(follow.question.lower().split()), tuple(sorted(follow.filters.items()))), []).append(follow)
        for group in same.values():
            try:
                answer = self.service.ask(group[0].question, **group[0].filters)
            except RagError as exc:
                log.warning("re-asking follow %s failed: %s", group[0].follow_id, exc)
                continue
            new = snapshot(answer, utcnow())
            report.asked += 1
            found = [(f.follow_id, compare(f.answer, new, {s.get("doc_id") for s in f.sources}, edited)) for f in group]
            store.record(found, new)  # one transaction for the group
            report.checked += len(found)
            report.updates += sum(change.kind == UPDATE for _, change in found)
            report.sources += sum(len(change.sources) for _, change in found if change.kind == SOURCE)
            if self.pause:
                time.sleep(self.pause)
        report.seconds, report.cpu_seconds = time.perf_counter() - started, time.thread_time() - cpu
        return report

    def _start(self) -> None:
        """The worker process, started on the first change (it loads the models once)."""
        context = multiprocessing.get_context("spawn")  # no copy of the app's threads and locks
        self._work, self._done = context.Queue(), context.Queue()
        self._process = context.Process(target=_worker, args=(self.service.config, self._url, self._work, self._done),
                                        name="follows", daemon=True)
        self._process.start()
        threading.Thread(target=self._results, args=(self._done,), name="follows-results", daemon=True).start()

    def _results(self, done) -> None:
        while True:
            report = done.get()
            self.last = report
            log.info("follows: %d checked, %d questions asked, %d updates in %.1f s",
                     report.checked, report.asked, report.updates, report.seconds)
            with self._lock:
                self._pending -= 1


def _worker(config, url: str, work, done) -> None:
    """The app's re-answering process: the lowest CPU priority, so that the operating system runs
    the app's answers first (a thread would share the app's interpreter lock with them); several
    runs queued meanwhile make one round. Ends with its parent."""
    from rag.service import Service
    from rag.team.db import open_url

    os.nice(19)
    parent = os.getppid()
    service, database = Service(config), open_url(url)
    watcher = FollowWatcher(service, lambda: FollowStore(database))
    while os.getppid() == parent:
        try:
            batch = [work.get(timeout=5.0)]
        except queue.Empty:
            continue
        while not work.empty():
            batch.append(work.get())
        changed = [doc_id for item in batch for doc_id in item[0]]
        removed = [doc_id for item in batch for doc_id in item[1]]
        try:
            report = watcher.refresh(changed, removed)
        except Exception:
            log.exception("re-answering followed questions failed")
            report = Refresh()
        for _ in batch[1:]:
            done.put(Refresh())  # each run sent is answered once
        done.put(report)
