"""A hostile feed, sitemap or home page costs its own feed, never the app: every fetched byte is
parsed in the loader's worker under its time and memory limits, the prolog of XML is read in
linear time, entity declarations are refused in any encoding and however they are hidden, and
any failure while reading one feed is that feed's recorded error while the poll goes on.

Parsing that could hang runs in a worker with a timeout, so a regression fails here rather than
freezing the test run."""

from __future__ import annotations

import time

import pytest

from rag.config import Config
from rag.ingest.feeds import FeedError
from rag.ingest.fetching import Fetched
from rag.ingest.isolation import LoaderWorker
from rag.ingest.listings import DECLARATIONS, ListingError, parse_listing
from rag.ingest.webstate import WebState
from tests.fetching.newsserver import hidden_laughs, laughs

URL = "https://news.example.org/feed.xml"


def fetched(body: bytes, content_type: str = "application/xml") -> Fetched:
    return Fetched(URL, URL, 200, content_type, None, body)


@pytest.fixture(scope="module")
def worker():
    # Generous: a linear parse takes milliseconds; the backtracking one took 22 s for 24 comments
    # and doubled with each more (40: days).
    with LoaderWorker(Config().with_(load_timeout=20.0)) as worker:
        yield worker


def parse(worker: LoaderWorker, body: bytes, content_type: str = "application/xml"):
    return worker.call(parse_listing, fetched(body, content_type), 10**7, size=len(body), error=ListingError)


@pytest.mark.parametrize("body", [
    b"<!---->" * 40,  # the reported body, with 16 comments more
    b"<!---->" * 100_000,
    b"<?xml version='1.0'?>" + b"<!-- -->\n" * 50_000 + b"<!DOCTYPE x>" + b"<!---->" * 50_000,
    b"<?x ?>" * 100_000,
    b"<!DOCTYPE " + b"'a' " * 200_000,  # never closed
    b"<!--" + b"-" * 1_000_000,
])
def test_a_prolog_of_comments_and_declarations_is_read_in_linear_time(worker, body):
    with pytest.raises(ListingError, match="not a feed or sitemap") as caught:
        parse(worker, body)
    assert "took longer" not in str(caught.value)


def test_a_feed_after_a_long_prolog_is_still_read(worker):
    body = b"<!-- note -->\n" * 10_000 + b'<rss version="2.0"><channel><item><link>https://x.org/1</link></item></channel></rss>'
    assert [item.url for item in parse(worker, body).items] == ["https://x.org/1"]


@pytest.mark.parametrize("body", [
    laughs(),
    hidden_laughs(),  # the subset opens with `<!-- ]><rss> -->`, the declarations past 64 KB
    laughs().decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16"),  # no `<!ENTITY` byte string
    laughs().decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16-be"),
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ATTLIST url x CDATA "y">]><urlset></urlset>',  # any internal subset
    b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "x.dtd" [ ]><rss></rss>',
    b'<?xml version="1.0"?><rss><channel><title>x</title></channel></rss><!ENTITY a "b">',  # anywhere
])
def test_entity_declarations_are_refused_however_they_are_hidden(worker, body, monkeypatch):
    with pytest.raises(ListingError) as caught:
        parse(worker, body)
    assert str(caught.value) == DECLARATIONS
    # And here, in this process: feedparser never sees them.
    import feedparser

    monkeypatch.setattr(feedparser, "parse", lambda *a, **k: pytest.fail("feedparser saw the declarations"))
    with pytest.raises(ListingError, match="entity declarations"):
        parse_listing(fetched(body), 10**7)


def test_a_doctype_without_a_subset_is_still_read(worker):
    body = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>Old</title>'
            b"<item><title>One</title><link>https://x.org/1</link></item></channel></rss>")
    assert [item.url for item in parse(worker, body).items] == ["https://x.org/1"]


def test_a_parse_past_the_time_limit_is_stopped_and_the_worker_replaced():
    with LoaderWorker(Config().with_(load_timeout=0.5)) as worker:
        with pytest.raises(ListingError, match=r"took longer than 0\.5 s to read \(RAG_LOAD_TIMEOUT\)"):
            worker.call(time.sleep, 30, error=ListingError)
        assert worker.call(len, b"abc") == 3  # a fresh worker


def test_a_parse_past_the_memory_limit_is_the_items_error():
    with LoaderWorker(Config().with_(load_memory_mb=64)) as worker:
        with pytest.raises(ListingError, match=r"needs more than 64 MB of memory to read \(RAG_LOAD_MEMORY_MB\)"):
            worker.call(bytearray, 1 << 30, error=ListingError)


