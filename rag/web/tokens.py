"""The chat tab's "API tokens" box: a logged-in user makes, lists and revokes their own personal
tokens for the JSON API and MCP (rag/team/tokens.py). A new token is shown once, in the box."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from rag.errors import RagError
from rag.web.render import md_text

EXPIRY = {"Never": None, "30 days": 30, "90 days": 90, "1 year": 365}
HEADERS = ["Id", "Name", "Made (UTC)", "Last used", "Expires"]


class TokenHandlers:
    """Event handlers over the team's `ApiTokens`; `user(request)` is the caller's account (a
    RagError with the reason when there is none)."""

    def __init__(self, tokens, user: Callable[[gr.Request], object]):
        self.tokens, self.user = tokens, user

    def rows(self, request: gr.Request) -> tuple:
        try:
            listed = self.tokens.list(self.user(request))
        except RagError:
            return [], gr.update(choices=[], value=None)
        rows = [[t.id, t.name, _day(t.created_at), _day(t.last_used_at) or "never",
                 "expired" if t.expired else _day(t.expires_at) or "never"] for t in listed]
        return rows, gr.update(choices=[(f"{t.id} {t.name}".strip(), t.id) for t in listed], value=None)

    def create(self, name, expiry, request: gr.Request) -> tuple:
        try:
            made = self.tokens.create(self.user(request), name if isinstance(name, str) else "",
                                      EXPIRY.get(expiry if isinstance(expiry, str) else "Never"))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", *self.rows(request), gr.update()
        shown = (f"Your new token (shown only now; keep it secret):\n\n`{made.token}`\n\n"
                 "Send it as `Authorization: Bearer <token>` to `/api/v1/...` or `/mcp`.")
        return shown, *self.rows(request), gr.update(value="")

    def revoke(self, token_id, request: gr.Request) -> tuple:
        if not isinstance(token_id, str) or not token_id:
            return "Choose a token to revoke.", *self.rows(request)
        try:
            info = self.tokens.remove(self.user(request), token_id)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", *self.rows(request)
        return f"Revoked token {md_text(info.id)}.", *self.rows(request)


def token_panel(handlers: TokenHandlers, demo: gr.Blocks, visible: bool) -> None:
    """The box's components and events, in the layout where it is called."""
    with gr.Accordion("API tokens", open=False, visible=visible, elem_id="api-tokens"):
        with gr.Row():
            name = gr.Textbox(label="Name (where it is used)", max_length=100, elem_id="token-name")
            expiry = gr.Dropdown(list(EXPIRY), value="Never", label="Expires", elem_id="token-expiry")
        make = gr.Button("Create token", size="sm", elem_id="make-token")
        shown = gr.Markdown(elem_id="token-report")
        table = gr.Dataframe(headers=HEADERS, interactive=False, wrap=True, elem_id="tokens-table")
        with gr.Row():
            chosen = gr.Dropdown(choices=[], label="Token", elem_id="token-choice")
            revoke = gr.Button("Revoke token", size="sm", variant="stop", elem_id="revoke-token")
    make.click(handlers.create, inputs=[name, expiry], outputs=[shown, table, chosen, name], api_visibility="private")
    revoke.click(handlers.revoke, inputs=chosen, outputs=[shown, table, chosen], api_visibility="private")
    demo.load(handlers.rows, outputs=[table, chosen], api_visibility="private")


def _day(moment: str | None) -> str | None:
    return moment.replace("T", " ")[:16] if moment else None
