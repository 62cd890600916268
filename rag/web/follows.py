"""Followed questions in the app: a "Follow" button under the chat, the sidebar's list of followed
questions with their unread updates, the chosen one's updates (the old and the new answer side by
side, the article that changed it with its outlet and date, when it was seen), and the user's
private Atom feed address (made, replaced or revoked here; served by rag/web/app.py).

Every handler finds the user the way rag/web/team.py does (`TeamHandlers.user`) and acts only on
that user's follows (rag/follows/owners.py says under which id). Everything shown is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import logging

import gradio as gr

from rag.errors import RagError
from rag.follows.api import Follows
from rag.follows.owners import owner_id
from rag.follows.store import Followed, Update
from rag.web.chat import ALL_OUTLETS
from rag.web.render import md_text
from rag.web.team import TeamHandlers

log = logging.getLogger("rag.app")
FEED_PATH = "/feeds/follows/"
CSS = """
#follow-view .follow-pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0.8em; }
#follow-view .follow-answer { white-space: pre-wrap; border: 1px solid #8884; border-radius: 6px; padding: 0.5em; }
#follow-view .follow-update { margin: 0.8em 0; padding-top: 0.5em; border-top: 1px solid #8884; }
#follow-view .unread > p:first-child { font-weight: bold; }
"""


def _e(value) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


def _when(iso: str | None) -> str:
    try:
        return dt.datetime.fromisoformat(iso or "").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return "unknown"


def _answer_html(snapshot: dict) -> str:
    if not snapshot.get("answerable"):
        return "<em>No answer in the articles.</em>"
    short = snapshot.get("short_answer")
    head = f"<strong>{_e(short)}</strong><br>" if short else ""
    return head + _e(snapshot.get("text") or "")


def _article_html(article: dict) -> str:
    if not article:
        return ""
    title = _e(article.get("title") or "an article")
    parts = [_e(article.get("publisher") or "unknown outlet"), _e(article.get("published") or "undated")]
    return f'<p class="follow-article">Changed by: <q>{title}</q> ({", ".join(parts)})</p>'


def update_html(update: Update) -> str:
    """One update: why, the article, when it was seen, the old and the new answer side by side."""
    state = "unread" if update.read_at is None else "read"
    return (
        f'<div class="follow-update {state}" data-update="{update.update_id}">'
        f"<p>{'🔔 ' if update.read_at is None else ''}{_e(update.reason)} "
        f"<small>Seen {update.created_at:%Y-%m-%d %H:%M} UTC</small></p>{_article_html(update.article)}"
        f'<div class="follow-pair"><div><h4>Before</h4><div class="follow-answer old">{_answer_html(update.old)}</div></div>'
        f'<div><h4>Now</h4><div class="follow-answer new">{_answer_html(update.new)}</div></div></div></div>'
    )


def follow_html(follow: Followed, gone: list[dict]) -> str:
    """A followed question: its filters, the answer as last seen with its sources' dates, a note when
    sources left the corpus, then its updates, newest first."""
    filters = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in follow.filters.items())
    sources = follow.answer.get("citations") or []
    dated = "; ".join(f"{_e(c.get('title'))} ({_e(c.get('publisher') or '-')}, {_e(c.get('published') or 'undated')})"
                      for c in sources[:5])
    parts = [f"<h3>{_e(follow.question)}</h3>"]
    if filters:
        parts.append(f"<p><small>{filters}</small></p>")
    if gone:
        parts.append(f'<p class="follow-gone">⚠️ {len(gone)} of the articles this answer cites have left the corpus: '
                     + "; ".join(_e(c.get("title")) for c in gone[:5]) + ".</p>")
    parts.append(f'<p>Answer as last seen ({_e(_when(follow.answer.get("seen_at")))}):</p>'
                 f'<div class="follow-answer current">{_answer_html(follow.answer)}</div>')
    if dated:
        parts.append(f"<p><small>Sources: {dated}</small></p>")
    if follow.updates:
        parts.append(f"<h4>Updates ({len(follow.updates)})</h4>" + "".join(update_html(u) for u in follow.updates))
    else:
        parts.append("<p><em>No updates yet: the answer has not changed since you followed it.</em></p>")
    return "".join(parts)


class FollowPanel:
    """The follow parts of the page over `teamwork` (who is asking) and `follows`."""

    def __init__(self, teamwork: TeamHandlers, follows: Follows):
        self.teamwork, self.follows = teamwork, follows
        self.app_url = teamwork.service.config.web.app_url

    def _owner(self, request) -> str:
        return owner_id(self.teamwork.user(request))

    # Building ---------------------------------------------------------------------------------------

    def sidebar(self) -> None:
        """The sidebar's followed questions (call inside the gr.Sidebar)."""
        with gr.Accordion("Followed questions", open=True, elem_id="follows"):
            self.followed = gr.Radio(choices=[], show_label=False, elem_id="followed")
            with gr.Row():
                self.unfollow = gr.Button("Stop following", size="sm", variant="stop", elem_id="unfollow")
                self.feed = gr.Button("Feed of my updates", size="sm", elem_id="follow-feed")
                self.revoke = gr.Button("Revoke feed", size="sm", elem_id="revoke-feed")
            self.feed_link = gr.Markdown(elem_id="follow-feed-link")

    def chat(self) -> None:
        """The Follow button and the chosen follow's view (call inside the Chat tab)."""
        with gr.Row():
            self.follow_button = gr.Button("Follow this question", size="sm", elem_id="follow")
            self.status = gr.Markdown(elem_id="follow-status")
        self.view = gr.HTML(elem_id="follow-view", js_on_load=None)

    def wire(self, demo: gr.Blocks, session: gr.State, outlet: gr.Dropdown) -> None:
        """The events, once the page's parts exist."""
        self.follow_button.click(self.follow, inputs=[session, outlet], outputs=[self.status, self.followed],
                                 api_visibility="private")
        self.followed.input(self.open, inputs=self.followed, outputs=[self.view, self.followed], api_visibility="private")
        self.unfollow.click(self.remove, inputs=self.followed, outputs=[self.view, self.followed],
                            api_visibility="private")
        self.feed.click(self.new_feed, outputs=self.feed_link, api_visibility="private")
        self.revoke.click(self.revoke_feed, outputs=self.feed_link, api_visibility="private")
        demo.load(self.listing, outputs=self.followed, api_visibility="private")

    # Handlers -----------------------------------------------------------------------------------------

    def _choices(self, owner: str, selected=None):
        rows = self.follows.list(owner)
        choices = [(f"{f.question[:80]}" + (f" · {f.unread} new" if f.unread else ""), f.follow_id) for f in rows]
        value = selected if selected in {f.follow_id for f in rows} else None
        return gr.update(choices=choices, value=value)

    def listing(self, request: gr.Request):
        try:
            return self._choices(self._owner(request))
        except RagError:
            return gr.update(choices=[], value=None)

    def follow(self, session, outlet, request: gr.Request) -> tuple:
        """Follow the chat's last question, with its outlet filter: (status, sidebar list)."""
        pairs = getattr(session, "pairs", None) or []
        try:
            owner = self._owner(request)
            if not pairs:
                return "Ask a question first, then follow it.", gr.update()
            publisher = outlet if isinstance(outlet, str) and outlet and outlet != ALL_OUTLETS else None
            followed = self.follows.add(owner, pairs[-1][0], publisher=publisher)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update()
        except Exception:
            log.exception("following a question failed")
            return "⚠️ Following failed; the details are in the server log.", gr.update()
        return (f"Following “{md_text(followed.question[:120])}”: you will see here when its answer changes.",
                self._choices(owner, followed.follow_id))

    def open(self, follow_id, request: gr.Request) -> tuple:
        """Show a follow and count its updates as seen: (view, sidebar list)."""
        try:
            owner = self._owner(request)
            if follow_id in (None, ""):
                return "", gr.update()
            followed = self.follows.store.get(owner, follow_id)
            self.follows.store.mark_read(owner, follow_id)
        except RagError as exc:
            return f"<p>⚠️ {_e(exc)}</p>", gr.update()
        return follow_html(followed, self.follows.gone(followed)), self._choices(owner, followed.follow_id)

    def remove(self, follow_id, request: gr.Request) -> tuple:
        try:
            owner = self._owner(request)
            if follow_id in (None, ""):
                return "<p>Choose a followed question first.</p>", gr.update()
            self.follows.remove(owner, follow_id)
        except RagError as exc:
            return f"<p>⚠️ {_e(exc)}</p>", gr.update()
        return "<p>No longer followed.</p>", self._choices(owner)

    def new_feed(self, request: gr.Request) -> str:
        try:
            token = self.follows.store.new_feed_token(self._owner(request))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}"
        url = f"{self.app_url}{FEED_PATH}{token}"
        return (f"Your private feed (any earlier address stops working; keep it secret, it needs no login):"
                f"\n\n`{url}`")

    def revoke_feed(self, request: gr.Request) -> str:
        try:
            done = self.follows.store.revoke_feed(self._owner(request))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}"
        return "Your feed address no longer works." if done else "You had no feed address."
