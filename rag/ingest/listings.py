"""What a feed URL lists: RSS/Atom (feedparser), JSON Feed, sitemaps and news sitemaps, or, for a
site's home page, the feeds it links to (trafilatura's feed discovery).

Everything here parses bytes the caller fetched (rag/ingest/fetching.py), and it runs in the
loader's worker process (rag/ingest/isolation.py, `LoaderWorker.call`) under its time and memory
limits: a body that makes a parser loop or allocate costs its own feed, never the app. Nothing here
touches the network. feedparser is handed a byte stream, never a string: a string that looks like
a URL or a file name makes it fetch or open it.

XML is first converted to UTF-8 (as feedparser would), so the checks below see the characters the
XML parser will see, whatever the declared encoding (UTF-16 hides `<!ENTITY` from a byte search).
Then XML that declares entities anywhere, or has a DOCTYPE with an internal subset, is refused:
feeds and sitemaps never need them, and nested ones expand to gigabytes ("billion laughs"). The
prolog is read by plain code that skips comments whole, so `<!-- ]><rss> -->` inside a DOCTYPE
cannot end it early, and no regex backtracks on it. Sitemaps are parsed with defusedxml, which
refuses entity declarations itself. Malformed input is a `ListingError` with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from rag.errors import RagError
from rag.ingest.fetching import Fetched

MAX_ITEMS_READ = 50_000  # a sitemap holds at most 50,000 URLs
DECLARATIONS = "XML with entity declarations or a DOCTYPE internal subset is not read"
_SPACE = b" \t\r\n"
_NAME_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME = _NAME_START | frozenset(b"0123456789.:-")
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
    """The items of a fetched feed or sitemap (newest first when dated). Raises ListingError.
    Runs in the loader's worker (`LoaderWorker.call`), never in the app process."""
    body = _gunzipped(fetched.body, max_bytes)
    if not body.strip():
        raise ListingError("empty response")
    if body.lstrip()[:1] == b"{":
        return _json_feed(body, fetched.final_url)
    body = _utf8_xml(body, fetched)
    root = _root_element(body)
    if b"<!entity" in body.lower():
        raise ListingError(DECLARATIONS)
    if root in ("urlset", "sitemapindex"):
        return _sitemap(body, fetched.final_url)
    if root in ("rss", "feed", "rdf", "channel"):
        return _feed(body, fetched)
    if looks_like_html(fetched):
        raise ListingError("a web page, not a feed")
    raise ListingError(f"not a feed or sitemap (starts with {fetched.body.lstrip()[:20]!r})")


def _utf8_xml(body: bytes, fetched: Fetched) -> bytes:
    """The body as UTF-8 with a matching XML declaration, decoded as feedparser decodes it."""
    from feedparser.encodings import convert_to_utf8

    header = fetched.content_type + (f"; charset={fetched.charset}" if fetched.charset else "")
    try:
        return convert_to_utf8({"content-type": header or "application/xml"}, body, {})
    except Exception:  # an encoding no codec reads: the body as it came
        return body


def _root_element(body: bytes) -> str:
    """The root element's local name, lower case ("" when the prolog ends in anything else).
    Plain code, linear in the prolog: comments and processing instructions are skipped whole, and
    a DOCTYPE's quoted literals too. A DOCTYPE with an internal subset is refused."""
    i, n = 0, len(body)
    while True:
        while i < n and body[i] in _SPACE:
            i += 1
        if body.startswith(b"<?", i):
            end = body.find(b"?>", i + 2)
            i = end + 2
        elif body.startswith(b"<!--", i):
            end = body.find(b"-->", i + 4)
            i = end + 3
        elif body[i:i + 9].upper() == b"<!DOCTYPE":
            end, j = -1, i + 9
            while j < n:
                c = body[j]
                if c in b"\"'":
                    j = body.find(bytes([c]), j + 1)
                    if j < 0:
                        break
                elif c == ord("["):
                    raise ListingError(DECLARATIONS)
                elif c == ord(">"):
                    end = j
                    break
                j += 1
            i = end + 1
        elif body.startswith(b"<", i) and i + 1 < n and body[i + 1] in _NAME_START:
            j = i + 1
            while j < n and body[j] in _NAME:
                j += 1
            return body[i + 1:j].decode("ascii").split(":")[-1].lower()
        else:
            return ""
        if end < 0:
            return ""  # an unclosed comment or declaration: nothing after it is read


