"""The app's feed schedule: a daemon thread that polls the feeds every `RAG_FEED_INTERVAL`
minutes (0: never) while the app answers.

Answers are not held up: the poll fetches and indexes in this thread, and the app's searches
switch to the new index generation on their next question, as after an upload. Several app
processes sharing one index folder (with a Chroma server) each run the schedule; the poll lock
lets one of them poll and the others skip that round (rag/ingest/locks.py).
"""

from __future__ import annotations

import logging
import threading

from rag.errors import RagError
from rag.ingest.feeds import Feeds

log = logging.getLogger("rag.feeds")
FIRST_POLL_SECONDS = 10.0  # after start-up, not during it


class FeedSchedule:
    """Polls `feeds` every `seconds` (0: never); `start()` it, `stop()` it."""

    def __init__(self, feeds: Feeds, seconds: float):
        self.feeds, self.seconds = feeds, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-schedule", daemon=True)

    def start(self) -> None:
        if self.seconds > 0:
            self._thread.start()

    def stop(self, wait: float = 60.0) -> None:
        """No more polls; waits up to `wait` seconds for one under way to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    def _run(self) -> None:
        wait = min(FIRST_POLL_SECONDS, self.seconds)
        while not self._stop.wait(wait):
            wait = self.seconds
            try:
                if not self.feeds.list():
                    continue
                report = self.feeds.poll()
            except RagError as exc:  # another process polls, or indexing is busy: next round
                log.info("feed poll skipped: %s", exc)
                continue
            except Exception:
                log.exception("feed poll failed")
                continue
            log.info("feeds polled: %s", report.lines()[0])
