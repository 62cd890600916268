"""A hostile site costs bounded time and memory, and each bad item is reported with a one-line
reason while the rest of the poll goes on."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from rag.config import Config
from rag.ingest.feeds import FeedError
from rag.ingest.fetching import FetchError, Fetcher
from tests.fetching.conftest import QUICK, loopback_is_public
from tests.fetching.newsserver import bomb, huge

EXPECTED = {
    "/hostile/drip": "took longer than 2 s (RAG_FETCH_DEADLINE)",
    "/hostile/endless": "larger than 1.0 MB (RAG_FETCH_MAX_BYTES)",
    "/hostile/bomb": "larger than 1.0 MB (RAG_FETCH_MAX_BYTES)",
    "/hostile/huge": "larger than 1.0 MB (RAG_FETCH_MAX_BYTES)",
    "/hostile/loop": "redirect loop",
    "/hostile/chain": "more than 5 redirects (RAG_FETCH_MAX_REDIRECTS)",
    "/hostile/image": "wrong content type image/png",
    "/hostile/missing": "HTTP 404",
    "/hostile/error": "HTTP 500",
    "/hostile/to-metadata": "169.254.169.254 is a cloud metadata address",
    "/private/secret-memo": "robots.txt of 127.0.0.1 does not allow",
}


def test_a_poll_of_a_hostile_feed_reports_each_bad_item_and_keeps_the_good_ones(service, site):
    bomb()  # made before the poll: compressing it takes the server longer than the client waits
    started = time.monotonic()
    info, report = service.feeds.add(site.url("/hostile/feed.xml"))
    seconds = time.monotonic() - started
    reasons = {s.source.replace(site.base, ""): s.reason for s in report.skipped}
    assert set(reasons) == set(EXPECTED)
    for path, expected in EXPECTED.items():
        assert expected in reasons[path], (path, reasons[path])
        assert "\n" not in reasons[path]
    # The two good articles, and the page that falsely claims one of them, as its own article.
    assert len(report.added) == 3 and report.index.added
    assert info.last_error is None and info.new_articles == 3
    assert seconds < 20  # the drip is cut at the 2 s deadline, the rest run beside it


@pytest.mark.parametrize("path", ["/hostile/bomb", "/hostile/endless", "/hostile/huge"])
def test_a_body_is_never_held_past_the_size_limit(site, path):
    """The bomb inflates to 64 MB, the endless body has no end: at most about the limit is held.
    (The server runs in this process: its bodies are made before memory is traced.)"""
    bomb(), huge()
    limit = 1024 * 1024
    with Fetcher(Config().with_(**QUICK).fetch, refuse=loopback_is_public) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="larger than 1.0 MB"):
                fetcher.get(site.url(path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * limit


@pytest.mark.parametrize("path, reason", [
    ("/hostile/malformed.xml", "malformed feed"),
    ("/hostile/image", "wrong content type image/png for a feed"),
    ("/hostile/missing", "HTTP 404"),
    ("/hostile/loop", "redirect loop"),
    ("/articles/museum-reopens", "names no readable feed or sitemap"),
])
def test_what_is_not_a_feed_cannot_be_added(service, site, path, reason):
    with pytest.raises(FeedError, match=reason) as caught:
        service.feeds.add(site.url(path))
    assert "\n" not in str(caught.value)
    assert service.feeds.list() == []


def test_a_feed_that_breaks_later_records_its_error_and_the_other_feeds_go_on(service, site):
    service.feeds.add(site.url("/atom.xml"), poll=False)
    service.feeds.add(site.url("/feed.json"), poll=False)
    site.broken = {"/atom.xml"}
    report = service.feeds.poll()
    assert [(s.source, s.reason) for s in report.skipped] == [(site.url("/atom.xml"), f"HTTP 503 from {site.url('/atom.xml')}")]
    assert len(report.added) == 3
    feeds = {f.url: f for f in service.feeds.list()}
    assert feeds[site.url("/atom.xml")].last_error == f"HTTP 503 from {site.url('/atom.xml')}"
    assert feeds[site.url("/atom.xml")].last_ok is None
    assert feeds[site.url("/feed.json")].last_error is None and feeds[site.url("/feed.json")].new_articles == 3
    site.broken = set()
    again = service.feeds.poll()  # the articles are known by now: nothing new, the error is cleared
    assert again.added == [] and service.feeds.list()[0].last_error is None


def test_a_site_whose_robots_txt_cannot_be_read_is_not_fetched(site):
    site.broken = {"/robots.txt"}  # 503: RFC 9309 says to assume everything is disallowed
    with Fetcher(Config().with_(**QUICK).fetch, refuse=loopback_is_public) as fetcher:
        with pytest.raises(FetchError, match=r"robots.txt of 127.0.0.1 could not be read \(HTTP 503"):
            fetcher.get(site.url("/articles/museum-reopens"))
    assert site.hits["/articles/museum-reopens"] == 0
