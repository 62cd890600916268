"""One story, one address: URLs as the keys of fetched articles.

The same article is linked in many ways: with tracking parameters (`utm_source`, `fbclid`, ...),
as its AMP page, with or without `www.`, a default port or a fragment. `canonical_url` folds those
into one key before anything is fetched; after fetching, the page's own `rel=canonical` (read by
trafilatura) may fold it further, but only when it names a page of the same site: a page cannot
claim another site's article (rag/ingest/feeds.py decides what such a claim may change).
courlan (a trafilatura dependency) strips the trackers and normalises the rest.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

# Query parameters that only select the AMP rendering of a page.
AMP_PARAMS = {"amp", "outputtype", "amp_js_v", "usqp"}
_AMP_PATH = re.compile(r"(?:/amp/?$)|(?:\.amp(?=\.html?$))|(?:^/amp(?=/))", re.I)


def canonical_url(url: str) -> str:
    """`url` without what does not change the article: scheme and host in lower case, no default
    port, no fragment, no tracking or AMP parameters, sorted query, no AMP path marker, and no
    `www.`/`amp.`/`m.` host prefix (the key is never fetched, the link it came from is)."""
    url = url.strip()
    try:
        normal = normalize_url(url, strict=False, trailing_slash=False)
    except (ValueError, AttributeError):
        return url
    parts = urlsplit(normal)
    host = re.sub(r"^(?:www|amp|m)\.", "", parts.netloc)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in AMP_PARAMS]
    path = _AMP_PATH.sub("", parts.path) or "/"
    if path != "/" and path.endswith("/"):
        path = path.rstrip("/")
    return urlunsplit((parts.scheme, host, path, urlencode(sorted(query)), ""))


def site(url: str) -> str:
    """The site of a URL for the same-site rule: its host without `www.`, `amp.` or `m.`, and
    without further sub-domains beyond the last three labels (news.example.co.uk stays whole)."""
    host = (urlsplit(url).hostname or "").lower()
    host = re.sub(r"^(?:www|amp|m)\.", "", host)
    labels = host.split(".")
    return ".".join(labels[-3:]) if len(labels) > 3 else host


def same_site(a: str, b: str) -> bool:
    sa, sb = site(a), site(b)
    return bool(sa) and (sa == sb or sa.endswith("." + sb) or sb.endswith("." + sa))


def slug(url: str, limit: int = 60) -> str:
    """A readable file-name stem from the last path segment of `url`."""
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    last = re.sub(r"\.(?:s?html?|php|aspx?)$", "", last, flags=re.I)
    words = re.sub(r"[^A-Za-z0-9]+", "-", last).strip("-").lower()
    return words[:limit].strip("-") or "article"


def host_folder(url: str) -> str:
    host = (urlsplit(url).hostname or "unknown").lower()
    return re.sub(r"[^a-z0-9.-]+", "-", re.sub(r"^www\.", "", host)).strip(".-") or "unknown"
