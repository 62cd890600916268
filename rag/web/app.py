"""The web server: FastAPI routes around the Gradio page, and `main()` behind `python app.py`.

Settings come from the environment (see rag/config.py): RAG_HOST, RAG_PORT, RAG_AUTH="user:password"
(turns on a login page), RAG_MAX_UPLOAD_BYTES, RAG_MAX_QUESTION_CHARS, RAG_CORPUS_DIR, RAG_INDEX_DIR.

Routes: /          the chat (Gradio, rag/web/ui.py)
        /passage/{doc_id}?start=S&end=E   the cleaned article with the cited span highlighted
        /shared/{token}   one shared answer, read-only, for logged-in users
        /feeds/follows/{token}   a user's private Atom feed of their followed questions' updates (no login: the token is the key)
        /health    "ok" once the index is loaded (for scripts and tests)
        /openapi.json   the schema, behind the login when there is one
        POST /logout   ends this login (GET /logout only asks whether to)
API:    gradio_client.Client(url).predict("question", [["q", "a"], ...], 5, api_name="/ask")
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import html
import ipaddress
import logging
import secrets
import sys
import time
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from gradio.utils import get_upload_folder
from prometheus_client import CONTENT_TYPE_LATEST

from rag import logs, metrics
from rag.api.mcp_tools import build_mcp, http_endpoint
from rag.api.routes import build_api
from rag.cli import progress_bar
from rag.config import PROJECT_ROOT
from rag.errors import RagError
from rag.follows.api import watch
from rag.follows.atom import CONTENT_TYPE as ATOM_TYPE
from rag.follows.atom import atom_feed
from rag.follows.store import FollowStore
from rag.team.accounts import reserved_name
from rag.ingest.handoff import HandoffWorker
from rag.ingest.locks import serving
from rag.ingest.schedule import FeedSchedule
from rag.service import Service
from rag.team.conversations import NotFound, citation_notes
from rag.web import guards
from rag.web.middleware import (
    LOOPBACK_NAMES, ForwardedHeaders, LoginGuard, RequestLimits, ResponseHeaders, Route, SameOrigin, client_address,
)
from rag.web.render import login_path, passage_csp, passage_page, shared_page
from rag.web.team import Team
from rag.web.ui import CSS, THEME, build_ui
from rag.web.uploads import UploadLedger

# In the page: the "Log out" link posts to /logout in the same tab, and once a request of the page
# is refused for want of a login (logged out, or the session ended), the tab goes to the login page
# instead of showing bare "Error" badges. Gradio's client calls the global fetch on every request.
SESSION_SCRIPT = """<script>
(() => {
  const home = () => window.location.replace("/");
  const fetchFirst = window.fetch.bind(window);
  window.fetch = async (resource, init) => {
    const response = await fetchFirst(resource, init);
    const url = new URL(resource instanceof Request ? resource.url : String(resource), window.location.href);
    if (response.status === 401 && url.origin === window.location.origin && url.pathname.startsWith("/gradio_api/")) {
      home();
    }
    return response;
  };
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href$="/logout"]') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    fetchFirst("/logout", {method: "POST", credentials: "same-origin"}).finally(home);
  }, true);
})();
</script>"""


def logged_in_user(gradio_app, request: Request) -> str | None:
    """Gradio's login sets a cookie it maps to a user; /passage and /shared honour the same login."""
    cookie = f"access-token-{gradio_app.cookie_id}"
    token = request.cookies.get(cookie) or request.cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}")
    return gradio_app.tokens.get(token)


def blocked_paths(config, upload_folder: str) -> list[str]:
    """Server folders Gradio must never read or serve, even if its own checks were bypassed: the
    project (prompts, .env), the corpus and the index. A folder that holds Gradio's upload folder
    cannot be blocked (uploads would fail), so it is left to the upload-folder check."""
    upload = Path(upload_folder).resolve()
    folders = {PROJECT_ROOT.resolve(), config.paths.corpus_dir.resolve(), config.paths.index_dir.resolve()}
    return sorted(str(f) for f in folders if not upload.is_relative_to(f))


def metrics_allowed(token: str | None, request: Request) -> bool:
    """/metrics for a scraper with RAG_METRICS_TOKEN, or, when none is set, for loopback clients
    only (a Prometheus on the same machine, or a proxy that adds the token)."""
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_account(tokens, scope) -> int | None:
    """The account id a request's personal API token acts as, if it carries a valid one."""
    header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    account = tokens.account(token.strip()) if scheme.lower() == "bearer" and tokens is not None else None
    return account.id if account else None


