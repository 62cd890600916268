"""A real HTTP server on 127.0.0.1 posing as a news site, for the fetching tests and benchmark.

    with NewsServer() as site:
        site.url("/feed.xml")        # http://127.0.0.1:<port>/feed.xml
        site.hits["/feed.xml"]       # requests per path (what a re-poll downloaded)
        site.not_modified["/feed.xml"]   # of those, answered 304 Not Modified

It serves (all generated here from the stories below, so the tests read them in one place):
- `/`: a home page that links its RSS feed with `<link rel="alternate">`;
- `/feed.xml` (RSS 2.0), `/atom.xml`, `/feed.json` (JSON Feed), `/news-sitemap.xml` (a Google
  news sitemap), `/sitemap-index.xml` (pointing at the news sitemap): with ETag and
  Last-Modified, answering 304 to a matching conditional request;
- `/articles/<slug>`: article pages (headline, byline, outlet, date, rel=canonical), their AMP
  versions at `/articles/<slug>/amp`, print versions at `/print/<slug>` (only their rel=canonical
  says what they are), and `/go/<slug>` redirecting to them;
- `/bulk/<n>`: `bulk` generated articles, listed by `/bulk-feed.xml` (the benchmark);
- `/robots.txt`, which disallows `/private/`;
- the hostile cases under `/hostile/`: `drip` (a byte every 0.2 s, forever), `endless` (an endless
  body), `bomb` (a gzip body that inflates to 64 MB), `loop` (redirects in a circle), `chain` (too
  many redirects), `malformed.xml`, `image` (an article link that is a PNG), `missing` (404),
  `error` (500), `huge` (10 MB of text), `claims` (a page claiming another article's canonical URL
  with a different text), `to-metadata` (a redirect to 169.254.169.254), and `feed.xml` (a feed
  listing all of them beside two good articles);
- hostile listings (each one the feed itself, not an item): `comments.xml` (40 empty XML comments
  and no root: exponential for a backtracking prolog regex), `doctype.xml` (a billion laughs whose
  DOCTYPE subset opens with `<!-- ]><rss> -->`, padded past 64 KB), `laughs-utf16.xml` (a billion
  laughs in UTF-16), `bad-redirect` (a redirect to `http://[::1`, which urljoin cannot read),
  `slow-feed.xml` (a feed of `slow_items` items that each drip for 1.5 s).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import ssl
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Story:
    slug: str
    title: str
    outlet: str
    author: str
    published: str
    paragraphs: list[str]


WIRE = [
    "The city council of Riverton voted on Tuesday to close the old harbour bridge to cars from next spring, ending months of debate over its safety.",
    "Engineers told the council that corrosion in the steel supports had advanced faster than expected since the last inspection in 2022.",
    "Mayor Helen Ortiz said the decision was painful but necessary, and promised that pedestrians and cyclists would keep using the bridge while repairs went on.",
    "Shop owners on the harbour front warned that the closure would cut the number of visitors during the summer season, when ferries bring tourists to the old town.",
    "The repairs are expected to cost 48 million dollars and to take about three years, according to the city's transport department.",
]
STORIES = {
    s.slug: s
    for s in [
        Story("riverton-bridge-closure", "Riverton to close harbour bridge to cars", "Coastal Times", "Maria Lind",
              "2025-05-14", WIRE),
        # The same wire story in another outlet: a different headline, one sentence added.
        Story("harbour-bridge-shut", "Harbour bridge in Riverton will shut to traffic", "Valley Herald", "Maria Lind",
              "2025-05-14", WIRE + ["The Valley Herald has asked the council for the engineers' full report."]),
        # A different article on the same event: it must never be dropped as a duplicate.
        Story("bridge-closure-reactions", "Ferry operators welcome Riverton bridge decision", "Coastal Times", "Tom Berg",
              "2025-05-15", [
                  "Ferry operators in Riverton said on Wednesday they would add evening crossings once the harbour bridge closes to cars.",
                  "The largest operator, Blue Line Ferries, expects its passenger numbers to double during the three years of repairs.",
                  "Commuters interviewed at the ferry terminal were divided, with several saying the crossing took twice as long as the drive.",
                  "The port authority said it would build a second landing stage by the end of the year to handle the extra boats.",
              ]),
        Story("museum-reopens", "Riverton maritime museum reopens after flood", "Coastal Times", "Ana Costa", "2025-05-12", [
            "The Riverton maritime museum reopened its doors on Monday, eleven months after a winter flood damaged its ground floor.",
            "Curators said that most of the ship models had been saved because volunteers carried them upstairs during the night of the storm.",
            "The restored hall now shows the history of the harbour bridge, including photographs from its opening ceremony in 1931.",
            "Entry will be free for local schools until the end of the summer, the museum's director announced.",
        ]),
    ]
}
FEED_SLUGS = ["riverton-bridge-closure", "bridge-closure-reactions", "museum-reopens"]
HOSTILE = ["drip", "endless", "bomb", "loop", "chain", "malformed.xml", "image", "missing", "error", "huge",
           "claims", "to-metadata", "private"]


@functools.cache
def bomb() -> bytes:
    """64 MB of zeros as a gzip body of about 64 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    return b"".join(packer.compress(block) for _ in range(64)) + packer.flush()


