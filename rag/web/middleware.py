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
- `RequestLimits`: only the routes the page and the documented API use may be posted to (an
  allow-list: any other spelling of a path is refused, not guessed at); bounded body size and
  nesting, the argument count of API calls, and a rate limit per user (or client address), so that
  one client can neither make a request expensive to parse nor fill the queue everyone shares;
  uploads only for users who may upload, within their quota; a page session (Gradio's session
  hash, which keys the chat's server-side state) belongs to the user who opened it.
- `LoginGuard`: each login attempt is counted before the password is checked (rag/web/guards.py).
"""

from __future__ import annotations

import email.message
import ipaddress
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rag import metrics
from rag.web.guards import MAX_UPLOAD_FILES, LoginThrottle
from rag.web.uploads import UploadLedger

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_FORWARDED = (b"x-forwarded-", b"forwarded")
# A question, a conversation and its settings fit in a few hundred KB of JSON even at the history
# limits; the request body cap only has to keep parsing cheap.
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_FORM_BYTES = 64 * 1024  # a login form: a name and a password of at most 1,024 characters
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Route:
    """What a POST path is for. `kind`: "work" (an event or API call: rate limited, JSON checked),
    "upload", "control" (cancel or reset an event: JSON checked), "login" or "logout"."""

    kind: str
    api_name: str | None = None  # the API endpoint of /gradio_api/call/[v2/]NAME
    keywords: bool = False  # /call/v2/: the values come by parameter name, not as a list


# Every POST the app takes, as Starlette routes it (the path percent-decoded, case as sent). What
# Gradio 6.31's page sends (queue/join, upload, cancel, reset, login) and the documented API
# (call/NAME as gradio_client and curl use it, call/v2/NAME as the API page shows); Gradio's other
# POST routes (direct run/ and api/ calls, streaming, recording, component servers, editing modes)
# serve nothing in this app.
_POSTS = [
    (re.compile(r"/login/?"), "login"),
    (re.compile(r"/logout"), "logout"),
    (re.compile(r"/gradio_api/queue/join/?"), "work"),
    # The page's events that skip the queue (queue=False: Clear, New conversation) post here with
    # their fn_index; other run/ names stay refused.
    (re.compile(r"/gradio_api/run/predict/?"), "work"),
    (re.compile(r"/gradio_api/upload/?"), "upload"),
    (re.compile(r"/gradio_api/(?:cancel|reset)/?"), "control"),
    (re.compile(r"/gradio_api/call/(v2/)?([\w-]+)/?"), "work"),
    # The JSON API and MCP (rag/api): bearer tokens, never cookies; the same limits as the page.
    (re.compile(r"/api/v1/(?:ask|search|links|feeds)/?"), "work"),
    (re.compile(r"/mcp/?"), "work"),
]
# Beside GET and POST, only these take another method: the JSON API's DELETE of a conversation,
# and MCP's DELETE that ends a session (rag/api).
_OTHER_METHODS = re.compile(r"/api/v1/conversations/[\w-]+|/mcp/?")
_SESSION_PATHS = re.compile(r"/gradio_api/(?:heartbeat|stream)/([^/]+)")


def post_route(path: str, api_names: Iterable[str]) -> Route | None:
    """The allowed POST route `path` names, or None (refused)."""
    for pattern, kind in _POSTS:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if match.re.groups == 2:
            name = match.group(2)
            return Route(kind, name, bool(match.group(1))) if name in api_names else None
        return Route(kind)
    return None


def refuse(status: int, message: str, headers: dict | None = None):
    """An ASGI response with `message` as one line of JSON: `{"error": ...}` on the JSON API and MCP
    (rag/api), `{"detail": ...}` elsewhere, as FastAPI and Gradio clients read errors."""

    async def respond(scope, receive, send):
        key = "error" if scope["path"].startswith(("/api/", "/mcp")) else "detail"
        await JSONResponse({key: message}, status_code=status, headers=headers)(scope, receive, send)

    return respond


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


class SessionOwners:
    """Which user opened each page session (Gradio's session hash). The chat's server-side state
    is keyed by the hash alone, so a user who learned another's hash could otherwise read their
    conversation or stream their answers. The first user to use a hash owns it; the oldest
    bindings are forgotten first when there are more than `size`."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, session_hash: str, user: str) -> bool:
        """Whether `user` may use `session_hash` (binding it to them when it is new)."""
        with self._lock:
            owner = self._owners.setdefault(session_hash, user)
            while len(self._owners) > self.size:
                del self._owners[next(iter(self._owners))]
        return owner == user


def _json_type(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this content type as JSON: none given, or application/json
    or application/...+json, compared as the standard says (case-insensitive, parameters allowed)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class RequestLimits:
    """Bounds on what one request may ask of the server, checked before Gradio reads it.

    `api_names`: the public API endpoints (call/NAME); any other POST route is refused.
    `arity(route, body)` gives the number of values the event or endpoint a JSON body calls takes
    (None: unknown, which Gradio refuses itself). `requester(scope)` names whom the rate limit
    counts: a logged-in user by name (colleagues behind one office address each get their own
    allowance), anyone else by address. `uploader(scope)` names the user an upload counts against,
    or None when the requester may not upload. `owner(scope)`: the logged-in user, whose page
    sessions these are (None: no login, one local user)."""

    def __init__(self, app, max_upload_bytes: int, rate_limit: int, api_names: Iterable[str],
                 arity: Callable[[Route, dict], int | None], requester: Callable[[dict], str] = client_address,
                 uploader: Callable[[dict], str | None] = lambda scope: "local", uploads: UploadLedger | None = None,
                 owner: Callable[[dict], str | None] = lambda scope: None):
        self.app = app
        self.max_upload_request = MAX_UPLOAD_FILES * max_upload_bytes + 1024 * 1024
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.api_names = frozenset(api_names)
        self.arity, self.requester, self.uploader, self.uploads, self.owner = arity, requester, uploader, uploads, owner
        self.sessions = SessionOwners()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if "//" in path:  # no route has one, but a mount would hand such a path on
            return await refuse(404, "Not found.")(scope, receive, send)
        if scope["method"] in SAFE_METHODS:
            if not self._session_allowed(scope, _session_of_get(scope)):
                return await refuse(403, "This page session belongs to another user.")(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["method"] != "POST":
            if scope["method"] == "DELETE" and _OTHER_METHODS.fullmatch(path):
                return await self.app(scope, receive, send)
            return await refuse(405, "Method not allowed.")(scope, receive, send)
        route = post_route(path, self.api_names)
        if route is None:
            return await refuse(404, "Not found.")(scope, receive, send)
        if self.limiter and route.kind in ("work", "upload"):
            wait = self.limiter.wait_seconds(self.requester(scope))
            if wait > 0:
                metrics.rate_limited()
                seconds = math.ceil(wait)
                response = refuse(429, f"Too many requests; try again in {seconds} s.", {"Retry-After": str(seconds)})
                return await response(scope, receive, send)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if route.kind == "upload":
            return await self._upload(scope, receive, send, declared)
        cap = MAX_FORM_BYTES if route.kind in ("login", "logout") else MAX_JSON_BYTES
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            return await refuse(413, f"The request is larger than {cap / 1e6:.0f} MB.")(scope, receive, send)
        body = await _read_body(receive, cap)
        if body is None:
            return await refuse(413, f"The request is larger than {cap / 1e6:.0f} MB.")(scope, receive, send)
        if route.kind in ("work", "control"):
            if not _json_type(headers.get("content-type")):
                return await refuse(415, "Send JSON (Content-Type: application/json).")(scope, receive, send)
            problem, value = self._check_json(route, body)
            if problem:
                return await refuse(400, problem)(scope, receive, send)
            session_hash = value.get("session_hash") if isinstance(value, dict) else None
            if not self._session_allowed(scope, session_hash):
                return await refuse(403, "This page session belongs to another user.")(scope, receive, send)
        await self.app(scope, _replay(body, receive), send)

    def _session_allowed(self, scope, session_hash) -> bool:
        if not isinstance(session_hash, str) or not session_hash:
            return True
        user = self.owner(scope)
        return user is None or self.sessions.claim(session_hash, user)

    async def _upload(self, scope, receive, send, declared: str | None):
        user = self.uploader(scope)
        if user is None:
            return await refuse(403, "Adding articles needs an editor or admin account.")(scope, receive, send)
        if declared is None:  # h11 holds a body to its declared length, so that bounds it
            return await refuse(411, "An upload must declare its length.")(scope, receive, send)
        cap = self.max_upload_request
        if not declared.isdigit() or int(declared) > cap:
            return await refuse(413, f"The request is larger than {cap / 1e6:.0f} MB.")(scope, receive, send)
        size = int(declared)
        if self.uploads is None:
            return await self.app(scope, receive, send)
        left = self.uploads.reserve(user, size)
        if left is not None:
            message = (f"Your uploads that are not indexed yet would pass your {self.uploads.quota / 1e6:.0f} MB "
                       f"allowance ({left / 1e6:.1f} MB left); add them to the corpus first.")
            return await refuse(413, message)(scope, receive, send)
        status, chunks = [0], []

        async def send_recording(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and status[0] == 200:
                chunks.append(message.get("body", b""))
            await send(message)

        paths: list[str] = []
        try:
            await self.app(scope, receive, send_recording)
            try:
                listed = json.loads(b"".join(chunks)) if status[0] == 200 else []
            except ValueError:
                listed = []
            paths = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
        finally:
            self.uploads.stored(user, size, paths)

    def _check_json(self, route: Route, body: bytes) -> tuple[str | None, object]:
        """(the problem, or None; the parsed value)."""
        if not body:
            return None, None
        try:
            value = json.loads(body)
        except RecursionError:
            return f"The request is nested more than {MAX_JSON_DEPTH} levels deep.", None
        except ValueError:
            return "The request is not valid JSON.", None
        if _depth(value) > MAX_JSON_DEPTH:
            return f"The request is nested more than {MAX_JSON_DEPTH} levels deep.", None
        if route.kind != "work" or not isinstance(value, dict):
            return None, value
        expected = self.arity(route, value)
        if expected is None:
            return None, value
        if route.keywords:  # values by parameter name (and Gradio's oauth_token)
            if len(value) > expected + 1:
                return f"This endpoint takes at most {expected} values.", value
            return None, value
        data = value.get("data")
        # Fewer values than inputs, as Gradio itself (which ignores extra ones), but said in one line.
        if not isinstance(data, list) or len(data) < expected:
            return f"This endpoint takes {expected} values in 'data'.", value
        return None, value


def _session_of_get(scope) -> str | None:
    """The session hash a GET names: the queue's stream (?session_hash=), a heartbeat or a stream."""
    path = scope["path"]
    if path.rstrip("/") == "/gradio_api/queue/data":
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash")
        return values[0] if values else None
    match = _SESSION_PATHS.match(path)
    return match.group(1) if match else None


class LoginGuard:
    """Counts each login attempt with `throttle` before Gradio's login route checks the password:
    one reservation per attempt, per client address and per name tried (the form's username), so
    guesses sent in parallel cannot all pass while the first ones are being checked."""

    def __init__(self, app, throttle: LoginThrottle):
        self.app, self.throttle = app, throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in ("/login", "/login/"):
            return await self.app(scope, receive, send)
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            return await refuse(413, "The request is too large.")(scope, receive, send)
        try:
            form = await Request(scope, _replay(body, _disconnected)).form(max_files=0, max_fields=10)
            name = form.get("username")
            await form.close()
        except Exception:  # a malformed form: Gradio refuses it in its own words
            name = None
        name = name if isinstance(name, str) else ""
        wait, attempt = self.throttle.reserve(client_address(scope), name)
        if attempt is None:
            seconds = math.ceil(wait)
            response = refuse(429, f"Too many failed logins; try again in {seconds} s.", {"Retry-After": str(seconds)})
            return await response(scope, receive, send)
        status = [0]

        async def send_recording(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), send_recording)
        finally:
            self.throttle.finish(attempt, succeeded=status[0] == 200)
            if status[0] != 200:
                metrics.login_failed("password")


async def _disconnected():
    return {"type": "http.disconnect"}


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
