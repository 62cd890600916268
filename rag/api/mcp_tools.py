"""The corpus as Model Context Protocol tools (the official `mcp` SDK): ask, search, get a
document, list sources. Two transports over the same tools:

- streamable HTTP at /mcp on the app (rag/web/app.py), for assistants on other machines: every
  request carries a personal token (`Authorization: Bearer ...`), checked by `TokenGuard`;
- stdio, `rag mcp`, for a desktop assistant that starts the process itself: it runs as the local
  user, who can read the index folder anyway, so no token is asked for.

The tools only read; adding articles stays with the app, the API and the CLI.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.responses import JSONResponse

from rag import metrics
from rag.errors import RagError
from rag.retrieval.search import as_of_date
from rag.service import Service
from rag.web import guards

INSTRUCTIONS = (
    "Tools over a team's news articles. `ask` answers a question with numbered citations [n] that quote "
    "the articles verbatim; `search` returns the matching passages only; `get_document` reads one article; "
    "`list_sources` lists what the corpus holds. Pass as_of (YYYY-MM-DD) to ask as of a past day."
)

TopK = Annotated[int | None, Field(ge=guards.TOP_K_RANGE[0], le=guards.TOP_K_RANGE[1],
                                   description="how many sources to cite (default: the app's setting)")]
Outlet = Annotated[str | None, Field(max_length=200, description="only articles from this outlet (publisher)")]
Day = Annotated[str | None, Field(max_length=10, description="a date: YYYY-MM-DD (since/until also take YYYY or YYYY-MM)")]


def build_mcp(service: Service) -> MCPServer:
    """The MCP server with the corpus tools over `service`."""
    server = MCPServer("newsrag", instructions=INSTRUCTIONS, log_level="WARNING")

    def tool(fn):
        return server.tool(description=inspect.cleandoc(fn.__doc__ or ""), structured_output=True,
                           annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False))(fn)

    def filters(outlet, since, until, as_of) -> dict[str, Any]:
        chosen = {"publisher": outlet, "since": since, "until": until}
        return {k: v for k, v in chosen.items() if v} | {"as_of": as_of_date(as_of) if as_of else None}

    @tool
    def ask(
        question: Annotated[str, Field(description="the question, in plain words")],
        top_k: TopK = None, outlet: Outlet = None, since: Day = None, until: Day = None, as_of: Day = None,
    ) -> dict[str, Any]:
        """Answer a question from the news articles, with inline [n] citations. Returns text, citations
        (each with title, outlet, date, url and the verbatim quote), answerable (false: the articles do
        not support an answer), and short_answer with its calibrated confidence."""
        try:
            question = guards.question_text(question, service.config.answering.max_question_chars)
            answer = service.ask(question, top_k=top_k, **filters(outlet, since, until, as_of))
        except RagError as exc:
            metrics.api_call("mcp_ask", 400)
            raise ToolError(str(exc)) from None
        metrics.api_call("mcp_ask", 200)
        out = answer.to_dict()
        keys = ("text", "citations", "answerable", "notice", "short_answer", "short_answer_confidence")
        return {k: out[k] for k in keys}

    @tool
    def search(
        query: Annotated[str, Field(description="words or a question to find passages for")],
        top_k: TopK = None, outlet: Outlet = None, since: Day = None, until: Day = None, as_of: Day = None,
    ) -> dict[str, Any]:
        """The passages that best match a query, best first, with their scores, article titles, outlets,
        dates and URLs. No answer is composed."""
        try:
            query = guards.question_text(query, service.config.answering.max_question_chars)
            passages = service.retrieve(query, top_k, **filters(outlet, since, until, as_of))
        except RagError as exc:
            metrics.api_call("mcp_search", 400)
            raise ToolError(str(exc)) from None
        metrics.api_call("mcp_search", 200)
        return {"passages": [asdict(p) for p in passages]}

    @tool
    def get_document(doc_id: Annotated[str, Field(max_length=500, description="a doc_id from a citation or list_sources")]) -> dict[str, Any]:
        """One article: its cleaned text with title, outlet, author, date and URL."""
        doc = service.document(doc_id)
        if doc is None:
            raise ToolError("No such document.")
        return asdict(doc)

    @tool
    def list_sources() -> dict[str, Any]:
        """Every article in the corpus: doc_id, title, outlet, author, date, URL and size in chunks."""
        return {"sources": [asdict(s) for s in service.sources()]}

    return server


class TokenGuard:
    """ASGI: the MCP endpoint for holders of a personal token only (`tokens.account(token)`)."""

    def __init__(self, app, tokens):
        self.app, self.tokens = app, tokens

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or self.tokens.account(token.strip()) is None:
                metrics.login_failed("mcp_token")
                response = JSONResponse(
                    {"error": "Send a valid personal API token: Authorization: Bearer <token>."}, status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


def http_endpoint(server: MCPServer, tokens, path: str = "/mcp") -> TokenGuard:
    """The streamable HTTP endpoint at `path`, an ASGI app to route that path to; the hosting app's
    lifespan must hold `server.session_manager.run()` open. Stateless with JSON replies: any app
    process behind a proxy can answer any request, and no session outlives its request. Host and
    origin checks are the app's own edge (rag/web/middleware.py), so the SDK's are off here."""
    app = server.streamable_http_app(
        streamable_http_path=path, stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return TokenGuard(app, tokens)


def run_stdio(service: Service) -> None:
    """Serve the tools on standard input and output until the client closes them (`rag mcp`)."""
    build_mcp(service).run("stdio")
