"""What a feed URL lists: RSS/Atom (feedparser), JSON Feed, sitemaps and news sitemaps, or, for a
site's home page, the feeds it links to (trafilatura's feed discovery).

Everything here parses bytes the caller fetched (rag/ingest/fetching.py); nothing here touches
the network. feedparser is handed a byte stream, never a string: a string that looks like a URL
or a file name makes it fetch or open it. Sitemaps are read with lxml without entity expansion,
DTDs or network access, and XML that declares entities is refused. Malformed input is a `ListingError` with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from rag.errors import RagError
from rag.ingest.fetching import Fetched

MAX_ITEMS_READ = 50_000  # a sitemap holds at most 50,000 URLs
_XML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<\?[^>]*>\s*)*(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<([A-Za-z_][\w.:-]*)", re.S | re.I,
)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


class ListingError(RagError):
    """A feed or sitemap that cannot be read; the message is one line saying why."""


@dataclass(frozen=True)
class Item:
    """One entry of a listing: an article link and what the listing says about it. `stamp` changes
    when the listing says the article changed (its updated date, or lastmod)."""

    url: str
    title: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) when known
    author: str | None = None
    publisher: str | None = None
    stamp: str = ""


@dataclass
class Listing:
    """A parsed feed or sitemap. `children`: the sitemaps a sitemap index points to."""

    kind: str  # "rss", "atom", "json", "sitemap", "sitemap-index"
    title: str | None = None
    items: list[Item] = field(default_factory=list)
    children: list[tuple[str, str]] = field(default_factory=list)  # (url, lastmod)


def looks_like_html(fetched: Fetched) -> bool:
    head = fetched.body[:1024].lstrip().lower()
    return "html" in fetched.content_type or head.startswith((b"<!doctype html", b"<html"))


def parse_listing(fetched: Fetched, max_bytes: int) -> Listing:
    """The items of a fetched feed or sitemap (newest first when dated). Raises ListingError."""
    body = _gunzipped(fetched.body, max_bytes)
    if not body.strip():
        raise ListingError("empty response")
    if body.lstrip()[:1] == b"{":
        return _json_feed(body, fetched.final_url)
    if b"<!ENTITY" in body[:65536].upper():
        # Feeds and sitemaps never need them; nested ones expand to gigabytes ("billion laughs").
        raise ListingError("XML with entity declarations is not read")
    match = _XML_START.match(body[:4096])
    root = match.group(1).decode("ascii", "replace").split(":")[-1].lower() if match else ""
    if root in ("urlset", "sitemapindex"):
        return _sitemap(body, fetched.final_url)
    if root in ("rss", "feed", "rdf", "channel"):
        return _feed(body, fetched)
    if looks_like_html(fetched):
        raise ListingError("a web page, not a feed")
    raise ListingError(f"not a feed or sitemap (starts with {body.lstrip()[:20]!r})")


def discover_feeds(fetched: Fetched) -> list[str]:
    """Feed URLs a home page links to (`<link rel="alternate">`, else likely `<a>` links)."""
    from trafilatura.feeds import FeedParameters, determine_feed

    html = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    host = urlsplit(fetched.final_url).hostname or ""
    base = f"{urlsplit(fetched.final_url).scheme}://{urlsplit(fetched.final_url).netloc}"
    try:
        found = determine_feed(html, FeedParameters(base, host, fetched.final_url))
    except Exception:  # lxml on broken markup
        return []
    return [url for url in found if urlsplit(url).scheme in ("http", "https")][:5]


def robots_sitemaps(robots_text: str, base: str) -> list[str]:
    """Sitemap URLs named in a robots.txt."""
    from trafilatura.sitemaps import extract_robots_sitemaps

    return extract_robots_sitemaps(robots_text, base)[:5] if robots_text else []


def _gunzipped(body: bytes, max_bytes: int) -> bytes:
    """A `.xml.gz` sitemap served as a file (no Content-Encoding), inflated at most to `max_bytes`."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise ListingError("corrupt gzip data") from None
    if len(out) > max_bytes:
        raise ListingError(f"more than {max_bytes:,} bytes once decompressed (RAG_FETCH_MAX_BYTES)")
    return out


