"""A polite HTTP client that a hostile server or a hostile URL cannot turn against us.

Feed and article URLs come from users and from feeds, i.e. from anyone. What this client promises:

- **Where it goes.** http(s) only. Every host name is resolved here and every address it resolves
  to is checked; loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
  reserved, multicast and site-local addresses are refused unless `RAG_FETCH_ALLOW_PRIVATE=1`; an
  IPv6 address that carries an IPv4 one (IPv4-mapped or -compatible, 6to4, NAT64) is judged by the
  IPv4 address it carries, and Teredo and local-use NAT64 addresses are refused. A refusal names
  the host, never what it resolved to (no oracle for the server's own DNS view). The connection
  then goes to the checked address itself (the TLS name and the Host header stay the host name),
  so a DNS answer that changes between the check and the connection (DNS rebinding) cannot move
  it. Each redirect hop is checked the same way, at most `RAG_FETCH_MAX_REDIRECTS` of them, and a
  loop is reported as one. No proxy from the environment is used.
- **What it costs.** `RAG_FETCH_TIMEOUT` for a DNS answer, to connect and for each wait on the
  next bytes; `RAG_FETCH_DEADLINE` for a whole response, checked between reads of at most 64 KB (a
  slow drip is cut off); at most `RAG_FETCH_MAX_BYTES` after decompression, read in bounded steps (a
  decompression bomb is stopped at the limit, never inflated in one piece).
- **Manners.** robots.txt is read per site (and its Crawl-delay honoured), at most
  `RAG_FETCH_HOST_CONCURRENCY` requests per host at a time with `RAG_FETCH_HOST_DELAY` seconds
  between them, and the `RAG_FETCH_USER_AGENT` header.

Every failure is a `FetchError` whose message is one line that says why.

robots.txt is parsed in the loader's worker (rag/ingest/isolation.py), like everything else fetched:
`Fetcher` is handed the feeds' worker, or starts its own.

Written on urllib3 rather than with trafilatura's `fetch_url` or `requests`, because neither lets
the caller choose the address a connection goes to, which the address rules need.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from rag.config import Config, Fetch
from rag.errors import RagError
from rag.ingest.isolation import LoaderWorker

READ_STEP = 64 * 1024
ROBOTS_BYTES = 512 * 1024  # RFC 9309: crawlers must read at least 500 KiB of robots.txt
ROBOTS_TTL = 3600.0
MAX_CRAWL_DELAY = 60.0
# Addresses of cloud providers' metadata services, named as such in the refusal.
METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# What each kind of request accepts as its Content-Type (a missing header is let through: what
# the body is gets checked by its parser).
FEED_TYPES = ("xml", "rss", "atom", "rdf", "json", "text/plain", "text/html", "application/xhtml", "gzip")
PAGE_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/",)
ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
            "text/xml;q=0.9, text/html;q=0.5, */*;q=0.1",
    "page": "text/html, application/xhtml+xml;q=0.9",
    "robots": "text/plain",
}
ALLOWED = {"feed": FEED_TYPES, "page": PAGE_TYPES, "robots": TEXT_TYPES}

Resolver = Callable[[str, int], list[str]]
Refusal = Callable[[str], "str | None"]


class FetchError(RagError):
    """A URL that could not (or may not) be fetched; the message is one line saying why."""


class OutOfTime(FetchError):
    """A request never sent because the feed's time budget (`until`) ran out first."""


@dataclass(frozen=True)
class Fetched:
    """One response body. `url` is the URL asked for, `final_url` where it was found after
    redirects; `not_modified` when a conditional request was answered 304 (then `body` is empty)."""

    url: str
    final_url: str
    status: int
    content_type: str  # the media type, lower case, without parameters ("" when not given)
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the check refuses the name if any of them is refused)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host} ({getattr(exc, 'strerror', None) or exc})") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def refusal(address: str) -> str | None:
    """Why an address may not be fetched from (by default), or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return "a site-local address"
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip in LOCAL_NAT64:
            return "a local-use NAT64 address"
        carried = _carried_ipv4(ip)
        if carried is not None:
            why = refusal(str(carried))
            return f"{why} inside an IPv6 address" if why and ip.ipv4_mapped is None else why
    if ip in METADATA:
        return "a cloud metadata address"
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not ip.is_global:  # shared (100.64/10), documentation, ...
        return "not a public address"
    return None


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or ip in IPV4_COMPATIBLE and int(ip) > 1:  # not :: and ::1, which are IPv6's own
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_robots(text: str, name: str, origin: str) -> tuple[urllib.robotparser.RobotFileParser, list[str]]:
    """A robots.txt's rules and the first five http(s) sitemaps it names. Runs in the loader's worker."""
    rules = urllib.robotparser.RobotFileParser()
    rules.parse(text.splitlines())
    rules.crawl_delay(name)  # reads every entry once here, not in the app
    sitemaps = []
    for named in rules.site_maps() or []:
        try:
            url = urljoin(origin + "/", named.strip())
        except ValueError:
            continue
        if urlsplit(url).scheme in ("http", "https") and url not in sitemaps:
            sitemaps.append(url)
    return rules, sitemaps[:5]


def media_type(header: str | None) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type header."""
    if not header:
        return "", None
    parts = [p.strip() for p in header.split(";")]
    charset = next((p.split("=", 1)[1].strip("\"' ").lower() for p in parts[1:] if p.lower().startswith("charset=")), None)
    return parts[0].lower(), charset or None


