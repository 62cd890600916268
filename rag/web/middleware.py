"""The app's edge: what every HTTP request passes before it reaches a route or Gradio.

Each class is one ASGI middleware with one job; `rag/web/app.py` stacks them. They refuse with a
one-line JSON `{"detail": ...}` and a 4xx status, before any request body reaches Gradio.

- `ForwardedHeaders`: X-Forwarded-For/-Proto/-Host are believed only from the configured proxies
  (uvicorn's own default trusts 127.0.0.1, so any local process or misrouted client could pick
  its address and the login throttle's key).
- `SameOrigin`: a page on another site may not call the app (Gradio's own CORS handling grants
  every origin, with credentials, whenever the Host is not localhost); unknown Host names are
  refused where a DNS-rebinding page could otherwise reach a login-less local app.
- `ResponseHeaders`: the login cookie is SameSite=Lax, and Secure over HTTPS (Gradio sets
  SameSite=None, which sends it with other sites' requests); no other site may frame the app.
- `RequestLimits`: bounded body size and nesting, the argument count of API calls, and a rate
  limit per user (or client address), so that one client can neither make a request expensive to
  parse nor fill the queue everyone shares.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rag import metrics
from rag.web.guards import MAX_UPLOAD_FILES

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_FORWARDED = (b"x-forwarded-", b"forwarded")
# A question, a conversation and its settings fit in a few hundred KB of JSON even at the history
# limits; the request body cap only has to keep parsing cheap.
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
_CALL = re.compile(r"/gradio_api/(?:call|run|api)/([\w-]+)/?$")
# Requests that start work: a question, an event on the page, an upload, a JSON API or MCP call.
_STARTS_WORK = re.compile(
    r"/gradio_api/(?:queue/join|call/[\w-]+|run/[\w-]+|api/[\w-]+|upload)/?$|^/api/v1/(?:ask|search|links|feeds)/?$|^/mcp/?$"
)


def refuse(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    # "detail" as FastAPI and Gradio clients read errors, "error" as the JSON API (rag/api) does.
    return JSONResponse({"detail": message, "error": message}, status_code=status, headers=headers)


def client_address(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class ForwardedHeaders:
    """Believe proxy headers only from `proxies` (addresses or networks); strip them otherwise."""

    def __init__(self, app, proxies: Iterable[str]):
        self.networks = [ipaddress.ip_network(p) for p in proxies]
        self.app = ProxyHeadersMiddleware(app, trusted_hosts=[str(n) for n in self.networks]) if self.networks else app

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and not self.trusted(client_address(scope)):
            # Gradio builds its own URLs from X-Forwarded-Host: a client may not choose them.
            headers = [(k, v) for k, v in scope["headers"] if not k.startswith(_FORWARDED)]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _authority(value: str, scheme: str = "http") -> str:
    """host[:port] lowercased, without the scheme's default port."""
    value = value.strip().lower()
    default = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}.get(scheme, "")
    return value[: -len(default)] if default and value.endswith(default) else value


def _hostname(authority: str) -> str:
    """The host of host[:port], without the brackets of an IPv6 address."""
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


