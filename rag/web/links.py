"""The Corpus tab's "Add a link or feed": what happens when a user adds an article link or a
feed, or asks for a poll, and the feed list. `rag/web/ui.py` wires these to the page.

Adding makes the server fetch a URL that a user typed, so it follows the fetcher's address and
size rules (rag/ingest/fetching.py), and who may do it is the caller's `permit` (in the app: a
logged-in editor or admin, rag/web/team.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gradio as gr

from rag.errors import RagError
from rag.service import Service
from rag.types import FetchReport
from rag.web.render import md_text

log = logging.getLogger("rag.app")
ARTICLE, FEED = "Article link", "Feed, sitemap or site"
FEED_HEADERS = ["Feed", "Kind", "Articles", "Last poll", "New", "Last error"]
MAX_URL_CHARS = 2000


class LinkHandlers:
    """Event handlers of the links-and-feeds section, over one service."""

    def __init__(self, service: Service, corpus_rows: Callable[[], list[list]], permit: Callable[[gr.Request], object]):
        self.service = service
        self.corpus_rows = corpus_rows  # the Corpus table's rows, refreshed after a change
        self.permit = permit  # raises a RagError, with the reason, for a user who may not fetch

    def _refusal(self, request: gr.Request) -> str | None:
        try:
            self.permit(request)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}"
        return None

    def feed_rows(self) -> list[list]:
        """Rows of the feed table: URL (or title), kind, articles, last poll, new articles, last error."""
        try:
            feeds = self.service.feeds.list()
        except RagError:
            return []
        return [[f.title and f"{f.title} ({f.url})" or f.url, f.kind, f.articles, (f.last_poll or "never").replace("T", " "),
                 f.new_articles, f.last_error or ""] for f in feeds]

    def add(self, url, kind, request: gr.Request) -> tuple:
        """Add an article link or a feed. Returns (report markdown, feed rows, url box update,
        corpus rows); a component that need not change gets an empty `gr.update()`."""
        unchanged = (gr.update(), gr.update(), gr.update())
        if refusal := self._refusal(request):
            return refusal, *unchanged
        if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_CHARS:
            return f"⚠️ Type an http(s) address of at most {MAX_URL_CHARS:,} characters.", *unchanged
        if kind not in (ARTICLE, FEED):
            return "⚠️ Choose whether it is an article link or a feed.", *unchanged
        try:
            if kind == ARTICLE:
                text = self._report(self.service.add_urls([url.strip()]))
            else:
                info, report = self.service.feeds.add(url.strip())
                text = f"**Following {md_text(info.title or info.url)}** ({md_text(info.kind)}).\n\n{self._report(report)}"
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", *unchanged
        except Exception:
            log.exception("adding a link or feed failed")
            return "⚠️ Something went wrong; the details are in the server log.", *unchanged
        return text, self.feed_rows(), gr.update(value=""), self.corpus_rows()

    def poll(self, request: gr.Request) -> tuple:
        """Poll every feed now. Returns (report markdown, feed rows, corpus rows)."""
        if refusal := self._refusal(request):
            return refusal, gr.update(), gr.update()
        try:
            text = self._report(self.service.feeds.poll())
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update()
        return text, self.feed_rows(), self.corpus_rows()

    @staticmethod
    def _report(report: FetchReport) -> str:
        parts = [f"**Added {len(report.added)}, updated {len(report.updated)}**, {report.unchanged} unchanged."]
        if report.skipped:
            parts.append("\n".join(f"- {md_text(s.source)}: {md_text(s.reason)}" for s in report.skipped[:50]))
        if report.index is not None:
            parts.append(md_text(report.index.lines()[0]))
        return "\n\n".join(parts)