def laughs(root: str = "<rss><channel><title>&i;</title></channel></rss>") -> bytes:
    """A billion laughs: nine levels of ten entity references, a gigabyte once expanded."""
    entities = "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    return f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">{entities}]>{root}'.encode()


def hidden_laughs() -> bytes:
    """The laughs behind a comment that looks like the end of the DOCTYPE and a root element,
    padded past the first 64 KB (what a prefix check or a non-greedy regex reads)."""
    entities = "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!-- ]><rss> -->{" " * 70_000}<!ENTITY a "aaaaaaaaaa">'
            f'{entities}]><rss version="2.0"><channel><title>&i;</title><item><link>https://x.org/1</link></item>'
            f'</channel></rss>').encode()


def article_html(story: Story, canonical: str, amp: bool = False) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(story.title)} | {escape(story.outlet)}</title>
<link rel="canonical" href="{escape(canonical)}">
<meta property="og:site_name" content="{escape(story.outlet)}">
<meta property="og:title" content="{escape(story.title)}">
<meta name="author" content="{escape(story.author)}">
<meta property="article:published_time" content="{story.published}T08:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>{escape(story.title)}</h1>
<p class="byline">By {escape(story.author)}</p>
{body}
</article>
<footer>{'AMP edition. ' if amp else ''}Copyright {escape(story.outlet)}. All rights reserved.</footer>
</body></html>"""


def bulk_story(n: int) -> Story:
    """Generated article `n`: about 320 words (a short news story; two or three chunks), its facts
    varying with `n` so that no two are near-duplicates."""
    topics = ["harbour", "council", "budget", "school", "railway", "hospital", "election", "festival", "museum", "market"]
    places = ["Riverton", "Eastfield", "Marlow", "Kingsbridge", "Ashford", "Northam", "Westcliff", "Oakham"]
    topic, place, district = topics[n % len(topics)], places[n % len(places)], n % 37
    people = ["Helen Ortiz", "Tom Berg", "Ana Costa", "Maria Lind", "Jonas Weber", "Priya Nair", "Luca Rossi"]
    chair, critic = people[n % len(people)], people[(n + 3) % len(people)]
    cost, years, weeks = n % 90 + 10, n % 5 + 1, n % 8 + 2
    paragraphs = [
        f"The {topic} committee of {place} district {district} met on Thursday to discuss plan number {n}, "
        f"a proposal that has divided residents since it was first presented in the spring.",
        f"According to the documents seen by reporters, the plan would cost about {cost} million and take "
        f"{years} years to complete, with the first work starting before the end of the year.",
        f"{chair}, who chairs the committee, said after the meeting that a vote was expected within {weeks} "
        f"weeks and that the members wanted to hear from every neighbourhood before deciding.",
        f"Residents of district {district} asked for more public hearings, saying the {topic} plan had been "
        f"prepared without enough consultation and that several questions were still open.",
        f"Opposition members, led by {critic}, questioned the figures and asked for an independent review "
        f"of the {topic} costs, arguing that similar projects in {places[(n + 1) % len(places)]} had run over budget.",
        f"The regional government has promised to pay for part of the work if the committee approves the plan "
        f"before the summer, a condition that critics called an attempt to rush the decision.",
        f"Local businesses were split. Shop owners near the {topic} site feared months of disruption, while "
        f"builders and suppliers welcomed the prospect of {cost * 12} new jobs during construction.",
        f"A survey published last month found that {40 + n % 30} percent of residents supported the plan, "
        f"{20 + n % 15} percent were against it, and the rest had not made up their minds.",
        f"The committee will publish the full report on its website next week, together with the answers "
        f"to the questions raised at the hearings, {chair} said.",
        f"Plan {n} is the {n % 4 + 2}th proposal of its kind in {place} in ten years; none of the earlier ones "
        f"was carried out in full, which explains much of the scepticism heard on Thursday.",
        f"The next public hearing is scheduled for the first Monday of next month in the town hall of district "
        f"{district}, and the meeting will also be streamed online for those who cannot attend.",
    ]
    day = dt.date(2025, 1, 1) + dt.timedelta(days=n % 300)
    return Story(f"bulk-{n}", f"{place} {topic} plan {n} divides district {district}", "Bulk Gazette", "Desk Editor",
                 day.isoformat(), paragraphs)


@functools.cache
def huge() -> bytes:
    """A page of 10 MB of text."""
    return b"<html><body><p>" + b"word " * (2 * 1024 * 1024) + b"</p></body></html>"


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm and delayed ACKs each
    # keep-alive request would wait 40 ms, which no real server makes a client wait.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        site = self.server.site
        with site.lock:
            site.hits[path] += 1
        if path in site.broken:
            return self._send(503, b"down for maintenance", "text/plain")
        try:
            self._route(path, site)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # Helpers --------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _listing(self, body: bytes, content_type: str) -> None:
        """A feed or sitemap with validators; 304 when the client already has this version."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = formatdate(self.server.site.started, usegmt=True)
        asked = self.headers.get("If-None-Match")
        # As RFC 9110 says: If-None-Match, when sent, decides; If-Modified-Since only without it.
        if asked == etag or (asked is None and self.headers.get("If-Modified-Since") == modified):
            with self.server.site.lock:
                self.server.site.not_modified[self.path.split("?", 1)[0]] += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, body, content_type, {"ETag": etag, "Last-Modified": modified})

    def _redirect(self, location: str, status: int = 301) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # Routes ---------------------------------------------------------------------------------

    def _route(self, path: str, site: "NewsServer") -> None:
        base = site.base
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path == "/":
            page = (f'<!doctype html><html><head><title>Coastal Times</title><link rel="alternate" '
                    f'type="application/rss+xml" href="{base}/feed.xml"></head><body><h1>Coastal Times</h1>'
                    f'<p>Front page.</p></body></html>')
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if path == "/feed.xml":
            return self._listing(rss(base, [site.stories[s] for s in site.feed_slugs], site.query_params), "application/rss+xml")
        if path == "/atom.xml":
            return self._listing(atom(base, [site.stories[s] for s in FEED_SLUGS]), "application/atom+xml")
        if path == "/feed.json":
            return self._listing(json_feed(base, [site.stories[s] for s in FEED_SLUGS]), "application/feed+json")
        if path == "/news-sitemap.xml":
            return self._listing(news_sitemap(base, [site.stories[s] for s in site.feed_slugs]), "application/xml")
        if path == "/sitemap-index.xml":
            body = (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f'<sitemap><loc>{base}/news-sitemap.xml</loc><lastmod>2025-05-15</lastmod></sitemap></sitemapindex>')
            return self._listing(body.encode(), "application/xml")
        if path == "/bulk-feed.xml":
            return self._listing(rss(base, [bulk_story(n) for n in range(site.bulk)], "", "bulk"), "application/rss+xml")
        if path.startswith("/bulk/"):
            n = int(path.rsplit("/", 1)[1])
            story = bulk_story(n)
            return self._send(200, article_html(story, f"{base}/bulk/{n}").encode(), "text/html; charset=utf-8")
        if path.startswith("/go/"):
            return self._redirect(f"{base}/articles/{path[4:]}")
        if path.startswith("/print/"):  # another rendering whose address no rule folds: only rel=canonical tells
            story = site.stories[path[len("/print/"):]]
            return self._send(200, article_html(story, f"{base}/articles/{story.slug}").encode(), "text/html")
        if path.startswith("/articles/"):
            slug, _, amp = path[len("/articles/"):].partition("/")
            story = site.stories.get(slug)
            if story is None:
                return self._send(404, b"not found", "text/plain")
            html = article_html(story, f"{base}/articles/{slug}", amp=bool(amp))
            return self._send(200, html.encode(), "text/html; charset=utf-8")
        if path.startswith("/private/"):
            return self._send(200, article_html(STORIES["museum-reopens"], base + path).encode(), "text/html")
        if path.startswith("/hostile/"):
            return self._hostile(path[len("/hostile/"):], site)
        return self._send(404, b"not found", "text/plain")

    def _hostile(self, name: str, site: "NewsServer") -> None:
        base = site.base
        if name == "feed.xml":
            good = [STORIES["riverton-bridge-closure"], STORIES["museum-reopens"]]
            links = [f"{base}/articles/{s.slug}" for s in good] + [
                f"{base}/hostile/{h}" for h in HOSTILE if h not in ("malformed.xml", "private")
            ] + [f"{base}/private/secret-memo"]
            items = "".join(f"<item><title>Item {i}</title><link>{escape(link)}</link>"
                            f"<pubDate>Wed, 14 May 2025 08:00:00 GMT</pubDate></item>" for i, link in enumerate(links))
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>{items}</channel></rss>'
            return self._send(200, body.encode(), "application/rss+xml")
        if name == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")  # no length: the body ends when the server stops
            self.end_headers()
            while not site.stopping.is_set():
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.2)
            return None
        if name == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<p>" + b"all work and no play " * 3000 + b"</p>"
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            while not site.stopping.is_set():
                self.wfile.write(frame)
            return None
        if name == "bomb":
            return self._send(200, bomb(), "text/html", {"Content-Encoding": "gzip"})
        if name == "loop":
            return self._redirect(f"{base}/hostile/loop-2")
        if name == "loop-2":
            return self._redirect(f"{base}/hostile/loop", 302)
        if name.startswith("chain"):
            step = int(name[5:] or 0)
            return self._redirect(f"{base}/hostile/chain{step + 1}")
        if name == "malformed.xml":
            return self._send(200, b'<?xml version="1.0"?><rss><channel><title>Broken</titl<item><link>', "application/rss+xml")
        if name == "image":
            return self._send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 2000, "image/png")
        if name == "missing":
            return self._send(404, b"gone", "text/html")
        if name == "error":
            return self._send(500, b"oops", "text/html")
        if name == "huge":
            return self._send(200, huge(), "text/html")
        if name == "claims":
            fake = Story("claims", "Riverton bridge to stay open, mayor says", "Coastal Times", "Nobody", "2025-05-16", [
                "In a surprise reversal the mayor of Riverton announced that the harbour bridge would stay open to cars after all.",
                "The statement contradicted every earlier report and was later withdrawn by the city's press office as a hoax.",
                "Residents who called the city hall were told that no such announcement had been made by the mayor.",
            ])
            return self._send(200, article_html(fake, f"{base}/articles/riverton-bridge-closure").encode(), "text/html")
        if name == "to-metadata":
            return self._redirect("http://169.254.169.254/latest/meta-data/")
        if name == "comments.xml":
            return self._send(200, b"<!---->" * 40, "application/xml")
        if name == "doctype.xml":
            return self._send(200, hidden_laughs(), "application/rss+xml")
        if name == "laughs-utf16.xml":
            return self._send(200, laughs().decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16"),
                              "application/xml")
        if name == "bad-redirect":
            return self._redirect("http://[::1")
        if name == "slow-feed.xml":
            items = "".join(f"<item><title>Slow {i}</title><link>{base}/hostile/slow/{i}</link></item>"
                            for i in range(site.slow_items))
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>{items}</channel></rss>'
            return self._send(200, body.encode(), "application/rss+xml")
        if name.startswith("slow/"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(15):  # under the fetch deadline of the slowest test settings, not under a feed budget
                if site.stopping.is_set():
                    break
                self.wfile.write(b"<p>slow ")
                self.wfile.flush()
                time.sleep(0.1)
            return None
        return self._send(404, b"not found", "text/plain")


def rss(base: str, stories: list[Story], query: str = "", folder: str = "articles") -> bytes:
    def link(s: Story) -> str:
        path = s.slug.split("-", 1)[1] if folder == "bulk" else s.slug
        return f"{base}/{folder}/{path}{query}"

    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>{escape(link(s))}</link><guid>{escape(link(s))}</guid>"
        f"<pubDate>{formatdate(dt.datetime.fromisoformat(s.published + 'T08:00:00+00:00').timestamp(), usegmt=True)}</pubDate>"
        f"<author>{escape(s.author)}</author></item>"
        for s in stories
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Coastal Times</title>'
            f"<link>{base}/</link><description>News</description>{items}</channel></rss>").encode()


