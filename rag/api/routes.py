"""The JSON API under /api/v1: asking, searching, the corpus, your conversations, and (for editors)
links and feeds, for programs that hold a personal token (rag/team/tokens.py).

A request authenticates with `Authorization: Bearer <token>` only: cookies are never read here, so
a page on another site cannot spend a logged-in user's session on this API. The token acts as its
user with the user's role as it is at that request. Body size, nesting and the rate limit are the
app's edge (rag/web/middleware.py) for this API and the web page alike; errors are one line of
JSON, `{"error": "..."}`, with the status that fits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import metrics
from rag.errors import RagError
from rag.service import Service
from rag.team.accounts import Account
from rag.team.conversations import NotFound
from rag.types import Answer
from rag.web import guards
from rag.web.chat import ALL_OUTLETS, ANSWER_KEYS, _as_of

log = logging.getLogger("rag.api")
MAX_URLS = 20
MAX_URL_CHARS = 2000


class ApiError(Exception):
    """An error a client gets as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# Requests ----------------------------------------------------------------------------------------


class Filters(BaseModel):
    """Which articles may answer: one outlet, a published-date range, and the day of asking."""

    outlet: str | None = Field(None, max_length=200, description="only this outlet (publisher), case-insensitive")
    since: str | None = Field(None, max_length=10, description="published on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    until: str | None = Field(None, max_length=10, description="published on or before (YYYY, YYYY-MM or YYYY-MM-DD)")
    as_of: str | None = Field(None, max_length=10, description="the day the question is asked (YYYY-MM-DD, default today)")
    top_k: int | None = Field(None, ge=guards.TOP_K_RANGE[0], le=guards.TOP_K_RANGE[1], description="sources to cite")


class AskRequest(Filters):
    """A question, alone, after earlier turns (`history`) or in one of your saved conversations."""

    question: str = Field(..., description="the question")
    history: list[tuple[str, str]] | None = Field(None, description="earlier [question, answer] pairs")
    conversation: str | None = Field(
        None, max_length=64, description='"new" to save to a new conversation, or the id of one of yours to continue it',
    )
    stream: bool = Field(False, description="server-sent events: `delta` events of text, then one `answer` event")


class SearchRequest(Filters):
    """Passages only, no answer."""

    query: str = Field(..., description="what to search for")


class LinksRequest(BaseModel):
    urls: list[str] = Field(..., min_length=1, max_length=MAX_URLS, description="article pages to fetch and index")


class FeedRequest(BaseModel):
    url: str = Field(..., max_length=MAX_URL_CHARS, description="a feed, a (news) sitemap, or a site's home page")


# Who is calling ------------------------------------------------------------------------------------


def caller(request: Request) -> Account:
    """The account the request's bearer token acts as (the app's `ApiTokens` in `app.state.tokens`)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send a personal API token: Authorization: Bearer <token>.")
    account = request.app.state.tokens.account(token.strip())
    if account is None:
        metrics.login_failed("api_token")
        raise ApiError(401, "This token is unknown, expired or revoked, or its account was removed.")
    return account


def editor(account: Annotated[Account, Depends(caller)]) -> Account:
    if not account.role.can_upload:
        raise ApiError(403, "Adding articles needs an editor or admin account.")
    return account


# Module-level: FastAPI reads these annotations by name from the module.
User = Annotated[Account, Depends(caller)]
Editor = Annotated[Account, Depends(editor)]


# The app -----------------------------------------------------------------------------------------


def build_api(service: Service, team, tokens) -> FastAPI:
    """The API as its own FastAPI app (mounted at /api/v1 by rag/web/app.py), with its own
    OpenAPI document at /api/v1/openapi.json. `team` is the web app's `Team` (accounts,
    conversations); `tokens` the `ApiTokens` store."""
    api = FastAPI(
        title="newsrag API", version="1", docs_url=None, redoc_url=None,
        description="Cited answers from the team's news articles. Authenticate with `Authorization: Bearer <token>` "
                    "(make one in the app's Settings or with `rag tokens add`).",
    )

    api.state.tokens = tokens

    @api.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg', 'invalid')}"}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def unexpected(_request, exc: Exception):
        log.exception("API request failed", exc_info=exc)
        return JSONResponse({"error": "Something went wrong; the details are in the server log."}, status_code=500)

    def counted(operation: str, status: int = 200) -> None:
        metrics.api_call(operation, status)

    @api.get("/me", summary="Who this token acts as")
    def me(account: User) -> dict:
        return {"user": account.username, "role": account.role.value}

    @api.post("/ask", summary="Answer a question with cited sources (or stream it)")
    async def ask(body: AskRequest, account: User):
        question, filters, history, target = _ask_arguments(service, team, account, body)

        def save(answer: Answer) -> dict:
            if target is False:
                return {}
            turn = team.save_answer(service, account, target, answer, filters.get("top_k"),
                                    filters.get("publisher") or ALL_OUTLETS, body.as_of)
            return {"conversation": turn.conversation_id, "turn": turn.turn_id}

        if body.stream:
            counted("ask_stream")
            return StreamingResponse(
                _sse(service.stream(question, history=history, **filters), save),
                media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        try:
            answer = await asyncio.to_thread(service.ask, question, history, **filters)
            kept = await asyncio.to_thread(save, answer)
        except RagError as exc:
            counted("ask", 400)
            raise ApiError(400, str(exc)) from None
        counted("ask")
        return _answer_json(answer) | kept

    @api.post("/search", summary="The passages a query retrieves, with scores and metadata")
    async def search(body: SearchRequest, account: User) -> dict:
        try:
            query = guards.question_text(body.query, service.config.answering.max_question_chars)
            filters = _filters(body)
            top_k = filters.pop("top_k")
            passages = await asyncio.to_thread(service.retrieve, query, top_k, **filters)
        except RagError as exc:
            counted("search", 400)
            raise ApiError(400, str(exc)) from None
        counted("search")
        return {"passages": [asdict(p) for p in passages]}

    @api.get("/sources", summary="Every article in the index")
    def sources(account: User) -> dict:
        counted("sources")
        return {"sources": [asdict(s) for s in service.sources()]}

    @api.get("/documents/{doc_id:path}", summary="One article's cleaned text and metadata")
    def document(doc_id: str, account: User) -> dict:
        doc = service.document(doc_id) if len(doc_id) <= 500 else None
        if doc is None:
            counted("document", 404)
            raise ApiError(404, "No such document.")
        counted("document")
        return asdict(doc)

    @api.get("/conversations", summary="Your saved conversations, newest first")
    def conversations(account: User, search: str | None = None) -> dict:
        if search is not None and len(search) > 200:
            raise ApiError(400, "search may have at most 200 characters.")
        found = team.conversations.list(account.id, search or None)
        return {"conversations": [asdict(c) for c in found]}

    @api.get("/conversations/{conversation_id}", summary="One of your conversations with its answers")
    def conversation(conversation_id: str, account: User) -> dict:
        try:
            view = team.conversations.open(account.id, conversation_id)
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        return _conversation_json(view)

    @api.delete("/conversations/{conversation_id}", summary="Delete one of your conversations")
    def delete_conversation(conversation_id: str, account: User) -> dict:
        try:
            team.conversations.delete(account.id, conversation_id)
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        return {"deleted": conversation_id}

    @api.post("/links", summary="Fetch article pages and index them (editors)")
    async def links(body: LinksRequest, account: Editor) -> dict:
        urls = [u.strip() for u in body.urls]
        if any(not u or len(u) > MAX_URL_CHARS for u in urls):
            raise ApiError(400, f"Each URL is an http(s) address of at most {MAX_URL_CHARS:,} characters.")
        report = await _fetching(lambda: service.add_urls(urls))
        counted("links")
        return _report_json(report)

    @api.get("/feeds", summary="The feeds the app follows")
    def feeds(account: User) -> dict:
        return {"feeds": [asdict(f) for f in service.feeds.list()]}

    @api.post("/feeds", summary="Follow a feed, a sitemap or a site, and poll it now (editors)")
    async def add_feed(body: FeedRequest, account: Editor) -> dict:
        info, report = await _fetching(lambda: service.feeds.add(body.url.strip()))
        counted("feeds")
        return {"feed": asdict(info), "poll": _report_json(report) if report else None}

    return api


def _filters(body: Filters) -> dict:
    """The service's keyword arguments for a request's filters, checked as the web app checks them."""
    return {
        "top_k": body.top_k, "as_of": _as_of(body.as_of),
        **{k: v for k, v in (("publisher", body.outlet), ("since", body.since), ("until", body.until)) if v},
    }


def _ask_arguments(service: Service, team, account: Account, body: AskRequest):
    """(question, filters, history, target conversation) for an ask, or ApiError 400/404. The
    target is False when the answer is not saved, None for a new conversation."""
    try:
        question = guards.question_text(body.question, service.config.answering.max_question_chars)
        filters = _filters(body)
    except RagError as exc:
        raise ApiError(400, str(exc)) from None
    if body.conversation is None:
        return question, filters, [tuple(p) for p in body.history or []], False
    if body.history:
        raise ApiError(400, "Send either history or conversation, not both.")
    if body.conversation.strip() == "new":
        return question, filters, [], None
    try:
        saved = team.conversations.open(account.id, body.conversation.strip()).history()
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    limits = service.config.answering
    return question, filters, saved[-limits.max_history_turns:] if limits.max_history_turns else [], body.conversation.strip()


def _sse(events: Iterator[str | Answer], save: Callable[[Answer], dict]) -> Iterator[str]:
    """Server-sent events: `delta` events ({"text": ...}) as the answer is written, then one
    `answer` event with the checked answer (its text replaces the deltas), or one `error` event."""
    try:
        for event in events:
            if isinstance(event, Answer):
                yield _event("answer", _answer_json(event) | save(event))
            else:
                yield _event("delta", {"text": event})
    except RagError as exc:
        yield _event("error", {"error": str(exc)})
    except Exception:
        log.exception("streaming an answer failed")
        yield _event("error", {"error": "Something went wrong; the details are in the server log."})


def _event(name: Literal["delta", "answer", "error"], data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _fetching(work: Callable):
    """Run a fetch (links, a feed) off the event loop; its RagError is the client's 400."""
    try:
        return await asyncio.to_thread(work)
    except RagError as exc:
        raise ApiError(400, str(exc)) from None


def _answer_json(answer: Answer) -> dict:
    out = answer.to_dict()
    return {k: out[k] for k in ANSWER_KEYS}


def _report_json(report) -> dict:
    return {
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "skipped": [{"source": s.source, "reason": s.reason} for s in report.skipped],
    }


def _conversation_json(view) -> dict:
    return {
        "conversation_id": view.conversation_id, "title": view.title,
        "created_at": view.created_at, "updated_at": view.updated_at,
        "turns": [
            {"turn": t.turn_id, "question": t.question, "answer": t.answer, "answerable": t.answerable,
             "asked_at": t.created_at, "citations": [asdict(c) for c in t.citations]}
            for t in view.turns
        ],
    }