class _Hosts:
    """Per-host manners: at most `concurrency` requests at a time, requests started `delay`
    seconds apart (each request reserves its start time, so concurrent ones queue politely)."""

    def __init__(self, concurrency: int, delay: float):
        self.concurrency, self.delay = concurrency, delay
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}
        self._delays: dict[str, float] = {}

    def slow_down(self, host: str, delay: float) -> None:
        with self._lock:
            self._delays[host] = max(self.delay, min(delay, MAX_CRAWL_DELAY))

    @contextmanager
    def turn(self, host: str, deadline: float, late: type[FetchError] = FetchError):
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.concurrency))
        if not slot.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise late(f"{host} was busy with other requests until the deadline")
        try:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next.get(host, 0.0))
                self._next[host] = start + self._delays.get(host, self.delay)
            if start > now:
                time.sleep(start - now)
            yield
        finally:
            slot.release()


class Fetcher:
    """Fetches URLs under the rules in the module docstring. Thread-safe; `close()` when done."""

    def __init__(self, settings: Fetch, resolver: Resolver | None = None, refuse: Refusal | None = None,
                 worker: LoaderWorker | None = None):
        self.settings = settings
        # Parses robots.txt; one of its own (default limits) when not handed the caller's.
        self._worker, self._own_worker = (worker, False) if worker is not None else (LoaderWorker(Config()), True)
        self.resolver = resolver or system_resolver
        self.refuse = refuse or refusal  # tests pass a rule that counts their loopback server as public
        self.robots_name = settings.user_agent.split("/", 1)[0].split()[0] if settings.user_agent.strip() else "*"
        self._hosts = _Hosts(settings.host_concurrency, settings.host_delay)
        self._pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
        # origin -> (when read, rules or None for "everything allowed", its sitemaps, why it could not be read)
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None, list[str], str]] = {}
        self._lock = threading.Lock()
        self._robots_locks: dict[str, threading.Lock] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        if self._own_worker:
            self._worker.close()

    def get(self, url: str, kind: str = "page", etag: str | None = None, last_modified: str | None = None,
            until: float | None = None) -> Fetched:
        """GET `url` (a "feed", "page" or "robots" request: what Content-Type it accepts),
        following redirects; with `etag`/`last_modified`, a conditional request; stopped at
        `until` (a `time.monotonic()` time: a feed's time budget) if that comes before the
        response's own deadline. Raises FetchError."""
        if until is not None and time.monotonic() >= until:
            raise OutOfTime("stopped when the feed's time budget ran out (RAG_FEED_BUDGET): not fetched")
        own = time.monotonic() + self.settings.deadline
        deadline, over = _deadline(own, until, self.settings.deadline)
        current, seen = url, set()
        for _ in range(self.settings.max_redirects + 1):
            parts = self._checked_url(current)
            if current in seen:
                raise FetchError(f"redirect loop at {_short(current)}")
            seen.add(current)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = self._address(parts.hostname, port)
            asked = time.monotonic()
            if kind != "robots" and not self.allowed_by_robots(current, until):
                problem = self._robots[f"{parts.scheme}://{parts.netloc}"][3]
                if problem:
                    raise FetchError(f"robots.txt of {parts.hostname} could not be read ({problem}), so nothing there is fetched")
                raise FetchError(f"robots.txt of {parts.hostname} does not allow {_short(current)}")
            # Reading robots.txt (a response with its own deadline) is not this response's time.
            own += time.monotonic() - asked
            deadline, over = _deadline(own, until, self.settings.deadline)
            with self._hosts.turn(parts.hostname, deadline, OutOfTime if deadline == until else FetchError):
                status, headers, body = self._request(parts, port, address, kind, etag, last_modified, deadline, over)
            if status in (301, 302, 303, 307, 308):
                location = headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {status} without a Location at {_short(current)}")
                try:
                    current = urljoin(current, location.strip())
                except ValueError:  # e.g. "http://[::1": urljoin itself raises
                    raise FetchError(f"HTTP {status} to an invalid URL from {_short(current)}") from None
                continue
            content_type, charset = media_type(headers.get("content-type"))
            if status == 304 and (etag or last_modified):
                return Fetched(url, current, 304, content_type, charset, b"", etag, last_modified)
            if status >= 400 or status < 200:
                raise FetchError(f"HTTP {status} from {_short(current)}")
            return Fetched(url, current, status, content_type, charset, body,
                           headers.get("etag"), headers.get("last-modified"))
        raise FetchError(f"more than {self.settings.max_redirects} redirects (RAG_FETCH_MAX_REDIRECTS) from {_short(url)}")

    def allowed_by_robots(self, url: str, until: float | None = None) -> bool:
        """Whether the site's robots.txt lets our User-Agent fetch `url` (read once an hour per
        site; a missing robots.txt allows everything, an unreachable one nothing, per RFC 9309)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            cached = self._robots.get(origin)
            if cached is None or time.monotonic() - cached[0] > ROBOTS_TTL:
                cached = (time.monotonic(), *self._read_robots(origin, until))
                self._robots[origin] = cached
        rules = cached[1]
        return rules is None or rules.can_fetch(self.robots_name, url)

    def robots_sitemaps(self, url: str) -> list[str]:
        """The sitemaps the robots.txt of `url`'s site names (at most five)."""
        parts = urlsplit(url)
        self.allowed_by_robots(url)
        return self._robots.get(f"{parts.scheme}://{parts.netloc}", (0, None, [], ""))[2]

    def _read_robots(self, origin: str, until: float | None) -> tuple[urllib.robotparser.RobotFileParser | None, list[str], str]:
        try:
            fetched = self.get(origin + "/robots.txt", kind="robots", until=until)
        except FetchError as exc:
            if until is not None and time.monotonic() >= until:
                raise  # cut by a feed's budget, not the site's answer: not remembered
            message = str(exc)
            if message.startswith("HTTP 4"):
                return None, [], ""  # no robots.txt: everything is allowed
            return _NOTHING_ALLOWED, [], message  # unreachable: nothing is
        text = fetched.body[:ROBOTS_BYTES].decode(fetched.charset or "utf-8", errors="replace")
        try:
            rules, sitemaps = self._worker.call(parse_robots, text, self.robots_name, origin, size=len(text),
                                                error=FetchError)
        except FetchError as exc:
            return _NOTHING_ALLOWED, [], str(exc)
        delay = rules.crawl_delay(self.robots_name)
        if delay:
            self._hosts.slow_down(urlsplit(origin).hostname, float(delay))
        return rules, sitemaps, ""

    def _checked_url(self, url: str):
        if not isinstance(url, str) or len(url) > 4096:
            raise FetchError("not a URL (or longer than 4,096 characters)")
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - a bad port raises ValueError now
        except ValueError:
            raise FetchError(f"not a valid URL: {_short(url)}") from None
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs are fetched, not {_short(url)}")
        if not parts.hostname:
            raise FetchError(f"no host in {_short(url)}")
        if parts.username or parts.password:
            raise FetchError(f"URLs with a user name or password are not fetched: {_short(url)}")
        return parts

    def _address(self, host: str, port: int) -> str:
        """The address to connect to: `host` resolved, every address it has checked."""
        try:
            addresses, verb = [str(ipaddress.ip_address(host))], "is"
        except ValueError:
            addresses, verb = self._resolve(host, port), "resolves to"
        if not addresses:
            raise FetchError(f"cannot resolve {host}")
        if not self.settings.allow_private:
            for address in addresses:
                why = self.refuse(address)
                if why:
                    # The address a name resolved to is not shown: it would tell a user what the
                    # server's own DNS says about internal names.
                    raise FetchError(f"refused: {host} {verb} {why} (RAG_FETCH_ALLOW_PRIVATE=1 allows it)")
        return addresses[0]

    def _resolve(self, host: str, port: int) -> list[str]:
        """`resolver(host, port)` within RAG_FETCH_TIMEOUT. The system resolver cannot be
        interrupted, so a slow DNS server is left to answer in a thread nobody waits for."""
        outcome: list = []

        def resolve() -> None:
            try:
                outcome.append(self.resolver(host, port))
            except FetchError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=resolve, name="fetch-dns", daemon=True)
        thread.start()
        thread.join(self.settings.timeout)
        if not outcome:
            raise FetchError(f"no DNS answer for {host} within {self.settings.timeout:g} s (RAG_FETCH_TIMEOUT)")
        if isinstance(outcome[0], FetchError):
            raise outcome[0]
        return outcome[0]

    def _pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(connect=self.settings.timeout, read=self.settings.timeout)
                common = dict(port=port, timeout=timeout, maxsize=self.settings.host_concurrency, retries=False, block=False)
                if scheme == "https":
                    import certifi

                    pool = urllib3.HTTPSConnectionPool(
                        address, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
                        ca_certs=certifi.where(), **common,
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(address, **common)
                self._pools[key] = pool
        return pool

    def _request(self, parts, port: int, address: str, kind: str, etag: str | None, last_modified: str | None,
                 deadline: float, over: str):
        """One request to one checked address: (status, headers, body)."""
        pool = self._pool(parts.scheme, address, port, parts.hostname)
        default_port = port == (443 if parts.scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        headers = {
            "Host": host if default_port else f"{host}:{port}",
            "User-Agent": self.settings.user_agent,
            "Accept": ACCEPT[kind],
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        limit = min(self.settings.max_bytes, ROBOTS_BYTES) if kind == "robots" else self.settings.max_bytes
        where = _short(parts.geturl())
        response, complete = None, False
        try:
            response = pool.urlopen("GET", target, headers=headers, redirect=False, retries=False,
                                    preload_content=False, decode_content=True, assert_same_host=False)
            status, got = response.status, {k.lower(): v for k, v in response.headers.items()}
            if status in (301, 302, 303, 304, 307, 308) or status >= 400:
                return status, got, b""  # the body is not read: the connection is dropped below
            content_type, _ = media_type(got.get("content-type"))
            if content_type and not any(t in content_type for t in ALLOWED[kind]):
                raise FetchError(f"wrong content type {content_type[:60]} for a {kind} at {where}")
            declared = got.get("content-length", "")
            if declared.isdigit() and int(declared) > limit and "content-encoding" not in got:
                raise FetchError(f"larger than {_size(limit)} (RAG_FETCH_MAX_BYTES) at {where}")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{over} at {where}")
                piece = response.read1(READ_STEP)
                if not piece:
                    break
                body += piece
                if len(body) > limit:
                    raise FetchError(f"larger than {_size(limit)} (RAG_FETCH_MAX_BYTES) at {where}")
            complete = True
            return status, got, bytes(body)
        except FetchError:
            raise
        except urllib3.exceptions.ConnectTimeoutError:
            raise FetchError(f"timed out connecting to {parts.hostname}") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise FetchError(f"no data for {self.settings.timeout:g} s (RAG_FETCH_TIMEOUT) from {where}") from None
        except urllib3.exceptions.NewConnectionError:
            raise FetchError(f"could not connect to {parts.hostname}:{port}") from None
        except urllib3.exceptions.SSLError:
            raise FetchError(f"TLS error with {parts.hostname} (certificate or protocol)") from None
        except urllib3.exceptions.DecodeError:
            raise FetchError(f"corrupt compressed body from {where}") from None
        except (Urllib3Error, OSError) as exc:
            raise FetchError(f"connection to {parts.hostname} failed ({exc.__class__.__name__})") from None
        finally:
            if response is not None:
                if not complete:
                    response.close()  # never reused half-read: the next request opens a fresh connection
                response.release_conn()


def _deadline(own: float, until: float | None, seconds: float) -> tuple[float, str]:
    """The time a response must end by, and what to say when it does not: its own deadline, or a
    feed's budget (`until`) when that comes first."""
    if until is not None and until < own:
        return until, "stopped when the feed's time budget ran out (RAG_FEED_BUDGET)"
    return own, f"took longer than {seconds:g} s (RAG_FETCH_DEADLINE)"


_NOTHING_ALLOWED = urllib.robotparser.RobotFileParser()
_NOTHING_ALLOWED.parse(["User-agent: *", "Disallow: /"])


def _short(url: str, limit: int = 120) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(url))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"
