"""Followed questions and their updates in the team database, and each owner's feed token.

Every verb takes the owner's id (rag/follows/owners.py) and touches only that owner's follows: another
owner's follow is "not found". The watcher (rag/follows/watcher.py) reads all follows to match them
against new articles, and writes what it finds with `record`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from rag.errors import RagError
from rag.follows.changes import UPDATE, Change, article_of
from rag.follows.matching import Candidate
from rag.team.db import Database, aware
from rag.team.models import Follow, FollowFeed, FollowUpdate, utcnow

MAX_FOLLOWS = 200  # per owner: a researcher follows tens of stories, not thousands
FEED_ENTRIES = 50
FILTER_KEYS = ("publisher", "since", "until")


class FollowNotFound(RagError):
    """No such follow for this user, or no such feed."""


@dataclass
class Update:
    """A change in substance: the answers before and after, the article that changed it (headline,
    outlet, date, link), and when it was seen (`read_at` None: unread)."""

    update_id: int
    follow_id: int
    question: str
    reason: str
    old: dict
    new: dict
    article: dict
    created_at: dt.datetime
    read_at: dt.datetime | None


@dataclass
class Followed:
    """A followed question, with its filters, the answer as last seen (a snapshot: short answer,
    text, citations with their articles' dates), every article it has cited, and its updates,
    newest first."""

    follow_id: int
    owner_id: int
    question: str
    filters: dict
    answer: dict
    sources: list[dict]
    created_at: dt.datetime
    checked_at: dt.datetime
    updates: list[Update] = field(default_factory=list)

    @property
    def unread(self) -> int:
        return sum(1 for u in self.updates if u.read_at is None)

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "updates"}
        out["unread"] = self.unread
        out["updates"] = [u.__dict__ for u in self.updates]
        return out


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FollowStore:
    """Follows, updates and feed tokens in `database`."""

    def __init__(self, database: Database):
        self.database = database

    # The owner's verbs ------------------------------------------------------------------------------

    def add(self, owner_id: int, question: str, filters: dict, answer: dict) -> Followed:
        """Follow `question` with `filters`, `answer` (a snapshot) as seen now; following the same
        question with the same filters again returns the existing follow."""
        filters = {k: filters.get(k) for k in FILTER_KEYS if filters.get(k)}
        with self.database.writing() as session:
            mine = session.scalars(select(Follow).where(Follow.owner_id == owner_id)).all()
            for follow in mine:
                if follow.question.strip().lower() == question.strip().lower() and follow.filters == filters:
                    return self._view(follow, [])
            if len(mine) >= MAX_FOLLOWS:
                raise RagError(f"You follow {len(mine)} questions, the most there can be; stop following one first.")
            now = utcnow()
            follow = Follow(owner_id=owner_id, question=question.strip(), filters=filters, answer=answer,
                            sources=[article_of(c) for c in answer.get("citations") or []],
                            created_at=now, checked_at=now)
            session.add(follow)
            session.flush()
            return self._view(follow, [])

    def list(self, owner_id: int) -> list[Followed]:
        """The owner's follows with their updates, the one with the newest update first."""
        query = select(Follow).options(selectinload(Follow.updates)).where(Follow.owner_id == owner_id)
        with self.database.reading() as session:
            follows = [self._view(f, f.updates) for f in session.scalars(query).all()]
        return sorted(follows, key=lambda f: (max((u.created_at for u in f.updates), default=f.created_at)), reverse=True)

    def get(self, owner_id: int, follow_id: int) -> Followed:
        with self.database.reading() as session:
            follow = self._owned(session, owner_id, follow_id)
            return self._view(follow, follow.updates)

    def remove(self, owner_id: int, follow_id: int) -> None:
        with self.database.writing() as session:
            session.delete(self._owned(session, owner_id, follow_id))

    def mark_read(self, owner_id: int, follow_id: int) -> None:
        """The follow's updates count as seen now."""
        with self.database.writing() as session:
            self._owned(session, owner_id, follow_id)
            session.execute(update(FollowUpdate).where(FollowUpdate.follow_id == follow_id, FollowUpdate.read_at.is_(None))
                            .values(read_at=utcnow()))

    def remove_owner(self, owner_id: int) -> int:
        """Delete everything of an owner's (an account removed): follows, updates, feed. Returns
        how many follows went."""
        with self.database.writing() as session:
            count = session.scalar(select(func.count()).select_from(Follow).where(Follow.owner_id == owner_id)) or 0
            session.execute(delete(FollowUpdate).where(FollowUpdate.owner_id == owner_id))
            session.execute(delete(Follow).where(Follow.owner_id == owner_id))
            session.execute(delete(FollowFeed).where(FollowFeed.owner_id == owner_id))
        return count

    def counts(self) -> dict[str, int]:
        """Follows per owner (what an admin sees: counts, never the questions)."""
        with self.database.reading() as session:
            rows = session.execute(select(Follow.owner_id, func.count()).group_by(Follow.owner_id)).all()
        return dict(rows)

    # The owner's feed ---------------------------------------------------------------------------------

    def new_feed_token(self, owner_id: int) -> str:
        """A fresh secret for the owner's Atom feed URL; any earlier one stops working."""
        token = secrets.token_urlsafe(32)
        with self.database.writing() as session:
            session.execute(delete(FollowFeed).where(FollowFeed.owner_id == owner_id))
            session.add(FollowFeed(token_hash=token_hash(token), owner_id=owner_id, created_at=utcnow()))
        return token

    def revoke_feed(self, owner_id: int) -> bool:
        """The owner's feed URL stops working. Returns whether there was one."""
        with self.database.writing() as session:
            return session.execute(delete(FollowFeed).where(FollowFeed.owner_id == owner_id)).rowcount > 0

    def has_feed(self, owner_id: int) -> bool:
        with self.database.reading() as session:
            return session.scalar(select(FollowFeed.owner_id).where(FollowFeed.owner_id == owner_id)) is not None

    def feed_owner(self, token: object) -> str:
        """Whose feed a URL's token opens; FollowNotFound for an unknown or revoked one."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise FollowNotFound("No such feed.")
        with self.database.reading() as session:
            feed = session.get(FollowFeed, token_hash(token))
            if feed is None:
                raise FollowNotFound("No such feed.")
            return feed.owner_id

    def feed_updates(self, owner_id: int, limit: int = FEED_ENTRIES) -> list[Update]:
        """The owner's newest updates, for the feed."""
        query = (select(FollowUpdate, Follow.question).join(Follow, Follow.id == FollowUpdate.follow_id)
                 .where(FollowUpdate.owner_id == owner_id).order_by(FollowUpdate.id.desc()).limit(limit))
        with self.database.reading() as session:
            return [_update(u, q) for u, q in session.execute(query).all()]

    # The watcher's verbs ---------------------------------------------------------------------------

    def candidates(self) -> list[Candidate]:
        """Every follow, as matching needs it."""
        query = select(Follow.id, Follow.question, Follow.filters, Follow.sources)
        with self.database.reading() as session:
            return [Candidate(i, q, f or {}, frozenset(s["doc_id"] for s in s_ or [] if s.get("doc_id")))
                    for i, q, f, s_ in session.execute(query).all()]

    def load(self, follow_ids: list[int]) -> list[Followed]:
        with self.database.reading() as session:
            follows = session.scalars(select(Follow).where(Follow.id.in_(follow_ids))).all()
            return [self._view(f, []) for f in follows]

    def record(self, found: list[tuple[int, Change]], new: dict) -> None:
        """Write what a re-answer (`new`, a snapshot) meant for each follow that asked it: an update
        (the new answer becomes the one last seen), new sources, or only the time it was checked.
        A follow removed meanwhile is skipped."""
        with self.database.writing() as session:
            now = utcnow()
            for follow_id, change in found:
                follow = session.get(Follow, follow_id)
                if follow is None:
                    continue
                follow.checked_at = now
                known = {s.get("doc_id") for s in follow.sources or []}
                added = [article_of(c) for c in new.get("citations") or []] if change.kind == UPDATE else change.sources
                fresh = [s for s in added if s.get("doc_id") not in known]
                if fresh:
                    follow.sources = [*(follow.sources or []), *fresh]
                if change.kind == UPDATE:
                    session.add(FollowUpdate(follow_id=follow.id, owner_id=follow.owner_id, reason=change.reason,
                                             old=follow.answer, new=new, article=change.article, created_at=now))
                    follow.answer = new

    # ----------------------------------------------------------------------------------------------------

    def _owned(self, session, owner_id: int, follow_id: object) -> Follow:
        try:
            number = int(follow_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FollowNotFound(f"No followed question {follow_id!r}.") from None
        follow = session.scalar(select(Follow).options(selectinload(Follow.updates)).where(Follow.id == number))
        if follow is None or follow.owner_id != owner_id:
            raise FollowNotFound(f"No followed question {follow_id!r} of yours (see `rag follow list`).")
        return follow

    @staticmethod
    def _view(follow: Follow, updates) -> Followed:
        return Followed(
            follow.id, follow.owner_id, follow.question, dict(follow.filters or {}), dict(follow.answer or {}),
            list(follow.sources or []), aware(follow.created_at), aware(follow.checked_at),
            sorted((_update(u, follow.question) for u in updates), key=lambda u: u.update_id, reverse=True),
        )


def _update(row: FollowUpdate, question: str) -> Update:
    return Update(row.id, row.follow_id, question, row.reason, dict(row.old or {}), dict(row.new or {}),
                  dict(row.article or {}), aware(row.created_at), aware(row.read_at))