def discover_feeds(fetched: Fetched) -> list[str]:
    """Feed URLs a home page links to (`<link rel="alternate">`, else likely `<a>` links). Runs in
    the loader's worker (trafilatura and lxml on a hostile page)."""
    from trafilatura.feeds import FeedParameters, determine_feed

    html = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    host = urlsplit(fetched.final_url).hostname or ""
    base = f"{urlsplit(fetched.final_url).scheme}://{urlsplit(fetched.final_url).netloc}"
    try:
        found = determine_feed(html, FeedParameters(base, host, fetched.final_url))
    except Exception:  # lxml on broken markup
        return []
    return [url for url in found if urlsplit(url).scheme in ("http", "https")][:5]


def meta_charset(head: bytes) -> str | None:
    """The charset a page's `<meta ... charset=...>` declares, lower case (plain code: no regex
    backtracks over a hostile page)."""
    lower = head.lower()
    start = lower.find(b"charset=")
    while start >= 0:
        tag = lower.rfind(b"<", 0, start)
        if tag >= 0 and lower.startswith(b"<meta", tag) and b">" not in lower[tag:start]:
            value = lower[start + 8:start + 48].lstrip(b"\"'")
            end = 0
            while end < len(value) and (value[end:end + 1].isalnum() or value[end:end + 1] in (b"-", b"_")):
                end += 1
            if end:
                return value[:end].decode("ascii")
        start = lower.find(b"charset=", start + 8)
    return None


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
    day = str(value).strip()[:10]
    if len(day) != 10 or day[4] != "-" or day[7] != "-":
        return None
    try:
        return dt.date.fromisoformat(day).isoformat()
    except ValueError:
        return None


def _text(value, limit: int = 500) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] or None


def _feed(body: bytes, fetched: Fetched) -> Listing:
    import feedparser

    # The body is UTF-8 by now (`_utf8_xml`), and its declaration says so.
    headers = {"content-location": fetched.final_url,
               "content-type": f"{fetched.content_type or 'application/xml'}; charset=utf-8"}
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
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        raise ListingError(f"malformed XML ({str(exc).splitlines()[0][:100]})") from None
    except DefusedXmlException:
        raise ListingError(DECLARATIONS) from None

    def child_text(node, name: str) -> str | None:
        found = node.find(name)
        if found is None:
            found = node.find(name.replace(SITEMAP_NS, ""))
        return found.text.strip() if found is not None and isinstance(found.text, str) else None

    tag = root.tag.rsplit("}", 1)[-1]
    if tag == "sitemapindex":
        children = []
        for node in _iter(root, "sitemap"):
            loc = child_text(node, f"{SITEMAP_NS}loc")
            if loc and loc.startswith(("http://", "https://")):
                children.append((urljoin(base, loc), child_text(node, f"{SITEMAP_NS}lastmod") or ""))
        children.sort(key=lambda c: c[1], reverse=True)
        return Listing("sitemap-index", None, [], children[:MAX_ITEMS_READ])
    items = []
    for node in _iter(root, "url"):
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


def _iter(root, name: str):
    """Elements named `name`, in the sitemap namespace or in none (some sites leave it out)."""
    return (node for node in root.iter() if node.tag in (f"{SITEMAP_NS}{name}", name))


def _newest_first(items: list[Item]) -> list[Item]:
    """Dated items newest first (a feed may list them in any order), undated ones after, in order."""
    return sorted(items, key=lambda item: item.published or "", reverse=True)