def allowed_hosts(web) -> list[str] | None:
    """Host names the app answers to, or None for any. Without a login, an app on the loopback
    interface trusts whoever reaches it, and a DNS-rebinding page reaches it under its own name:
    only the loopback names and RAG_PUBLIC_URL's host are accepted then."""
    loopback = web.host in LOOPBACK_NAMES or web.host.startswith("127.")
    if web.auth or not loopback:
        return None
    public = {urlsplit(web.public_url).hostname} if web.public_url else set()
    return sorted(LOOPBACK_NAMES | {web.host} | public)


def api_names(demo: gr.Blocks) -> list[str]:
    """The public API endpoints of `demo` (/gradio_api/call/NAME); the page's own events are private."""
    return sorted(fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility != "private")


def input_counts(demo: gr.Blocks):
    """How many values each event of `demo` takes, for RequestLimits: by API name for
    /gradio_api/call/[v2/]NAME, by fn_index for the page's queue requests."""
    by_index = {index: len(fn.inputs) for index, fn in demo.fns.items()}
    by_name = {fn.api_name: len(fn.inputs) for fn in demo.fns.values() if fn.api_name}

    def count(route: Route, body: dict) -> int | None:
        if route.api_name is not None:
            return by_name.get(route.api_name)
        index = body.get("fn_index")
        return by_index.get(index) if isinstance(index, int) and not isinstance(index, bool) else None

    return count