def atom(base: str, stories: list[Story]) -> bytes:
    entries = "".join(
        f'<entry><title>{escape(s.title)}</title><link href="{base}/articles/{s.slug}"/><id>{base}/articles/{s.slug}</id>'
        f"<updated>{s.published}T08:00:00Z</updated><author><name>{escape(s.author)}</name></author></entry>"
        for s in stories
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Coastal Times</title>'
            f"<id>{base}/</id><updated>2025-05-15T08:00:00Z</updated>{entries}</feed>").encode()


def json_feed(base: str, stories: list[Story]) -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Coastal Times",
        "items": [{"id": s.slug, "url": f"{base}/articles/{s.slug}", "title": s.title,
                   "date_published": f"{s.published}T08:00:00Z", "authors": [{"name": s.author}]} for s in stories],
    }).encode()


def news_sitemap(base: str, stories: list[Story]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}/articles/{s.slug}</loc><lastmod>{s.published}</lastmod><news:news><news:publication>"
        f"<news:name>{escape(s.outlet)}</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{s.published}</news:publication_date><news:title>{escape(s.title)}</news:title>"
        f"</news:news></url>"
        for s in stories
    )
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: "NewsServer"

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up on the hostile routes are the point, not an error


class NewsServer:
    """The site, served from a thread; `stories` and `feed_slugs` may be changed while it runs
    (an edited article, a new feed item)."""

    def __init__(self, bulk: int = 0, tls: tuple[Path, Path] | None = None):
        """`tls`: (certificate, key) files to serve https instead of http."""
        self.bulk = bulk
        self.stories = dict(STORIES)
        self.feed_slugs = list(FEED_SLUGS)
        self.broken: set[str] = set()  # paths that answer 503
        self.slow_items = 20  # items of /hostile/slow-feed.xml
        self.query_params = ""  # e.g. "?utm_source=rss": tracking parameters on every feed link
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()  # 304 answers per path
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.started = time.time()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self.port = self._server.server_address[1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> "NewsServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
