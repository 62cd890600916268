"""A hostile feed costs its own poll a bounded time: a feed of slow items stops at its budget (the
rest waits for the next poll) while the other feeds get their articles, items that failed are
tried again later and later, and removing a feed never waits for a poll under way."""

from __future__ import annotations

import threading
import time

from rag.ingest.webstate import WebState


def follow(service, *urls: str) -> None:
    state = WebState(service.config)
    try:
        for n, url in enumerate(urls):
            state.add_feed(url, "rss", None, f"2025-01-0{n + 1}T00:00:00+00:00")
    finally:
        state.close()


def slow_hits(site) -> int:
    return sum(n for path, n in site.hits.items() if path.startswith("/hostile/slow/"))


def test_a_feed_of_slow_items_stops_at_its_budget_and_the_others_are_polled(make_service, site):
    service = make_service(feed_budget=3.0, deadline=10.0, host_concurrency=8)  # one host here stands for many sites
    follow(service, site.url("/hostile/slow-feed.xml"), site.url("/feed.xml"))
    report = service.feeds.poll()
    feeds = {f.url.replace(site.base, ""): f for f in service.feeds.list()}
    slow = feeds["/hostile/slow-feed.xml"]
    assert "time budget ran out (RAG_FEED_BUDGET)" in slow.last_error and "left for the next poll" in slow.last_error
    assert 0 < slow_hits(site) < site.slow_items  # the rest were never requested
    assert feeds["/feed.xml"].last_error is None and feeds["/feed.xml"].new_articles == 3
    assert len(report.added) == 3


def test_items_that_failed_are_tried_again_later_not_every_poll(make_service, site):
    service = make_service(feed_budget=60.0, deadline=10.0, host_concurrency=8)
    site.slow_items = 3
    follow(service, site.url("/hostile/slow-feed.xml"))
    first = service.feeds.poll()
    assert len(first.skipped) == 3 and slow_hits(site) == 3  # each page: no article text
    site.slow_items = 4  # the feed changed: its items are read again
    second = service.feeds.poll()
    assert second.backed_off == 3 and slow_hits(site) == 4  # only the new item was fetched
    assert "3 failed lately and left for later" in second.lines()[0]
    state = WebState(service.config)
    try:
        state._db.execute("UPDATE failures SET retry_after = 0")  # as if their time had come
    finally:
        state.close()
    site.slow_items = 5
    third = service.feeds.poll()
    assert third.backed_off == 0 and slow_hits(site) == 4 + 5


def test_removing_a_feed_does_not_wait_for_a_poll_and_the_poll_leaves_it_alone(make_service, site):
    service = make_service(feed_budget=120.0, poll_budget=120.0, deadline=10.0)
    slow_url = site.url("/hostile/slow-feed.xml")
    follow(service, slow_url)
    poll = threading.Thread(target=service.feeds.poll)
    poll.start()
    try:
        while slow_hits(site) == 0:
            time.sleep(0.05)
        service.feeds.remove(slow_url, delete_articles=True)  # no "another process is fetching"
        removed_while_polling = poll.is_alive()
    finally:
        poll.join(120)
    assert removed_while_polling
    assert not poll.is_alive()
    assert service.feeds.list() == []
    assert slow_hits(site) < site.slow_items  # the poll stopped starting its items
    state = WebState(service.config)
    try:
        assert state._rows("SELECT COUNT(*) FROM items")[0][0] == 0  # nothing remembered for it afterwards
        assert state._rows("SELECT COUNT(*) FROM failures")[0][0] == 0
    finally:
        state.close()