LOGOUT_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Log out</title>
<form method="post" action="/logout"><p>Log out of this app?</p><button type="submit">Log out</button></form>
<p><a href="/">Back to the app</a></p></html>"""


def build_app(service: Service, started: float, team: Team | None = None) -> FastAPI:
    """The whole app over `service` and `team` (default: opened from the settings): our routes,
    then the Gradio page mounted at "/". `started` is the `time.perf_counter()` of the process
    start, for the "Ready after" line."""
    config = service.config
    team = team or Team.open(service)
    # Gradio's login form asks the accounts (and RAG_AUTH's admin) when there is a login.
    auth = team.check_login if team.login else None
    follows = FollowStore(team.database)
    watch(service, team.database)  # re-answer followed questions after each indexing run, in the background

    def allowed(request: Request) -> bool:
        """A logged-in user whose account still exists (or no login at all)."""
        return not auth or team.account(logged_in_user(gradio_app, request)) is not None

    tools = build_mcp(service)

    @asynccontextmanager
    async def lifespan(_app):
        async with tools.session_manager.run():
            # Uploads never indexed are deleted after RAG_UPLOAD_MAX_AGE, those of an earlier run at once.
            await asyncio.to_thread(uploads.sweep)
            sweeping = asyncio.create_task(_sweep_uploads(uploads))
            print(f"Ready after {time.perf_counter() - started:.1f} s: open {config.web.app_url}", flush=True)
            try:
                yield
            finally:
                sweeping.cancel()

    # FastAPI's /docs and /redoc load their scripts from a CDN (useless offline) and would be
    # public under RAG_AUTH; the schema is served below, behind the login.
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    gradio_app = None  # set after mounting; the routes below read it at request time

    @app.get("/health", response_class=PlainTextResponse)
    def health() -> str:
        return "ok"

    # Programs and agents: the JSON API and MCP, both with personal tokens (bearer only, no cookies).
    app.mount("/api/v1", build_api(service, team, team.tokens))
    app.add_route("/mcp", http_endpoint(tools, team.tokens), methods=["GET", "POST", "DELETE"])
    if config.operations.metrics:
        metrics.watch_index(service.index_size)

        @app.get("/metrics", include_in_schema=False)
        def metrics_page(request: Request):
            if not metrics_allowed(config.operations.metrics_token, request):
                return PlainTextResponse("Forbidden\n", status_code=403)
            return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request):
        if not allowed(request):
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        return JSONResponse(app.openapi())

    @app.get("/passage/{doc_id:path}", response_class=HTMLResponse)
    def passage(doc_id: str, request: Request, start: int | None = None, end: int | None = None):
        if not allowed(request):
            return RedirectResponse(login_path(request.url.path + (f"?{request.url.query}" if request.url.query else "")))
        doc = service.document(doc_id)
        if doc is None:
            return HTMLResponse("<!doctype html><title>Not found</title><p>No such document.</p>", status_code=404)
        nonce = secrets.token_urlsafe(16)
        page = passage_page(doc, start, end, nonce)
        return HTMLResponse(page, headers={"Content-Security-Policy": passage_csp(nonce)})

    @app.get("/feeds/follows/{token}")
    def follow_feed(token: str):
        # The token is the only key (a feed reader cannot log in): unguessable, stored hashed, revocable.
        try:
            owner = follows.feed_owner(token)
        except RagError:
            return PlainTextResponse("No such feed.", status_code=404)
        account = team.accounts.by_id(owner)
        name = account.username if account else reserved_name(owner)
        body = atom_feed(name, follows.feed_updates(owner), f"{config.web.app_url}/feeds/follows/{token}",
                         config.web.app_url, dt.datetime.now(dt.timezone.utc))
        return Response(body, media_type=ATOM_TYPE, headers={"Cache-Control": "private, no-store"})

    @app.get("/logout", response_class=HTMLResponse)
    def logout_page():
        # In place of Gradio's GET /logout: a link or an image on another site must not log anyone
        # out. This page only asks; its form posts to /logout (refused from other sites' pages).
        return HTMLResponse(LOGOUT_PAGE, headers={"Content-Security-Policy": "default-src 'none'; form-action 'self'"})

    @app.post("/logout")
    def logout(request: Request):
        """End this login (its token, in every process serving the team) and go to the login page."""
        if auth:
            for prefix in ("access-token-", "access-token-unsecure-"):
                token = request.cookies.get(f"{prefix}{gradio_app.cookie_id}")
                if token:
                    try:
                        del team.sessions[token]
                    except KeyError:
                        pass
        response = RedirectResponse("/", status_code=303)
        for prefix in ("access-token-", "access-token-unsecure-"):
            response.delete_cookie(f"{prefix}{gradio_app.cookie_id}", path="/")
        return response

    @app.get("/gradio_api/token")
    @app.get("/gradio_api/token/")
    def token(request: Request):
        # Gradio's answers with the login cookie's value, which HttpOnly keeps from the page's scripts.
        return JSONResponse({"token": None, "user": logged_in_user(gradio_app, request) if auth else None})

    @app.get("/shared/{token}", response_class=HTMLResponse)
    def shared(token: str, request: Request):
        # Read-only, for the app's logged-in users only; never without a login (see TeamHandlers.share).
        if not auth or not allowed(request):
            back = html.escape(login_path(request.url.path))  # the login brings the visitor back here
            return HTMLResponse(
                "<!doctype html><title>Log in</title><p>Log in to the app first; this answer opens after.</p>"
                f'<p><a id="login" href="{back}">Log in</a></p>', status_code=401,
            )
        try:
            answer = team.conversations.shared(token)
            owner = team.accounts.by_id(answer.owner_id)  # a removed account's links open for no one
            if owner is None:
                raise NotFound("This link does not exist or was revoked by its owner.")
        except RagError as exc:
            return HTMLResponse(f"<!doctype html><title>Not found</title><p>{html.escape(str(exc))}</p>", status_code=404)
        nonce = secrets.token_urlsafe(16)
        notes = citation_notes(answer.turn.citations, service.document)
        page = shared_page(owner.username, answer.turn, notes, nonce)
        return HTMLResponse(page, headers={"Content-Security-Policy": passage_csp(nonce)})

    upload_folder = get_upload_folder()
    uploads = UploadLedger(upload_folder, config.web.upload_quota_bytes, config.web.upload_max_age * 60.0)
    demo = build_ui(service, team, uploads)
    uploads.recorded = demo.upload_file_set
    # Concurrent users are queued; several answers may run at once (the service is read-only
    # while answering), uploads are limited to one at a time in build_ui.
    demo.queue(default_concurrency_limit=4)
    # Our routes are registered first, so they win over the Gradio app mounted at "/".
    gr.mount_gradio_app(
        app, demo, path="/", auth=auth, auth_message="Log in with your account.",
        max_file_size=config.web.max_upload_bytes, css=CSS, head=SESSION_SCRIPT, footer_links=["api"], theme=THEME,
        allowed_paths=[], blocked_paths=blocked_paths(config, upload_folder),
        show_error=False,  # an unexpected error's text (paths, internals) stays in the server log
    )
    # Gradio checks that every file named in a request was uploaded by a client (and not, say,
    # /etc/passwd) only once the Blocks counts as launched, which `launch()` sets and
    # `mount_gradio_app` does not: without this, a hand-made queue request makes Gradio copy any
    # server file into its cache and serve it.
    demo.has_launched = True
    gradio_app = app.state.gradio = app.routes[-1].app
    if auth:
        # Logins live in the team database (rag/team/sessions.py) under one cookie name, so every
        # process serving the team knows them, and a restart keeps them.
        gradio_app.tokens, gradio_app.cookie_id = team.sessions, team.cookie_name

    # The edge, innermost first (each add_middleware wraps the ones before). Gradio leaves CORS to
    # a parent app that installs CORSMiddleware: this one grants only RAG_ALLOWED_ORIGINS.
    web = config.web
    app.add_middleware(
        CORSMiddleware, allow_origins=list(web.origins), allow_credentials=True,
        allow_methods=["GET", "POST"], allow_headers=["*"],
    )
    app.add_middleware(ResponseHeaders, https=web.https)
    def session_user(scope):
        return logged_in_user(gradio_app, Request(scope)) if auth else None

    def owner(scope) -> str | None:
        """Whose page sessions, quota and allowance a request counts against: the logged-in account,
        by its immutable id (None: no login)."""
        account_id = getattr(session_user(scope), "account_id", None)
        return f"account:{account_id}" if account_id is not None else None

    def requester(scope) -> str:
        # By account id: a token's user and the same user's browser share one allowance.
        account_id = bearer_account(team.tokens, scope)
        if account_id is not None:
            return f"account:{account_id}"
        return owner(scope) or client_address(scope)

    def uploader(scope) -> str | None:
        """Whom an upload counts against: an editor or admin (without a login, the one local user)."""
        user = session_user(scope)
        account = team.account(user) if (user or not auth) else None
        return (owner(scope) or "local") if account and account.role.can_upload else None

    if auth:
        app.add_middleware(LoginGuard, throttle=guards.LoginThrottle())
    app.add_middleware(RequestLimits, max_upload_bytes=web.max_upload_bytes, rate_limit=web.rate_limit,
                       api_names=api_names(demo), arity=input_counts(demo), requester=requester,
                       uploader=uploader, uploads=uploads, owner=owner)
    app.add_middleware(SameOrigin, allowed=web.origins, public_origin=web.public_origin, hosts=allowed_hosts(web))
    app.add_middleware(ForwardedHeaders, proxies=web.proxies)
    return app


async def _sweep_uploads(uploads: UploadLedger) -> None:
    """Delete abandoned uploads every quarter of their allowed age (at most every 5 minutes)."""
    while True:
        await asyncio.sleep(min(300.0, uploads.max_age / 4))
        try:
            await asyncio.to_thread(uploads.sweep)
        except Exception:
            logging.getLogger("rag.app").exception("deleting old uploads failed")


class Server(uvicorn.Server):
    """uvicorn's server, ending Gradio's open streams first on Ctrl-C / SIGTERM."""

    def handle_exit(self, sig, frame):
        # Browsers and clients hold Gradio's heartbeat streams open; end them first, or
        # Ctrl-C / SIGTERM waits for the graceful-shutdown timeout and then prints tracebacks.
        self.config.app.state.gradio.stop_event.set()
        super().handle_exit(sig, frame)


def main(started: float) -> None:
    """Load (or first build) the index, then serve the app until stopped. `started` is the
    `time.perf_counter()` of the process start (see the root app.py)."""
    try:
        service = Service()
    except RagError as exc:  # a bad setting: one line, no traceback
        sys.exit(f"error: {exc}")
    logs.configure(service.config.operations.log_format)
    held = ExitStack()  # taken before the index is opened: one process per embedded index
    try:
        held.enter_context(serving(service.config))
    except RagError as exc:
        sys.exit(f"error: {exc}")
    print(f"Service: {service.describe_mode()}", flush=True)
    try:
        has_index = service.store.exists()
    except RagError as exc:  # e.g. the Chroma server is down: say where, no traceback
        sys.exit(str(exc))
    if not has_index:
        print(f"No index yet: building it from {service.config.paths.corpus_dir} ...", flush=True)
        update, close = progress_bar()
        try:
            summary = service.index(progress=update)
        except RagError as exc:
            sys.exit(f"Cannot build the index: {exc}")
        finally:
            close()
        print("\n".join(summary.lines()), flush=True)
    try:
        service.search_index  # load and warm up now, so the first question is fast
    except RagError as exc:
        sys.exit(str(exc))
    try:
        team = Team.open(service)
    except RagError as exc:  # e.g. the team's PostgreSQL is down: say where, no traceback
        sys.exit(str(exc))
    print(f"Team database: {team.database.label}; " + ("login on." if team.login else "no accounts, no login."), flush=True)
    print(f"Index loaded: {len(service.sources())} documents. Starting the server ...", flush=True)
    app = build_app(service, started, team)
    web = service.config.web
    # Proxy headers are handled by ForwardedHeaders (only from RAG_TRUSTED_PROXIES), not uvicorn.
    # With JSON logs, uvicorn's own records go through the same JSON handler instead of its text one.
    json_logs = service.config.operations.log_format == "json"
    config = uvicorn.Config(app, host=web.host, port=web.port, log_level="warning", timeout_graceful_shutdown=5,
                            proxy_headers=False, **({"log_config": None} if json_logs else {}))
    schedule = FeedSchedule(service.feeds, service.config.fetch.feed_interval * 60.0)
    logging.getLogger("rag.feeds").setLevel(logging.INFO)
    requests = HandoffWorker(service.config, service.index)  # indexing asked for by commands run beside the app
    with held:
        schedule.start()
        requests.start()
        Server(config).run()
        requests.stop()
    schedule.stop(wait=5.0)  # a poll cut short leaves an index that answers; the next one completes it