HOSTILE_FEEDS = {
    "/hostile/comments.xml": "not a feed or sitemap",
    "/hostile/doctype.xml": DECLARATIONS,
    "/hostile/laughs-utf16.xml": DECLARATIONS,
    "/hostile/bad-redirect": "HTTP 301 to an invalid URL",
}


@pytest.mark.parametrize("path, reason", HOSTILE_FEEDS.items())
def test_a_hostile_listing_cannot_be_added_and_says_why(service, site, path, reason):
    with pytest.raises(FeedError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        service.feeds.add(site.url(path))


def test_hostile_feeds_are_their_own_errors_and_the_poll_goes_on(service, site):
    """Followed feeds that turned hostile: each gets its error, the good feed its articles."""
    state = WebState(service.config)
    try:
        for path in HOSTILE_FEEDS:
            state.add_feed(site.url(path), "rss", None, "2025-01-01T00:00:00+00:00")
        state.add_feed(site.url("/feed.xml"), "rss", None, "2025-01-02T00:00:00+00:00")
    finally:
        state.close()
    report = service.feeds.poll()
    feeds = {f.url.replace(site.base, ""): f for f in service.feeds.list()}
    for path, reason in HOSTILE_FEEDS.items():
        assert reason in feeds[path].last_error, (path, feeds[path].last_error)
        assert "\n" not in feeds[path].last_error
    assert feeds["/feed.xml"].last_error is None and feeds["/feed.xml"].new_articles == 3
    assert len(report.added) == 3 and report.index.added


def test_an_unexpected_error_in_one_feed_or_item_is_its_own(service, site, monkeypatch):
    """Whatever a bug on hostile input raises: that feed's error, that item's reason; the poll goes on."""
    from rag.ingest.feeds import Feeds

    read, take = Feeds._read_listing, Feeds._take

    def read_or_fail(self, url, *args, **kwargs):
        if url.endswith("/atom.xml"):
            raise ValueError("a parser bug")
        return read(self, url, *args, **kwargs)

    def take_or_fail(self, plan, *args, **kwargs):
        if "museum-reopens" in plan.url:
            raise KeyError("another bug")
        return take(self, plan, *args, **kwargs)

    monkeypatch.setattr(Feeds, "_read_listing", read_or_fail)
    monkeypatch.setattr(Feeds, "_take", take_or_fail)
    state = WebState(service.config)
    try:
        state.add_feed(site.url("/atom.xml"), "atom", None, "2025-01-01T00:00:00+00:00")
        state.add_feed(site.url("/feed.xml"), "rss", None, "2025-01-02T00:00:00+00:00")
    finally:
        state.close()
    report = service.feeds.poll()
    feeds = {f.url.replace(site.base, ""): f for f in service.feeds.list()}
    assert feeds["/atom.xml"].last_error == "unexpected ValueError while reading it"
    assert feeds["/feed.xml"].last_error is None and feeds["/feed.xml"].new_articles == 2
    reasons = {s.source.replace(site.base, ""): s.reason for s in report.skipped}
    assert reasons["/articles/museum-reopens"] == "unexpected KeyError while reading it"


def test_no_fetched_byte_is_parsed_in_this_process(make_service, site, monkeypatch):
    """Every parser that reads fetched bytes fails if called here: adding a site by its home page
    (feed discovery, robots.txt), a sitemap index (child sitemaps) and their articles still works,
    because all of that runs in the loader's worker."""
    import urllib.robotparser

    import defusedxml.ElementTree
    import feedparser
    import feedparser.encodings
    import trafilatura
    import trafilatura.feeds

    def parsed_here(*args, **kwargs):
        raise AssertionError("fetched bytes parsed in the app's process")

    for owner, name in [(feedparser, "parse"), (feedparser.encodings, "convert_to_utf8"),
                        (defusedxml.ElementTree, "fromstring"), (trafilatura.feeds, "determine_feed"),
                        (trafilatura, "bare_extraction"), (urllib.robotparser.RobotFileParser, "parse")]:
        monkeypatch.setattr(owner, name, parsed_here)
    service = make_service()
    info, report = service.feeds.add(site.url("/"))  # a home page: its feed is discovered
    assert info.url == site.url("/feed.xml") and len(report.added) == 3 and report.skipped == []
    info, report = service.feeds.add(site.url("/sitemap-index.xml"))
    assert info.kind == "sitemap-index" and info.last_error is None and report.skipped == []
    assert site.hits["/robots.txt"] >= 1 and site.hits["/news-sitemap.xml"] >= 1
