"""Articles from links, feeds and sitemaps, kept as files in the corpus folder.

A fetched article becomes a Markdown file with YAML front matter under `corpus/web/<host>/`
(title, publisher, author, published, url, and the feed that brought it and when). From there it
is a corpus file like any other: the same loading, cleaning, chunking and incremental indexing,
and it survives restarts and `--rebuild`. What is remembered between polls (validators, seen
items, which link leads to which file) is in rag/ingest/webstate.py.

A poll, for each feed: fetch the listing with its ETag/Last-Modified (304, or the same bytes as
last time: done); read its items, newest first, at most `RAG_FEED_MAX_ITEMS`; an item whose link
leads to an article we hold and whose feed entry has not changed is not fetched. The others are
fetched concurrently (rag/ingest/fetching.py's manners and limits), each page's article text and
metadata extracted, then written, and the corpus indexed once.

Every fetched byte is parsed in the loader's worker process (rag/ingest/isolation.py), under its
time and memory limits: listings, feed discovery on a home page, robots.txt, child sitemaps and
article pages. This process holds the bytes and the plain results, so a body that makes a parser
loop or allocate costs its own feed, never the app. Any failure while reading one feed becomes
that feed's recorded error; the poll goes on with the others.

A hostile feed costs a bounded time: each feed has `RAG_FEED_BUDGET` seconds of a poll (its
listing, child sitemaps and items; requests are cut when it runs out, and items not started wait
for the next poll), the poll `RAG_POLL_BUDGET` in all, and items are fetched in turn across feeds,
so one feed's items cannot hold the workers while another's budget runs. A link whose fetch or
extraction fails is tried again later and later (rag/ingest/webstate.py's failures). Removing a
feed never waits for a poll: the poll notices and writes nothing more for it.

Identity, so that one story is one document and no fetch takes over another's:
- an article's key is its canonical URL (rag/ingest/links.py); its page's `rel=canonical` counts
  only when it names a page of the same site;
- a page at another link that claims an article we hold is an alias of it when its text is
  nearly the same, and otherwise kept as its own article under its own link: it neither replaces
  the article nor is dropped;
- an article's file is only ever rewritten from its own link (or links redirecting to it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rag import metrics
from rag.config import Config
from rag.errors import IndexProblem, RagError
from rag.ingest.fetching import Fetched, FetchError, Fetcher, OutOfTime, Refusal, Resolver
from rag.ingest.isolation import LoaderWorker
from rag.ingest.links import canonical_url, host_folder, same_site, slug
from rag.ingest.listings import (Item, Listing, ListingError, discover_feeds, looks_like_html, meta_charset,
                                 parse_listing)
from rag.ingest.locks import IndexBusy, poll_lock
from rag.ingest.webstate import Article, WebState
from rag.text import jaccard, shingles
from rag.types import FeedInfo, FetchReport, IndexSummary, Skipped, SourceInfo

log = logging.getLogger("rag.feeds")
WEB_FOLDER = "web"  # inside the corpus folder
STAGING = ".staging"  # hidden: the corpus loader skips it
MAX_CHILD_SITEMAPS = 20  # of a sitemap index, newest first
SAME_STORY = 0.6  # word-trigram Jaccard above which two texts are one story (the retrieval's near-duplicate rule)


Progress = Callable[[str], None]  # one line: what a poll is doing now


class FeedError(RagError):
    """A feed that cannot be added or found; the message is one line."""


@dataclass
class _Plan:
    """A page to fetch: its link, what the listing said, the feed (None: added by link), and the
    article that link is known to lead to."""

    url: str
    item: Item
    feed: str | None
    known: Article | None
    also: list["_Plan"] = field(default_factory=list)  # other feeds listing the same article in this poll


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Feeds:
    """Links and feeds over one configuration (`rag.feeds` is the process-wide one): `add`,
    `list`, `remove` and `poll` feeds, `add_urls` for single articles. `index()` is called once
    after anything changed (the service's incremental indexing run). `resolver` and `refuse`
    replace the DNS lookup and the address rule (tests: a loopback server posing as a public site)."""

    def __init__(self, config: Config, index: Callable[..., IndexSummary], resolver: Resolver | None = None,
                 refuse: Refusal | None = None):
        self.config = config
        self.settings = config.fetch
        self._index = index
        self._resolver, self._refuse = resolver, refuse
        self._removed_unindexed = False  # a removal's index update found a poll indexing: the poll redoes it
        self._progress: Progress | None = None  # the caller's, during one add or poll (under the poll lock)

    @property
    def state(self) -> WebState:
        return WebState(self.config)

    # Public verbs -----------------------------------------------------------------------------

    def list(self) -> list[FeedInfo]:
        """The followed feeds, with their last poll, new articles and last error."""
        state = self.state
        try:
            return state.feeds()
        finally:
            state.close()

    def add(self, url: str, poll: bool = True, progress: Progress | None = None) -> tuple[FeedInfo, FetchReport | None]:
        """Follow a feed, sitemap or site (whose feeds are discovered), then poll it (unless not
        `poll`; `progress` hears what the poll is doing). Raises FeedError when nothing there can
        be followed."""
        with LoaderWorker(self.config) as worker, self._fetcher(worker) as fetcher:
            try:
                fetched, listing = self._find_listing(url.strip(), fetcher, worker)
            except FeedError:
                raise
            except Exception as exc:  # a bug on hostile input: a one-line refusal, not a traceback
                log.exception("adding %s failed", url)
                raise FeedError(f"Cannot add {url.strip()}: unexpected {exc.__class__.__name__} while reading it") from None
        found_url = fetched.final_url
        state = self.state
        try:
            state.add_feed(found_url, listing.kind, listing.title, _now(), origin=canonical_url(url.strip()))
        finally:
            state.close()
        report = None
        if poll:
            with poll_lock(self.config), self._telling(progress):
                report = self._poll(found_url, first=(fetched, listing))  # the listing just read: not asked for twice
        info = next(f for f in self.list() if f.url == found_url)
        return info, report

    def remove(self, url: str, delete_articles: bool = False) -> FetchReport:
        """Stop following a feed, or every feed found at an address the user added (a site's home
        page); with `delete_articles`, delete the articles no remaining feed lists and no user
        added by link, and update the index. Never waits for a poll under way: that poll notices
        the feed is gone and stops writing for it."""
        return self._remove(url, delete_articles)

    def _remove(self, url: str, delete_articles: bool) -> FetchReport:
        state = self.state
        try:
            urls = self._followed(url, state)
            paths = state.remove_feeds(urls)
            report = FetchReport(feeds=urls)
            if delete_articles and paths:
                self._delete(paths, state)
                report.skipped = [Skipped(path, "deleted with its feed") for path in paths]
                report.index = self._index_after_removal()
            return report
        finally:
            state.close()

    def _index_after_removal(self) -> IndexSummary | None:
        try:
            return self._index(allow_empty=True)
        except IndexBusy:
            self._removed_unindexed = True  # a poll is indexing: it indexes once more when it ends
            return None

    @staticmethod
    def _followed(url: str, state: WebState) -> list[str]:
        """The feeds `url` names: a followed feed, or the address a user added (a site's home
        page: every feed found there), compared as canonical links."""
        followed = [f.url for f in state.feeds()]
        url = url.strip()
        if url in followed:
            return [url]
        key = canonical_url(url)
        found = [f for f in followed if canonical_url(f) == key] or [f for f in state.feeds_from(key) if f in followed]
        if not found:
            raise FeedError(f"No such feed: {url} (see `python -m rag feeds list`)")
        return found

    def _delete(self, paths: list[str], state: WebState, now: str | None = None) -> None:
        corpus = self.config.paths.corpus_dir
        for path in paths:
            (corpus / path).unlink(missing_ok=True)
        state.forget_articles(paths, now)

    def remove_article(self, target: str, sources: Callable[[], list[SourceInfo]]) -> FetchReport:
        """Remove one article, named by its link or its document id (`sources`: the indexed
        documents), and update the index. A fetched article's links are remembered as removed, so
        no feed brings it back (adding the link again does); a corpus file is deleted, unless it
        holds other documents too (a JSONL file)."""
        with poll_lock(self.config):
            state = self.state
            try:
                path = self._article_path(target.strip(), state, sources)
                self._delete([path], state, now=_now())
                report = FetchReport(skipped=[Skipped(path, "removed")])
                report.index = self._index(allow_empty=True)
                return report
            finally:
                state.close()

    def _article_path(self, target: str, state: WebState, sources: Callable[[], list[SourceInfo]]) -> str:
        """The corpus file of the article named by a link or a document id. An id is looked up in
        the corpus manifest (no store opened: the app may be serving it)."""
        from rag.ingest.corpus import indexed_claims

        if target.startswith(("http://", "https://")):
            article = state.article_for(canonical_url(target))
            if article is not None:
                return article.path
            match = [s.source for s in sources() if s.url and canonical_url(s.url) == canonical_url(target)]
            source = match[0] if match else None
        else:
            source = indexed_claims(self.config).indexed_ids.get(target)
        if source is None:
            raise FeedError(f"No article {target} (see `rag sources`)")
        if source.lower().endswith(".jsonl") or ":" in source:
            raise FeedError(f"{target} is one of several documents in {source.split(':', 1)[0]}; "
                            "edit that file to remove it")
        return source

    def poll(self, url: str | None = None, progress: Progress | None = None) -> FetchReport:
        """Fetch what is new in every feed (or the one at `url`) and index it; `progress` hears
        what it is doing. One poll (or `add_urls`, `remove_article`) at a time per index folder:
        IndexProblem when another is under way."""
        with poll_lock(self.config), self._telling(progress):
            return self._poll(url)

    @contextmanager
    def _telling(self, progress: Progress | None) -> Iterator[None]:
        self._progress = progress
        try:
            yield
        finally:
            self._progress = None

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress(text)

    def _poll(self, url: str | None, first: tuple[Fetched, Listing] | None = None) -> FetchReport:
        """The poll, under the lock; `first`: the feed at `url` as just fetched and read."""
        state = self.state
        try:
            feeds = [f for f in state.feeds() if url is None or f.url == url]
            if url is not None and not feeds:
                raise FeedError(f"No such feed: {url} (see `python -m rag feeds list`)")
            report = FetchReport(feeds=[f.url for f in feeds])
            poll_end = time.monotonic() + self.settings.poll_budget
            with LoaderWorker(self.config) as worker, self._fetcher(worker) as fetcher:
                plans: list[_Plan] = []
                errors: dict[str, str | None] = {}
                titles: dict[str, str | None] = {}
                budget_left: dict[str, float] = {}  # seconds of each feed's budget left for its items
                for feed in feeds:
                    self._say(f"Reading {feed.title or feed.url}")
                    started = time.monotonic()
                    if started >= poll_end:
                        errors[feed.url] = "not polled: the poll's time budget ran out (RAG_POLL_BUDGET); next poll"
                        continue
                    until = min(started + self.settings.feed_budget, poll_end)
                    try:
                        listing = self._read_listing(feed.url, fetcher, worker, state, first, until)
                    except (FetchError, ListingError) as exc:
                        errors[feed.url] = str(exc)
                        report.skipped.append(Skipped(feed.url, str(exc)))
                        continue
                    except Exception as exc:  # a bug on hostile input: this feed's error, not the poll's
                        log.exception("reading the feed %s failed", feed.url)
                        errors[feed.url] = f"unexpected {exc.__class__.__name__} while reading it"
                        report.skipped.append(Skipped(feed.url, errors[feed.url]))
                        continue
                    errors[feed.url] = None
                    budget_left[feed.url] = until - time.monotonic()
                    if listing is not None:
                        titles[feed.url] = listing.title
                        plans += self._plans(feed.url, listing, state, report)
                deadlines = {feed: min(time.monotonic() + left, poll_end) for feed, left in budget_left.items()}
                new, unfetched = self._fetch_all(_in_turn(_once(plans)), fetcher, worker, state, report, deadlines)
            for feed in feeds:
                error = errors.get(feed.url)
                if error is None and unfetched[feed.url]:
                    error = f"its time budget ran out (RAG_FEED_BUDGET): {unfetched[feed.url]} items left for the next poll"
                    report.skipped.append(Skipped(feed.url, error))
                state.record_poll(feed.url, _now(), error, new[feed.url], titles.get(feed.url))
                metrics.feed_polled(error is None)
            self._index_if_changed(report)
            return report
        finally:
            state.close()

    def add_urls(self, urls: Iterable[str]) -> FetchReport:
        """Fetch article pages now (again, conditionally, when known) and index them. Waits for
        no poll: IndexProblem when another one is fetching."""
        report = FetchReport()
        with poll_lock(self.config):
            return self._add_urls(urls, report)

    def _add_urls(self, urls: Iterable[str], report: FetchReport) -> FetchReport:
        state = self.state
        try:
            plans = []
            for url in urls:
                url = str(url).strip()
                plans.append(_Plan(url, Item(url), None, state.article_for(canonical_url(url))))
            with LoaderWorker(self.config) as worker, self._fetcher(worker) as fetcher:
                self._fetch_all(plans, fetcher, worker, state, report, {})
            self._index_if_changed(report)
            return report
        finally:
            state.close()

    def _fetcher(self, worker: LoaderWorker) -> Fetcher:
        return Fetcher(self.settings, self._resolver, self._refuse, worker)

    # Listings ---------------------------------------------------------------------------------

    def _parse(self, fetched: Fetched, worker: LoaderWorker, until: float | None = None) -> Listing:
        """`parse_listing` in the worker (stopped at `until`, a feed's budget). Raises ListingError."""
        return worker.call(parse_listing, fetched, self.settings.max_bytes, size=len(fetched.body), error=ListingError,
                           until=until)

    def _find_listing(self, url: str, fetcher: Fetcher, worker: LoaderWorker) -> tuple[Fetched, Listing]:
        """The feed at `url`, or the first feed (then sitemap from robots.txt) a home page names."""
        try:
            fetched = fetcher.get(url, kind="feed")
        except FetchError as exc:
            raise FeedError(f"Cannot add {url}: {exc}") from None
        try:
            return fetched, self._parse(fetched, worker)
        except ListingError as exc:
            if not looks_like_html(fetched):
                raise FeedError(f"Cannot add {url}: {exc}") from None
        try:
            candidates = worker.call(discover_feeds, fetched, size=len(fetched.body), error=ListingError)
        except ListingError:
            candidates = []
        candidates = candidates or fetcher.robots_sitemaps(fetched.final_url)
        problems = []
        for candidate in candidates:
            try:
                found = fetcher.get(candidate, kind="feed")
                return found, self._parse(found, worker)
            except (FetchError, ListingError) as exc:
                problems.append(f"{candidate}: {exc}")
        detail = f" ({'; '.join(problems[:2])})" if problems else ""
        raise FeedError(f"Cannot add {url}: a web page that names no readable feed or sitemap{detail}")

    def _read_listing(self, url: str, fetcher: Fetcher, worker: LoaderWorker, state: WebState,
                      first: tuple[Fetched, Listing] | None = None, until: float | None = None) -> Listing | None:
        """The listing at `url`, or None when it has not changed since the last poll (`first`:
        it as just fetched and read). A sitemap index is read with its newest child sitemaps,
        each also conditionally, whether the index itself changed or not (sites update the
        sitemaps and often leave the index as it is)."""
        if first is not None and first[0].final_url == url:
            fetched, listing = first
            state.save_validators(url, fetched.etag, fetched.last_modified, _hash(fetched.body), listing.children or None)
        else:
            listing = self._conditional(url, fetcher, worker, state, until)
        children = listing.children if listing is not None else state.children(url)
        if listing is not None and listing.kind != "sitemap-index" or listing is None and not children:
            return listing
        merged = Listing("sitemap-index")
        for child, _ in children[:MAX_CHILD_SITEMAPS]:
            if until is not None and time.monotonic() >= until:
                break  # the feed's budget is spent: the other sitemaps wait for the next poll
            try:
                part = self._conditional(child, fetcher, worker, state, until)
            except (FetchError, ListingError):
                continue
            if part is not None:
                merged.items += part.items
        merged.items.sort(key=lambda item: item.published or "", reverse=True)
        return merged if merged.items or listing is not None else None

    def _conditional(self, url: str, fetcher: Fetcher, worker: LoaderWorker, state: WebState,
                     until: float | None = None) -> Listing | None:
        etag, modified, old_hash = state.validators(url)
        fetched = fetcher.get(url, kind="feed", etag=etag, last_modified=modified, until=until)
        if fetched.not_modified:
            return None
        body_hash = _hash(fetched.body)
        if body_hash == old_hash:
            state.save_validators(url, fetched.etag, fetched.last_modified, body_hash, state.children(url) or None)
            return None
        listing = self._parse(fetched, worker, until)
        # Saved once read: a listing that fails to parse is read again next time.
        state.save_validators(url, fetched.etag, fetched.last_modified, body_hash, listing.children or None)
        return listing

    def _plans(self, feed: str, listing: Listing, state: WebState, report: FetchReport) -> list[_Plan]:
        plans = []
        now = time.time()
        for item in listing.items[: self.settings.feed_max_items]:
            link = canonical_url(item.url)
            known = state.article_for(link)
            if known is not None and state.item_stamp(feed, link) == item.stamp:
                report.unchanged += 1
                continue
            if known is None and state.was_removed(link):
                continue  # a user removed this article: only adding its link again brings it back
            if state.backed_off(link, now):
                report.backed_off += 1
                continue
            plans.append(_Plan(item.url, item, feed, known))
        return plans

    # Articles ---------------------------------------------------------------------------------

    def _fetch_all(self, plans: list[_Plan], fetcher: Fetcher, worker: LoaderWorker, state: WebState,
                   report: FetchReport, deadlines: dict[str, float]) -> tuple[Counter, Counter]:
        """Fetch the plans' pages concurrently (at most twice `RAG_FETCH_WORKERS` bodies in memory)
        and take each as it arrives; a feed's requests stop at its deadline (`deadlines`, in
        `time.monotonic()` time). Returns the number of new articles per feed, and of items left
        unfetched because their feed's time ran out."""
        new: Counter = Counter()
        unfetched: Counter = Counter()
        if not plans:
            return new, unfetched
        staging = self.config.paths.corpus_dir / STAGING / f"web-{uuid.uuid4().hex}"
        staging.mkdir(parents=True, exist_ok=True)
        pending = iter(plans)
        running: dict[Future, _Plan] = {}
        try:
            with ThreadPoolExecutor(self.settings.workers) as pool:
                def submit() -> None:
                    while len(running) < 2 * self.settings.workers:
                        plan = next(pending, None)
                        if plan is None:
                            return
                        until = deadlines.get(plan.feed)
                        if until is not None and time.monotonic() >= until:
                            unfetched[plan.feed] += 1
                            continue
                        if _live(plan, state) is None:
                            continue  # every feed listing it was removed while this poll runs
                        known = plan.known if plan.known and canonical_url(plan.known.fetch_url) == canonical_url(plan.url) else None
                        running[pool.submit(fetcher.get, plan.url, "page", known.etag if known else None,
                                            known.last_modified if known else None, until)] = plan

                submit()
                answered = 0
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        plan = running.pop(future)
                        answered += 1
                        self._say(f"Fetched {answered} of {len(plans)} pages")
                        try:
                            fetched = future.result()
                        except OutOfTime:
                            unfetched[plan.feed] += 1  # never sent: waits for the next poll, no failure
                            continue
                        except FetchError as exc:
                            report.skipped.append(Skipped(plan.url, str(exc)))
                            self._failed(plan, state)
                            continue
                        except Exception as exc:  # a bug in the HTTP stack: this item, not the poll
                            log.exception("fetching %s failed", plan.url)
                            report.skipped.append(Skipped(plan.url, f"unexpected {exc.__class__.__name__} while fetching"))
                            self._failed(plan, state)
                            continue
                        try:
                            taken = self._take(plan, fetched, worker, staging, state, report)
                        except Exception as exc:  # a bug on a hostile page: this item, not the poll
                            log.exception("taking %s failed", plan.url)
                            report.skipped.append(Skipped(plan.url, f"unexpected {exc.__class__.__name__} while reading it"))
                            self._failed(plan, state)
                            continue
                        if taken:
                            new[plan.feed] += 1
                    submit()
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            try:
                staging.parent.rmdir()  # only when no upload is being staged
            except OSError:
                pass
        return new, unfetched

    def _failed(self, plan: _Plan, state: WebState) -> None:
        """A polled item that could not be fetched or read: remembered, and tried again later and
        later (under each link a followed feed lists it by)."""
        self._seen(plan, state, None)
        now = time.time()
        for url in {canonical_url(each.url) for each in (plan, *plan.also)
                    if each.feed is not None and state.following(each.feed)}:
            state.item_failed(url, now)

    def _seen(self, plan: _Plan, state: WebState, key: str | None) -> None:
        """Remember what each feed listing this article said (and, for a link a user added, that
        they did): the article then stays until the last of them is removed."""
        for each in (plan, *plan.also):
            if each.feed is not None:
                state.remember_item(each.feed, canonical_url(each.url), each.item.stamp, key)
            elif key is not None:
                state.link_added(key, _now(), canonical_url(each.url))

    def _take(self, plan: _Plan, fetched: Fetched, worker: LoaderWorker, staging: Path, state: WebState,
              report: FetchReport) -> bool:
        """One fetched page: extract it (in the worker), decide whose article it is, write it.
        True when it is a new article."""
        live = _live(plan, state)
        if live is None:
            return False  # every feed listing it was removed while this poll ran
        if fetched.not_modified:
            report.unchanged += 1
            self._seen(plan, state, plan.known.key if plan.known else None)
            return False
        page = staging / f"{uuid.uuid4().hex}.html"
        try:
            page.write_bytes(worker.call(_utf8, fetched, size=len(fetched.body), error=ListingError))
        except ListingError as exc:
            report.skipped.append(Skipped(plan.url, str(exc)))
            self._failed(plan, state)
            return False
        try:
            docs, problems = worker.load(page, staging, {}, self.settings.max_bytes)
        finally:
            page.unlink(missing_ok=True)
        if problems or not docs:
            reason = "; ".join(p.reason for p in problems) or "no article text found"
            report.skipped.append(Skipped(plan.url, reason))
            self._failed(plan, state)
            return False
        doc = docs[0]
        requested, fetched_key = canonical_url(plan.url), canonical_url(fetched.final_url)
        links = [requested, fetched_key]
        url = _clean_link(fetched.final_url)
        web = bool(doc.url) and doc.url.startswith(("http://", "https://"))
        claimed = canonical_url(doc.url) if web and same_site(doc.url, fetched.final_url) else None
        if claimed == fetched_key:
            claimed, url = None, doc.url  # the page's own preferred spelling of its address

        owner = plan.known if plan.known and canonical_url(plan.known.fetch_url) in links else state.article(fetched_key)
        if owner is None and claimed:
            held = state.article(claimed)
            if held is not None:
                if self._same_story(held, doc.text):  # an AMP page or another link to an article we hold
                    state.add_aliases(held.key, links)
                    self._seen(plan, state, held.key)
                    report.unchanged += 1
                    return False
                claimed = None  # a different text claiming an article we hold: its own article
        if owner is None:
            # The canonical page of an article first fetched through a page that claimed it (AMP).
            owner = next((a for a in state.claiming(fetched_key) if self._same_story(a, doc.text)), None)
        key = owner.key if owner else fetched_key
        existing = state.article(key)
        now = _now()
        meta = {
            "title": doc.title or plan.item.title,
            "publisher": doc.publisher or plan.item.publisher,
            "author": doc.author or plan.item.author,
            "published": doc.published or plan.item.published,  # the page's own date; a feed's may be when it was listed
            "url": url,
        }
        meta = {k: v for k, v in meta.items() if v}
        version = _hash(json.dumps([meta, doc.text], sort_keys=True).encode())
        feed = existing.feed if existing else live.feed
        written = None
        if existing is not None and existing.version == version and (self.config.paths.corpus_dir / existing.path).is_file():
            path = existing.path
        else:
            path = existing.path if existing else self._new_path(key, state)
            front = {**meta, "feed": feed or "added by link", "fetched": now}
            self._write(path, front, doc.text)
            written = path
        saved = state.save_article(Article(
            key=key, path=path, fetch_url=fetched.final_url, feed=feed,
            first_fetched=existing.first_fetched if existing else now,
            fetched=now if (existing is None or existing.version != version) else existing.fetched,
            etag=fetched.etag, last_modified=fetched.last_modified, version=version,
            claims=existing.claims if existing else claimed,
        ), links, feed=live.feed)
        if not saved:  # its feed was removed while this was fetched: a file it no longer holds goes again
            if written and (existing is None or state.article(key) is None):
                (self.config.paths.corpus_dir / written).unlink(missing_ok=True)
            return False
        if written is None:
            report.unchanged += 1
        else:
            (report.updated if existing else report.added).append(written)
        for url in {canonical_url(each.url) for each in (plan, *plan.also) if each.feed is not None}:
            state.item_worked(url)
        self._seen(plan, state, key)
        return existing is None

    def _same_story(self, article: Article, text: str) -> bool:
        """Whether `text` is the story the article's file holds (nearly the same words)."""
        try:
            held = (self.config.paths.corpus_dir / article.path).read_text(encoding="utf-8")
        except OSError:
            return False
        held = held.split("\n---\n", 1)[-1] if held.startswith("---\n") else held
        return jaccard(shingles(held), shingles(text)) >= SAME_STORY

    def _new_path(self, key: str, state: WebState) -> str:
        stem = f"{WEB_FOLDER}/{host_folder(key)}/{slug(key)}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
        for n in range(1, 100):
            path = f"{stem}.md" if n == 1 else f"{stem}-{n}.md"
            if not state.path_taken(path) and not (self.config.paths.corpus_dir / path).exists():
                return path
        raise FeedError(f"no free file name for {key}")

    def _write(self, path: str, front: dict, text: str) -> None:
        """The article as Markdown with YAML front matter, replaced in one step (a reader sees
        the old file or the new one)."""
        target = self.config.paths.corpus_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        head = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=10_000)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text(f"---\n{head}---\n{text}\n", encoding="utf-8")
        os.replace(temporary, target)

    def _index_if_changed(self, report: FetchReport) -> None:
        if report.added or report.updated:
            self._removed_unindexed = False
            self._say(f"Indexing {len(report.added) + len(report.updated)} new or updated articles")
            report.index = self._index()
        elif self._removed_unindexed:  # only for a removal made during this poll
            self._removed_unindexed = False
            try:
                report.index = self._index(allow_empty=True)
            except IndexProblem as exc:
                log.warning("index update after a feed's removal failed: %s", exc)


def _in_turn(plans: list[_Plan]) -> list[_Plan]:
    """The plans taken in turn across feeds (each feed's own order kept), so the workers serve
    every feed from the start and a feed of slow items cannot make the others wait out their budgets."""
    queues: dict[str | None, list[_Plan]] = {}
    for plan in plans:
        queues.setdefault(plan.feed, []).append(plan)
    ordered: list[_Plan] = []
    for round_ in range(max((len(q) for q in queues.values()), default=0)):
        ordered += [queue[round_] for queue in queues.values() if round_ < len(queue)]
    return ordered


def _live(plan: _Plan, state: WebState) -> _Plan | None:
    """Of a plan and the others it stands for (`also`), the first that a link or a still followed
    feed asked for; None when every feed listing the article was removed while the poll runs."""
    return next((each for each in (plan, *plan.also) if each.feed is None or state.following(each.feed)), None)


def _once(plans: list[_Plan]) -> list[_Plan]:
    """One fetch per article in a poll: a story listed by several feeds (a site's feed and its
    news sitemap), or by one under several links, is fetched once and remembered for each."""
    first: dict[str, _Plan] = {}
    for plan in plans:
        key = plan.known.key if plan.known else canonical_url(plan.url)
        if key in first:
            first[key].also.append(plan)
        else:
            first[key] = plan
    return list(first.values())


def _clean_link(url: str) -> str:
    """The link to cite: as fetched, without tracking parameters or a fragment."""
    from courlan import normalize_url

    try:
        return normalize_url(url, strict=False, trailing_slash=True).split("#", 1)[0]
    except (ValueError, AttributeError):
        return url


def _utf8(fetched: Fetched) -> bytes:
    """The page as UTF-8 (the loader reads UTF-8, else Windows-1252), decoded by the charset the
    server or the page declares. Runs in the loader's worker."""
    charset = fetched.charset or meta_charset(fetched.body[:4096])
    if not charset or charset.replace("-", "") in ("utf8", "usascii", "ascii"):
        return fetched.body
    try:
        return fetched.body.decode(charset, errors="replace").encode("utf-8")
    except LookupError:
        return fetched.body


