"""What the fetcher remembers between polls, in one SQLite file in the index folder
(`index/<collection>.web.sqlite3`, WAL mode, so several processes on one machine share it):

- feeds: the feeds, sitemaps and sites followed, with their last poll, last error and new articles;
- listings: the HTTP validators (ETag, Last-Modified) and body hash of every feed and sitemap
  URL, so a re-poll of an unchanged one downloads nothing (or, without validators, parses nothing);
- articles: each fetched article by its key (its own canonical URL), the corpus file that holds
  it, the feed that first brought it, when, its validators and version, and the canonical URL its
  page claimed (confirmed only when that URL is fetched and gives the same story);
- aliases: every link seen for an article (tracking parameters, AMP, redirects), so a known link
  is not fetched again;
- items: what each feed last said about each of its items (its `stamp`), so an item is fetched
  again only when the feed says it changed; also every feed that lists an article, so an article
  goes only when the last feed, sitemap or link that brought it is removed;
- failures: links whose fetch or extraction keeps failing, and when a poll may try each again
  (after 15 minutes, then twice as long after each further failure, at most a week): a feed of
  slow or broken items costs each poll little, not its whole budget every time;
- linked: the articles a user added by link (they stay when feeds that also list them go);
- origins: the address a user added (a site's home page) and the feeds found there, so removing
  that address removes them;
- removed: the links of articles a user removed one by one, so a feed listing them does not bring
  them back (adding the link again does).

The articles themselves are files in the corpus folder (rag/ingest/feeds.py): this file holds no
text, and losing it costs a re-download, never an article.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.config import Config
from rag.errors import IndexProblem
from rag.types import FeedInfo

SCHEMA_VERSION = 1
TABLES = ("feeds", "listings", "articles", "aliases", "items", "failures", "linked", "origins", "removed")
RETRY_FIRST = 15 * 60  # seconds after an item's first failure
RETRY_LONGEST = 7 * 24 * 3600
SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT, added TEXT NOT NULL,
    last_poll TEXT, last_ok TEXT, last_error TEXT, new_articles INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS listings (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, body_hash TEXT, children TEXT);
CREATE TABLE IF NOT EXISTS articles (
    key TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, fetch_url TEXT NOT NULL, feed TEXT,
    first_fetched TEXT NOT NULL, fetched TEXT NOT NULL, etag TEXT, last_modified TEXT, version TEXT NOT NULL,
    claims TEXT);
CREATE INDEX IF NOT EXISTS articles_by_claim ON articles (claims);
CREATE TABLE IF NOT EXISTS aliases (url TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (feed TEXT NOT NULL, url TEXT NOT NULL, stamp TEXT NOT NULL, key TEXT,
    PRIMARY KEY (feed, url));
CREATE INDEX IF NOT EXISTS items_by_key ON items (key);
CREATE TABLE IF NOT EXISTS failures (url TEXT PRIMARY KEY, count INTEGER NOT NULL, retry_after REAL NOT NULL);
CREATE TABLE IF NOT EXISTS linked (key TEXT PRIMARY KEY, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS origins (url TEXT NOT NULL, feed TEXT NOT NULL, PRIMARY KEY (url, feed));
CREATE TABLE IF NOT EXISTS removed (url TEXT PRIMARY KEY, removed TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Article:
    """A fetched article as remembered: `key` its canonical URL, `path` its corpus file (relative)."""

    key: str
    path: str
    fetch_url: str
    feed: str | None
    first_fetched: str
    fetched: str
    etag: str | None
    last_modified: str | None
    version: str
    claims: str | None = None  # the canonical URL its page named, not yet confirmed by fetching that URL


class WebState:
    """The SQLite file described in the module docstring; one per index folder."""

    def __init__(self, config: Config):
        self.path: Path = config.paths.index_dir / f"{config.paths.collection}.web.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a crash may lose the last polls' records, never corrupt them
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Another version's layout: what it remembers is only worth a re-download, so it is
                # started afresh (the articles are files in the corpus and stay).
                self._db.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in TABLES))
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            older = not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'linked'").fetchone()
            self._db.executescript(SCHEMA)
            if older:  # a file from before `linked`: an article whose first source was a link was added by link
                self._db.execute("INSERT OR IGNORE INTO linked SELECT key, first_fetched FROM articles WHERE feed IS NULL")
        except sqlite3.DatabaseError as exc:
            raise IndexProblem(f"The feed state file {self.path} is unreadable ({exc}); delete it to start afresh "
                               "(the articles stay; known links are fetched once more).") from None

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, *args) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # Feeds -------------------------------------------------------------------------------------

    def add_feed(self, url: str, kind: str, title: str | None, now: str, origin: str | None = None) -> bool:
        """Follow a feed (found at `origin`, the address the user added, when that differs); False
        when it is followed already."""
        with self._tx() as db:
            cursor = db.execute("INSERT OR IGNORE INTO feeds (url, kind, title, added) VALUES (?, ?, ?, ?)",
                                (url, kind, title, now))
            if origin and origin != url:
                db.execute("INSERT OR IGNORE INTO origins VALUES (?, ?)", (origin, url))
            return cursor.rowcount == 1

    def feeds(self) -> list[FeedInfo]:
        rows = self._rows(
            "SELECT f.url, f.kind, f.title, f.added, f.last_poll, f.last_ok, f.last_error, f.new_articles, "
            "(SELECT COUNT(DISTINCT i.key) FROM items i JOIN articles a ON a.key = i.key WHERE i.feed = f.url) "
            "FROM feeds f ORDER BY f.added, f.url"
        )
        return [FeedInfo(*row) for row in rows]

    def following(self, url: str) -> bool:
        """Whether `url` is still a followed feed (a poll checks before it writes for one: a feed
        removed while it runs is left alone, never waited for)."""
        return bool(self._rows("SELECT 1 FROM feeds WHERE url = ?", url))

    def feed(self, url: str) -> FeedInfo | None:
        return next((f for f in self.feeds() if f.url == url), None)

    def feeds_from(self, origin: str) -> list[str]:
        """The feeds followed because a user added `origin` (a site's home page)."""
        return [row[0] for row in self._rows("SELECT feed FROM origins WHERE url = ? ORDER BY feed", origin)]

    def record_poll(self, url: str, now: str, error: str | None, new_articles: int, title: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET last_poll = ?, last_error = ?, new_articles = ?, title = COALESCE(?, title), "
                "last_ok = CASE WHEN ? IS NULL THEN ? ELSE last_ok END WHERE url = ?",
                (now, error, new_articles, title, error, now, url),
            )

    def remove_feeds(self, urls: list[str]) -> list[str]:
        """Stop following feeds. Returns the corpus paths of the articles they listed (or first
        brought) that no remaining feed lists and no user added by link: what `--delete-articles`
        deletes."""
        with self._tx() as db:
            keys: set[str] = set()
            for url in urls:
                keys |= {row[0] for row in db.execute(
                    "SELECT key FROM items WHERE feed = ? AND key IS NOT NULL UNION SELECT key FROM articles WHERE feed = ?",
                    (url, url))}
                db.execute("DELETE FROM feeds WHERE url = ?", (url,))
                db.execute("DELETE FROM items WHERE feed = ?", (url,))
                db.execute("DELETE FROM origins WHERE feed = ?", (url,))
                db.execute("DELETE FROM listings WHERE url = ?", (url,))
            paths = []
            for key in sorted(keys):
                row = db.execute(
                    "SELECT a.path FROM articles a WHERE a.key = ? AND NOT EXISTS (SELECT 1 FROM items i WHERE i.key = a.key) "
                    "AND NOT EXISTS (SELECT 1 FROM linked l WHERE l.key = a.key)", (key,)).fetchone()
                if row:
                    paths.append(row[0])
        return paths

    def forget_articles(self, paths: list[str], now: str | None = None) -> None:
        """Forget the articles in these corpus files (their files are deleted); with `now`, also
        remember their links as removed, so that no feed brings them back."""
        with self._tx() as db:
            for path in paths:
                key = db.execute("SELECT key FROM articles WHERE path = ?", (path,)).fetchone()
                if key:
                    if now is not None:
                        db.execute("INSERT OR REPLACE INTO removed SELECT url, ? FROM aliases WHERE key = ?", (now, key[0]))
                        db.execute("INSERT OR REPLACE INTO removed VALUES (?, ?)", (key[0], now))
                    db.execute("DELETE FROM aliases WHERE key = ?", key)
                    db.execute("DELETE FROM linked WHERE key = ?", key)
                    db.execute("DELETE FROM items WHERE key = ?", key)
                    db.execute("DELETE FROM articles WHERE key = ?", key)

    def was_removed(self, url: str) -> bool:
        """Whether a user removed the article at this (canonical) link."""
        return bool(self._rows("SELECT 1 FROM removed WHERE url = ?", url))

    def link_added(self, key: str, now: str, requested: str) -> None:
        """A user added this article by link: it stays until removed itself (and `requested`, the
        link they gave, is no longer a removed one)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO linked VALUES (?, ?)", (key, now))
            db.execute("DELETE FROM removed WHERE url IN (?, ?)", (requested, key))

    def article_at(self, path: str) -> Article | None:
        rows = self._rows("SELECT * FROM articles WHERE path = ?", path)
        return Article(*rows[0]) if rows else None

    # Listings: conditional GET ------------------------------------------------------------------

    def validators(self, url: str) -> tuple[str | None, str | None, str | None]:
        """(ETag, Last-Modified, body hash) of a feed or sitemap URL's last response."""
        rows = self._rows("SELECT etag, last_modified, body_hash FROM listings WHERE url = ?", url)
        return rows[0] if rows else (None, None, None)

    def save_validators(self, url: str, etag: str | None, last_modified: str | None, body_hash: str | None,
                        children: list | None = None) -> None:
        """Record a listing's validators (and, for a sitemap index, the sitemaps it names)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?, ?)",
                       (url, etag, last_modified, body_hash, json.dumps(children) if children is not None else None))

    def children(self, url: str) -> list[tuple[str, str]]:
        """The sitemaps a sitemap index named when it was last read."""
        rows = self._rows("SELECT children FROM listings WHERE url = ?", url)
        return [tuple(child) for child in json.loads(rows[0][0])] if rows and rows[0][0] else []

    # Items and articles -----------------------------------------------------------------------

    def item_stamp(self, feed: str, url: str) -> str | None:
        rows = self._rows("SELECT stamp FROM items WHERE feed = ? AND url = ?", feed, url)
        return rows[0][0] if rows else None

    def remember_item(self, feed: str, url: str, stamp: str, key: str | None) -> None:
        """Remember what `feed` said about an item (nothing, when the feed was removed meanwhile)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO items SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM feeds WHERE url = ?)",
                       (feed, url, stamp, key, feed))

    def backed_off(self, url: str, now: float) -> bool:
        """Whether a link failed lately and its next try is not due before `now` (a Unix time)."""
        rows = self._rows("SELECT retry_after FROM failures WHERE url = ?", url)
        return bool(rows) and rows[0][0] > now

    def item_failed(self, url: str, now: float) -> None:
        """One more failure of a link: its next try waits twice as long as the last time."""
        with self._tx() as db:
            row = db.execute("SELECT count FROM failures WHERE url = ?", (url,)).fetchone()
            count = (row[0] if row else 0) + 1
            wait = min(RETRY_FIRST * 2 ** min(count - 1, 30), RETRY_LONGEST)
            db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?)", (url, count, now + wait))

    def item_worked(self, url: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM failures WHERE url = ?", (url,))

    def article(self, key: str) -> Article | None:
        rows = self._rows("SELECT * FROM articles WHERE key = ?", key)
        return Article(*rows[0]) if rows else None

    def article_for(self, url: str) -> Article | None:
        """The article a link (already canonicalised) is known to lead to."""
        rows = self._rows("SELECT a.* FROM aliases l JOIN articles a ON a.key = l.key WHERE l.url = ?", url)
        return Article(*rows[0]) if rows else self.article(url)

    def claiming(self, url: str) -> list[Article]:
        """Articles whose page named `url` as its canonical address."""
        return [Article(*row) for row in self._rows("SELECT * FROM articles WHERE claims = ?", url)]

    def path_taken(self, path: str) -> bool:
        return bool(self._rows("SELECT 1 FROM articles WHERE path = ?", path))

    def save_article(self, article: Article, aliases: list[str], feed: str | None = None) -> bool:
        """Record an article (False, and nothing recorded, when `feed` is given and no longer
        followed: it was removed while the poll fetched this)."""
        with self._tx() as db:
            if feed is not None and not db.execute("SELECT 1 FROM feeds WHERE url = ?", (feed,)).fetchone():
                return False
            db.execute("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                article.key, article.path, article.fetch_url, article.feed, article.first_fetched, article.fetched,
                article.etag, article.last_modified, article.version, article.claims,
            ))
            for url in {article.key, *aliases}:
                db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", (url, article.key))
        return True

    def add_aliases(self, key: str, aliases: list[str]) -> None:
        with self._tx() as db:
            for url in aliases:
                db.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (url, key))

    def article_count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM articles")[0][0]
