"""The app's feed schedule polls in its own thread, and skips a round another process polls."""

from __future__ import annotations

import time

from rag.ingest.locks import poll_lock
from rag.ingest.schedule import FeedSchedule


def wait_for(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_schedule_polls_the_feeds_in_the_background(service, site):
    service.feeds.add(site.url("/feed.xml"), poll=False)
    with poll_lock(service.config):  # another process is polling: this round is skipped
        schedule = FeedSchedule(service.feeds, seconds=0.3)
        schedule.start()
        time.sleep(1.0)
        assert site.hits["/articles/museum-reopens"] == 0
    try:
        assert wait_for(lambda: service.feeds.list()[0].articles == 3)
    finally:
        schedule.stop()
    assert len(service.sources()) == 3