def _iso_day(value) -> str | None:
    """A date as YYYY-MM-DD from feedparser's struct_time or an ISO/RFC 3339 string."""
    if value is None:
        return None
    if hasattr(value, "tm_year"):
        try:
            return dt.date(value.tm_year, value.tm_mon, value.tm_mday).isoformat()
        except ValueError:
            return None
    match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", str(value))
    return match.group(1) if match else None


def _text(value, limit: int = 500) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] or None


def _feed(body: bytes, fetched: Fetched) -> Listing:
    import feedparser

    headers = {"content-location": fetched.final_url, "content-type": fetched.content_type or "application/xml"}
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False)
    except Exception as exc:  # feedparser's own bugs on hostile input
        raise ListingError(f"unreadable feed ({exc.__class__.__name__})") from None
    if not parsed.entries and parsed.get("bozo"):
        reason = str(parsed.get("bozo_exception") or "malformed XML").splitlines()[0][:120]
        raise ListingError(f"malformed feed ({reason})")
    items = []
    for entry in parsed.entries[:MAX_ITEMS_READ]:
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else None)
        if not isinstance(link, str):
            continue
        published = _iso_day(entry.get("published_parsed") or entry.get("updated_parsed"))
        stamp = str(entry.get("updated") or entry.get("published") or "")
        items.append(Item(urljoin(fetched.final_url, link.strip()), _text(entry.get("title")), published,
                          _text(entry.get("author")), None, stamp[:100]))
    kind = "atom" if "atom" in (parsed.get("version") or "") else "rss"
    return Listing(kind, _text(parsed.feed.get("title")), _newest_first(items))


def _json_feed(body: bytes, base: str) -> Listing:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ListingError("malformed JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ListingError("JSON without an 'items' list (not a JSON Feed)")
    items = []
    for entry in data["items"][:MAX_ITEMS_READ]:
        if not isinstance(entry, dict):
            continue
        link = entry.get("url") or entry.get("external_url")
        if not isinstance(link, str):
            continue
        authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
        author = ", ".join(a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)) or None
        published = _iso_day(entry.get("date_published"))
        stamp = str(entry.get("date_modified") or entry.get("date_published") or "")
        items.append(Item(urljoin(base, link.strip()), _text(entry.get("title")), published, _text(author), None, stamp[:100]))
    return Listing("json", _text(data.get("title")), _newest_first(items))


def _sitemap(body: bytes, base: str) -> Listing:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ListingError(f"malformed XML ({str(exc).splitlines()[0][:100]})") from None
    if root is None:
        raise ListingError("malformed XML (nothing readable)")

    def child_text(node, name: str) -> str | None:
        found = node.find(name)
        if found is None:
            found = node.find(name.replace(SITEMAP_NS, ""))
        return found.text.strip() if found is not None and isinstance(found.text, str) else None

    tag = etree.QName(root).localname
    if tag == "sitemapindex":
        children = []
        for node in root.iter(f"{SITEMAP_NS}sitemap", "sitemap"):
            loc = child_text(node, f"{SITEMAP_NS}loc")
            if loc and loc.startswith(("http://", "https://")):
                children.append((urljoin(base, loc), child_text(node, f"{SITEMAP_NS}lastmod") or ""))
        children.sort(key=lambda c: c[1], reverse=True)
        return Listing("sitemap-index", None, [], children[:MAX_ITEMS_READ])
    items = []
    for node in root.iter(f"{SITEMAP_NS}url", "url"):
        loc = child_text(node, f"{SITEMAP_NS}loc")
        if not loc or not loc.startswith(("http://", "https://")):
            continue
        lastmod = child_text(node, f"{SITEMAP_NS}lastmod") or ""
        news = node.find(f"{NEWS_NS}news")
        title = published = publisher = None
        if news is not None:
            title = _text(news.findtext(f"{NEWS_NS}title"))
            published = _iso_day(news.findtext(f"{NEWS_NS}publication_date"))
            publisher = _text(news.findtext(f"{NEWS_NS}publication/{NEWS_NS}name"))
        items.append(Item(loc, title, published or _iso_day(lastmod), None, publisher, lastmod[:100]))
        if len(items) >= MAX_ITEMS_READ:
            break
    if not items and len(root) == 0:
        raise ListingError("a sitemap with no URLs")
    return Listing("sitemap", None, _newest_first(items))


def _newest_first(items: list[Item]) -> list[Item]:
    """Dated items newest first (a feed may list them in any order), undated ones after, in order."""
    return sorted(items, key=lambda item: item.published or "", reverse=True)