class SameOrigin:
    """Refuse a request whose Origin is another site's, unless it is in `allowed`; and, when
    `hosts` is given, one whose Host header names none of them.

    Same origin means the Origin's host[:port] is the Host the request was sent to (or that of
    `public_origin`); the scheme is not compared, because a TLS proxy may speak plain HTTP to the
    app. Requests without an Origin (scripts, gradio_client, curl, top-level navigation) carry
    no other site's authority and pass."""

    def __init__(self, app, allowed: Iterable[str], public_origin: str | None, hosts: Iterable[str] | None):
        self.app = app
        self.allowed = frozenset(allowed)
        self.public = _authority(public_origin.split("://", 1)[1], public_origin.split("://", 1)[0]) if public_origin else None
        self.hosts = frozenset(hosts) if hosts is not None else None

    def same_origin(self, origin: str, host: str) -> bool:
        if origin in self.allowed:
            return True
        scheme, sep, rest = origin.partition("://")
        if not sep or "/" in rest:
            return False  # "null" (sandboxed frames, file: pages) and malformed values
        authority = _authority(rest, scheme)
        return authority == _authority(host, scheme) or authority == self.public

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.hosts is not None and _hostname(_authority(host)) not in self.hosts:
            response = refuse(421, "This app does not answer to that host name; set RAG_PUBLIC_URL to the address users reach it at.")
            return await response(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and not self.same_origin(origin.strip().lower(), host):
            response = refuse(403, "Requests from other sites are refused (see RAG_ALLOWED_ORIGINS).")
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


class ResponseHeaders:
    """Every cookie the app sets is SameSite=Lax (so other sites' requests never carry the login)
    and, when the request came over HTTPS or `https` is set, Secure. No page of another site may
    frame the app (a framed page could be clicked through unseen), nor sniff a type it was not given."""

    ADDED = [(b"x-frame-options", b"SAMEORIGIN"), (b"x-content-type-options", b"nosniff")]

    def __init__(self, app, https: bool):
        self.app, self.https = app, https

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        secure = self.https or scope.get("scheme") == "https"

        async def send_with_policy(message):
            if message["type"] == "http.response.start":
                headers = [(k, _cookie(v, secure) if k.lower() == b"set-cookie" else v) for k, v in message["headers"]]
                present = {k.lower() for k, _ in headers}
                message = {**message, "headers": headers + [(k, v) for k, v in self.ADDED if k not in present]}
            await send(message)

        await self.app(scope, receive, send_with_policy)


def _cookie(value: bytes, secure: bool) -> bytes:
    parts = [p.strip() for p in value.decode("latin-1").split(";")]
    kept = [p for p in parts if p and p.split("=", 1)[0].strip().lower() not in ("samesite", "secure")]
    return "; ".join(kept + ["SameSite=Lax"] + (["Secure"] if secure else [])).encode("latin-1")


class RateLimiter:
    """A token bucket per client address: `per_minute` requests a minute, in bursts of up to that
    many. Memory is bounded: the least recently seen addresses are forgotten first."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000):
        self.rate, self.capacity, self.clock, self.max_clients = per_minute / 60.0, float(per_minute), clock, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> float:
        """Take one token for `address`: 0 when it may go on, else how long until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(address, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                tokens -= 1
                wait = 0.0
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[address] = (tokens, now)  # re-inserted: dicts keep insertion order
            while len(self._buckets) > self.max_clients:
                del self._buckets[next(iter(self._buckets))]
        return wait


class RequestLimits:
    """Bounds on what one request may ask of the server, checked before Gradio reads it.

    `arity(path, body)` gives the number of values the endpoint a JSON body calls takes (None:
    not an event call, or an unknown one, which Gradio refuses itself). `requester(scope)` names
    whom the rate limit counts: a logged-in user by name (colleagues behind one office address
    each get their own allowance), anyone else by address."""

    def __init__(self, app, max_upload_bytes: int, rate_limit: int, arity: Callable[[str, dict], int | None],
                 requester: Callable[[dict], str] = client_address):
        self.app = app
        self.max_upload_request = MAX_UPLOAD_FILES * max_upload_bytes + 1024 * 1024
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.arity = arity
        self.requester = requester

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if self.limiter and _STARTS_WORK.search(path):
            wait = self.limiter.wait_seconds(self.requester(scope))
            if wait > 0:
                metrics.rate_limited()
                seconds = math.ceil(wait)
                response = refuse(429, f"Too many requests; try again in {seconds} s.", {"Retry-After": str(seconds)})
                return await response(scope, receive, send)
        headers = Headers(scope=scope)
        upload = path.rstrip("/").endswith("/upload")
        cap = self.max_upload_request if upload else MAX_JSON_BYTES
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            response = refuse(413, f"The request is larger than {cap / 1e6:.0f} MB.")
            return await response(scope, receive, send)
        if upload:
            if declared is None:  # h11 holds a body to its declared length, so that bounds it
                return await refuse(411, "An upload must declare its length.")(scope, receive, send)
            return await self.app(scope, receive, send)
        body = await _read_body(receive, cap)
        if body is None:
            return await refuse(413, f"The request is larger than {cap / 1e6:.0f} MB.")(scope, receive, send)
        # FastAPI reads a body without a content type as JSON too.
        kind = headers.get("content-type", "")
        problem = self._check_json(path, body) if "json" in kind or not kind else None
        if problem:
            return await refuse(400, problem)(scope, receive, send)
        await self.app(scope, _replay(body, receive), send)

    def _check_json(self, path: str, body: bytes) -> str | None:
        if not body:
            return None
        try:
            value = json.loads(body)
        except RecursionError:
            return f"The request is nested more than {MAX_JSON_DEPTH} levels deep."
        except ValueError:
            return "The request is not valid JSON."
        if _depth(value) > MAX_JSON_DEPTH:
            return f"The request is nested more than {MAX_JSON_DEPTH} levels deep."
        if not isinstance(value, dict) or "data" not in value:
            return None
        expected = self.arity(path, value)
        data = value["data"]
        # Fewer values than inputs, as Gradio itself (which ignores extra ones), but said in one line.
        if expected is not None and (not isinstance(data, list) or len(data) < expected):
            return f"This endpoint takes {expected} values in 'data'."
        return None


def _depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


async def _read_body(receive, cap: int) -> bytes | None:
    """The whole request body, or None once it passes `cap` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def call_name(path: str) -> str | None:
    """The API name a /gradio_api/call|run|api/NAME request calls."""
    match = _CALL.search(path)
    return match.group(1) if match else None
