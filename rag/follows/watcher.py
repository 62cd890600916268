"""Re-answer followed questions when the news changes.

The service calls `FollowWatcher.changed(summary)` after every indexing run that added, changed
or removed articles (a feed poll, a link fetch, an upload, `rag index`). The watcher picks the
follows those articles could affect (rag/follows/matching.py), asks each again as of today with
its filters, compares the answer with the one last seen (rag/follows/changes.py) and records
an update, new sources, or nothing.

In the app this runs in one background thread at the lowest CPU priority, one question at a time,
each only when no user's question is being answered (rag/follows/pacing.py), with a short pause
between them; the command line runs it in place before it exits.
"""

from __future__ import annotations

import logging
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
USER_WAIT_SECONDS = 5.0  # longest a re-answer waits for users' questions to finish


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
    """Keeps the follows in `store()` current with `service`'s index. `background`: in a thread
    (the app), else in the thread that indexed (the command line)."""

    def __init__(self, service, store: Callable[[], FollowStore], background: bool = True):
        self.service, self._store, self.background = service, store, background
        settings = service.config.team
        self.share, self.pause = settings.follow_match, settings.follow_pause_ms / 1000
        self._queue: queue.Queue[tuple[list[str], list[str]]] = queue.Queue()
        self._pending = 0  # runs queued or under way
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last = Refresh()

    def changed(self, summary: IndexSummary) -> None:
        """The service's index listener."""
        work = ([*summary.added, *summary.updated], list(summary.removed))
        if not self.background:
            self.last = self.refresh(*work)
            return
        with self._lock:
            self._pending += 1
            self._queue.put(work)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="follows", daemon=True)
                self._thread.start()

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until the queued re-answers are done; returns whether they are."""
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
        gate, edited = self.service.foreground, set(changed)
        # Users of one newsroom follow the same stories: each question (with its filters) is asked once.
        same: dict[tuple, list[Followed]] = {}
        for follow in store.load(chosen):
            same.setdefault((" ".join(follow.question.lower().split()), tuple(sorted(follow.filters.items()))), []).append(follow)
        for group in same.values():
            gate.wait_idle(USER_WAIT_SECONDS)
            try:
                with gate.background():
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
                time.sleep(self.pause)  # let waiting requests have the interpreter
        report.seconds, report.cpu_seconds = time.perf_counter() - started, time.thread_time() - cpu
        return report

    def _run(self) -> None:
        try:  # Linux sets a nice value per thread: this one yields the CPU to answering users
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        while True:
            changed, removed = self._queue.get()
            taken = 1
            while not self._queue.empty():  # several runs queued: one round for all of them
                more = self._queue.get()
                changed, removed, taken = changed + more[0], removed + more[1], taken + 1
            try:
                self.last = self.refresh(changed, removed)
                log.info("follows: %d checked, %d questions asked, %d updates in %.1f s",
                         self.last.checked, self.last.asked, self.last.updates, self.last.seconds)
            except Exception:
                log.exception("re-answering followed questions failed")
            finally:
                with self._lock:
                    self._pending -= taken
