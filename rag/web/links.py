"""The Corpus tab's "Add a link or feed": what happens when a user adds an article link or a
feed, asks for a poll or removes a feed, and the feed list. `rag/web/ui.py` wires these to the page.

Adding and polling stream what they are doing (reading a feed, pages fetched of how many,
indexing) into the report while they run; the feed list is also refreshed on a timer, so the
schedule's own polls show up without a reload.

Adding makes the server fetch a URL that a user typed, so it follows the fetcher's address and
size rules (rag/ingest/fetching.py), and who may do it is the caller's `permit` (in the app: a
logged-in editor or admin, rag/web/team.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator

import gradio as gr

from rag.errors import RagError
from rag.service import Service
from rag.types import FetchReport
from rag.web.render import md_text

log = logging.getLogger("rag.app")
ARTICLE, FEED = "Article link", "Feed, sitemap or site"
FEED_HEADERS = ["Feed", "Kind", "Articles", "Last poll", "New", "Last error"]
MAX_URL_CHARS = 2000
STATUS_SECONDS = 0.5  # at most this long between two status updates while fetching
FEEDS_REFRESH_SECONDS = 15.0  # how often an open Corpus tab looks for polls it did not run


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

    def feeds_shown(self) -> tuple:
        """What the feed list would show now, and a key that changes when a poll (the app's
        schedule, another process) changed it: for the timer that refreshes the table."""
        rows = self.feed_rows()
        return rows, repr(rows)

    def refresh(self, shown_key: str) -> tuple:
        """(feed rows, or no change; the new key) for the table's refresh timer."""
        rows, key = self.feeds_shown()
        return (gr.update() if key == shown_key else rows), key

    def add(self, url, kind, request: gr.Request) -> Iterator[tuple]:
        """Add an article link or a feed, streaming what it is doing. Yields (report markdown,
        feed rows, the address added, corpus rows); a component that need not change gets an
        empty `gr.update()`. The address added is `url` once it is in, else "": the page then
        empties the address box if it still holds that address (`CLEAR_ADDED_JS` in
        rag/web/ui.py), so an address typed during a long fetch is not lost to its end."""
        unchanged = (gr.update(), "", gr.update())
        if refusal := self._refusal(request):
            yield refusal, *unchanged
            return
        if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_CHARS:
            yield f"⚠️ Type an http(s) address of at most {MAX_URL_CHARS:,} characters.", *unchanged
            return
        if kind not in (ARTICLE, FEED):
            yield "⚠️ Choose whether it is an article link or a feed.", *unchanged
            return
        url = url.strip()

        def work(progress: Callable[[str], None]) -> str:
            if kind == ARTICLE:
                progress(f"Fetching {url}")
                return self._report(self.service.add_urls([url]))
            progress(f"Reading {url}")
            info, report = self.service.feeds.add(url, progress=progress)
            return f"**Following {md_text(info.title or info.url)}** ({md_text(info.kind)}).\n\n{self._report(report)}"

        for text, done in self._streamed(work):
            if done and not text.startswith("⚠️"):
                yield text, self.feed_rows(), url, self.corpus_rows()
            else:
                yield text, *unchanged

    def poll(self, request: gr.Request) -> Iterator[tuple]:
        """Poll every feed now, streaming what it is doing. Yields (report markdown, feed rows, corpus rows)."""
        if refusal := self._refusal(request):
            yield refusal, gr.update(), gr.update()
            return
        work = lambda progress: self._report(self.service.feeds.poll(progress=progress))  # noqa: E731
        for text, done in self._streamed(work):
            if done and not text.startswith("⚠️"):
                yield text, self.feed_rows(), self.corpus_rows()
            else:
                yield text, gr.update(), gr.update()

    def remove(self, url, delete_articles, request: gr.Request) -> tuple:
        """Stop following a feed (or every feed found at a site's address), with its articles when
        asked. Returns (report markdown, feed rows, url box update, corpus rows)."""
        unchanged = (gr.update(), gr.update(), gr.update())
        if refusal := self._refusal(request):
            return refusal, *unchanged
        if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_CHARS:
            return "⚠️ Type the address of a feed in the list, or of the site you added.", *unchanged
        try:
            report = self.service.feeds.remove(url.strip(), delete_articles=bool(delete_articles))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", *unchanged
        except Exception:
            log.exception("removing a feed failed")
            return "⚠️ Something went wrong; the details are in the server log.", *unchanged
        text = "\n".join(f"No longer following {md_text(feed)}." for feed in report.feeds)
        if delete_articles:
            deleted = len(report.skipped)
            text += f"\n\n**Deleted {deleted} article{'s' * (deleted != 1)}** (those no other feed lists and no one added by link)."
        return text, self.feed_rows(), gr.update(value=""), self.corpus_rows()

    @staticmethod
    def _streamed(work: Callable[[Callable[[str], None]], str]) -> Iterator[tuple[str, bool]]:
        """Run `work(progress)` in a thread; yield (status markdown, False) as it reports, then
        (its result or the error, True)."""
        updates: queue.Queue = queue.Queue()
        outcome: list[str] = []

        def run() -> None:
            try:
                outcome.append(work(updates.put))
            except RagError as exc:
                outcome.append(f"⚠️ {md_text(str(exc))}")
            except Exception:
                log.exception("adding a link or feed failed")
                outcome.append("⚠️ Something went wrong; the details are in the server log.")

        thread = threading.Thread(target=run, name="links-and-feeds", daemon=True)
        started = time.monotonic()
        thread.start()
        status = "Starting"
        while thread.is_alive():
            try:
                status = updates.get(timeout=STATUS_SECONDS)
            except queue.Empty:
                pass
            yield f"⏳ {md_text(status)} ({time.monotonic() - started:.0f} s)", False
        yield outcome[0], True

    @staticmethod
    def _report(report: FetchReport) -> str:
        parts = [f"**Added {len(report.added)}, updated {len(report.updated)}**, {report.unchanged} unchanged."]
        if report.skipped:
            parts.append("\n".join(f"- {md_text(s.source)}: {md_text(s.reason)}" for s in report.skipped[:50]))
        if report.index is not None:
            parts.append(md_text(report.index.lines()[0]))
        return "\n\n".join(parts)
