"""Links, feeds and sitemaps without a network: URL keys, the address rule, and parsing listings
from bytes (every dialect, and what is malformed or hostile)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from rag.config import Config
from rag.errors import ConfigError
from rag.ingest.fetching import Fetched, media_type, refusal
from rag.ingest.links import canonical_url, same_site, slug
from rag.ingest.listings import ListingError, discover_feeds, parse_listing

BASE = "https://news.example.org"


def fetched(body: bytes, content_type: str = "application/xml", url: str = BASE + "/feed") -> Fetched:
    return Fetched(url, url, 200, content_type, None, body)


@pytest.mark.parametrize("url, key", [
    ("https://www.Example.com:443/news/story/?utm_source=tw&fbclid=x#top", "https://example.com/news/story"),
    ("https://example.com/news/story/amp", "https://example.com/news/story"),
    ("https://amp.example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://m.example.com/amp/news/story", "https://example.com/news/story"),
    ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
    ("https://example.com/item?b=2&a=1&utm_medium=rss", "https://example.com/item?a=1&b=2"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
])
def test_links_to_one_story_have_one_key(url, key):
    assert canonical_url(url) == key


def test_different_stories_keep_different_keys():
    keys = {canonical_url(u) for u in (
        "https://example.com/news/story", "https://example.com/news/story-2", "https://example.com/news/story?id=3",
        "https://example.com/news/story?id=4", "https://other.example/news/story", "http://example.com/news/story",
    )}
    assert len(keys) == 6


def test_same_site_and_slugs():
    assert same_site("https://www.example.com/a", "https://amp.example.com/b")
    assert same_site("https://news.example.co.uk/a", "https://example.co.uk/b")
    assert not same_site("https://example.com/a", "https://example.com.evil.org/b")
    assert not same_site("https://alice.github.io/a", "https://bob.github.io/b")
    assert slug("https://example.com/2025/05/Bridge-Closure.html?x=1") == "bridge-closure"
    assert slug("https://example.com/") == "article"


@pytest.mark.parametrize("address, public", [
    ("93.184.215.14", True), ("2606:4700::6810:84e5", True), ("127.0.0.1", False), ("10.0.0.1", False),
    ("172.16.5.5", False), ("192.168.0.1", False), ("169.254.169.254", False), ("100.100.100.200", False),
    ("::1", False), ("fe80::1%eth0", False), ("fc00::1", False), ("::ffff:10.0.0.1", False), ("224.0.0.1", False),
    ("192.0.2.1", False),
    # IPv6 carrying an IPv4 address: judged by what it carries (issue 28).
    ("2002:7f00:1::", False), ("2002:a9fe:a9fe::", False), ("2002:5db8:d70e::1", True),  # 6to4
    ("64:ff9b::a00:1", False), ("64:ff9b::5db8:d70e", True), ("64:ff9b:1::5db8:d70e", False),  # NAT64
    ("::a00:1", False), ("::ffff:93.184.215.14", True), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ("fec0::1", False),  # site-local
])
def test_the_address_rule(address, public):
    assert (refusal(address) is None) == public


def test_media_types():
    assert media_type('text/html; charset="ISO-8859-1"') == ("text/html", "iso-8859-1")
    assert media_type(None) == ("", None)


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Example News</title>
<item><title>Older</title><link>/news/older</link><pubDate>Mon, 12 May 2025 08:00:00 GMT</pubDate></item>
<item><title>Newer</title><link>https://news.example.org/news/newer?utm_source=rss</link>
<pubDate>Wed, 14 May 2025 08:00:00 GMT</pubDate><author>ed@example.org (Ed)</author></item>
</channel></rss>"""


def test_rss_items_newest_first_with_absolute_links():
    listing = parse_listing(fetched(RSS), 10**6)
    assert listing.kind == "rss" and listing.title == "Example News"
    assert [i.url for i in listing.items] == [BASE + "/news/newer?utm_source=rss", BASE + "/news/older"]
    assert [i.published for i in listing.items] == ["2025-05-14", "2025-05-12"]
    assert listing.items[0].stamp  # what tells a later poll that the item changed


def test_atom_and_json_feeds():
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            b'<entry><title>T</title><link href="https://news.example.org/a"/><updated>2025-05-01T00:00:00Z</updated>'
            b'<author><name>Ann</name></author></entry></feed>')
    listing = parse_listing(fetched(atom), 10**6)
    assert listing.kind == "atom" and listing.items[0].author == "Ann" and listing.items[0].published == "2025-05-01"
    json_feed = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
                 b'{"id": "1", "url": "/j/1", "title": "One", "date_published": "2025-05-02T10:00:00Z",'
                 b' "authors": [{"name": "Jo"}]}, {"id": "2"}, 7]}')
    listing = parse_listing(fetched(json_feed, "application/feed+json"), 10**6)
    assert listing.kind == "json" and [(i.url, i.author) for i in listing.items] == [(BASE + "/j/1", "Jo")]


NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.example.org/a</loc><lastmod>2025-05-10</lastmod>
<news:news><news:publication><news:name>Example News</news:name></news:publication>
<news:publication_date>2025-05-09T10:00:00+00:00</news:publication_date><news:title>Story A</news:title></news:news></url>
<url><loc>https://news.example.org/b</loc><lastmod>2025-05-11</lastmod></url>
<url><loc>javascript:alert(1)</loc></url>
</urlset>"""


def test_news_sitemaps_and_sitemap_indexes():
    listing = parse_listing(fetched(NEWS_SITEMAP), 10**6)
    assert listing.kind == "sitemap"
    assert [(i.url, i.published, i.title, i.publisher) for i in listing.items] == [
        (BASE + "/b", "2025-05-11", None, None), (BASE + "/a", "2025-05-09", "Story A", "Example News")]
    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://news.example.org/s1.xml</loc><lastmod>2025-01-01</lastmod></sitemap>"
             b"<sitemap><loc>https://news.example.org/s2.xml</loc><lastmod>2025-06-01</lastmod></sitemap></sitemapindex>")
    listing = parse_listing(fetched(index), 10**6)
    assert listing.kind == "sitemap-index" and [c[0] for c in listing.children] == [BASE + "/s2.xml", BASE + "/s1.xml"]
    gzipped = parse_listing(fetched(gzip.compress(NEWS_SITEMAP), "application/gzip"), 10**6)
    assert len(gzipped.items) == 2


def test_a_gzipped_sitemap_is_inflated_only_to_the_limit():
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = packer.compress(b"<" * (8 * 1024 * 1024)) + packer.flush()  # 8 MB in about 8 KB
    with pytest.raises(ListingError, match="more than 1,000,000 bytes once decompressed"):
        parse_listing(fetched(bomb, "application/gzip"), 1_000_000)


@pytest.mark.parametrize("body, content_type, reason", [
    (b'<?xml version="1.0"?><rss><channel><title>Broken</titl<item><link>', "application/rss+xml", "malformed feed"),
    (b"{not json", "application/json", "malformed JSON"),
    (b'{"title": "no items"}', "application/json", "not a JSON Feed"),
    (b"<!doctype html><html><body>hello</body></html>", "text/html", "a web page, not a feed"),
    (b"http://127.0.0.1:9/feed.xml", "text/plain", "not a feed or sitemap"),  # never fetched by feedparser
    (b"/etc/passwd", "text/plain", "not a feed or sitemap"),  # never opened as a file
    (b"   ", "application/xml", "empty response"),
])
def test_what_is_not_a_readable_listing_says_why_in_one_line(body, content_type, reason):
    with pytest.raises(ListingError, match=reason) as caught:
        parse_listing(fetched(body, content_type), 10**6)
    assert "\n" not in str(caught.value)


def laughs(root: bytes) -> bytes:
    """A billion laughs: nine levels of ten entity references, a gigabyte once expanded."""
    entities = b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
    return b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' + entities + b"]>" + root


@pytest.mark.parametrize("root", [
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.org/&i;</loc></url></urlset>',
    b'<rss version="2.0"><channel><title>&i;</title><item><link>https://x.org/1</link></item></channel></rss>',
])
def test_xml_declaring_entities_is_refused(root):
    with pytest.raises(ListingError, match="entity declarations"):
        parse_listing(fetched(laughs(root)), 10**6)


def test_feed_discovery_on_a_home_page():
    page = (b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="https://news.example.org/atom.xml">'
            b'<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)"></head><body></body></html>')
    assert discover_feeds(fetched(page, "text/html", BASE + "/")) == [BASE + "/rss.xml", BASE + "/atom.xml"]


@pytest.mark.parametrize("name, value, message", [
    ("RAG_FEED_INTERVAL", "-1", "RAG_FEED_INTERVAL must be between 0 and 10080"),
    ("RAG_FETCH_MAX_BYTES", "12", "RAG_FETCH_MAX_BYTES must be between"),
    ("RAG_FETCH_TIMEOUT", "soon", "RAG_FETCH_TIMEOUT must be a number"),
])
def test_bad_fetch_settings_are_one_line_errors(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Config.from_env()


def test_a_doctype_subset_is_refused_however_it_is_hidden():
    """(Bodies that could hang a parser are tested in the worker: tests/fetching/test_hostile_listings.py.)"""
    hidden = (b'<?xml version="1.0"?><!DOCTYPE rss [<!-- ]><rss> -->' + b" " * 70_000 + b'<!ENTITY a "b">]>'
              b"<rss><channel><title>&a;</title></channel></rss>")
    with pytest.raises(ListingError, match="entity declarations or a DOCTYPE internal subset"):
        parse_listing(fetched(hidden), 10**7)
    utf16 = laughs(b"<rss><channel><title>&i;</title></channel></rss>").decode().replace(
        '"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16")
    with pytest.raises(ListingError, match="entity declarations"):
        parse_listing(fetched(utf16), 10**7)


@pytest.mark.parametrize("head, charset", [
    (b'<meta charset="ISO-8859-1">', "iso-8859-1"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', "windows-1252"),
    (b"<p>charset=utf-8</p>", None), (b"<meta " * 700, None),
])
def test_a_pages_meta_charset(head, charset):
    from rag.ingest.listings import meta_charset

    assert meta_charset(head) == charset
