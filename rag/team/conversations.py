"""Each user's saved conversations: the turns as they were answered, with their citations kept
verbatim, and permalinks that share one answer read-only with the app's other users.

Every operation takes the acting user's account id (`Account.id`, never a name: see
rag/team/models.py) and touches only what that account owns: another user's conversation is "not
found", never shown or changed. A permalink belongs to its answer's conversation.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from rag.errors import RagError
from rag.team.db import Database, aware
from rag.team.models import Conversation, SavedCitation, Share, Turn, utcnow
from rag.team.quality import count_answer
from rag.types import Answer, Citation, Document

TITLE_CHARS = 80
MAX_TITLE_CHARS = 200
LIST_LIMIT = 200


class NotFound(RagError):
    """No such conversation, answer or link for this user (or it was revoked)."""


@dataclass
class KeptCitation(Citation):
    """A citation as the answer showed it, with the version of the article it quoted."""

    content_hash: str | None = None


@dataclass
class SavedTurn:
    """One question and its answer, as answered then."""

    turn_id: int
    conversation_id: str
    position: int
    question: str
    answer: str
    answerable: bool
    mode: str
    notice: str | None
    citations: list[KeptCitation]
    settings: dict
    index_generation: str
    latency_ms: float
    created_at: dt.datetime


@dataclass
class ConversationSummary:
    """A line of the sidebar."""

    conversation_id: str
    title: str
    updated_at: dt.datetime
    turns: int


@dataclass
class ConversationView:
    """A whole conversation, oldest turn first."""

    conversation_id: str
    owner_id: int
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime
    turns: list[SavedTurn] = field(default_factory=list)

    def history(self) -> list[tuple[str, str]]:
        """The (question, answer) pairs a follow-up question is asked with."""
        return [(t.question, t.answer) for t in self.turns]


@dataclass
class ShareInfo:
    """A live permalink of the owner's."""

    token: str
    turn_id: int
    question: str
    created_at: dt.datetime


@dataclass
class SharedAnswer:
    """What a permalink shows: one answer, its question and sources, and whose it is (an account id)."""

    token: str
    owner_id: int
    turn: SavedTurn


def title_from(question: str) -> str:
    """The first question, on one line, cut at a word near TITLE_CHARS."""
    line = re.sub(r"\s+", " ", question).strip()
    if len(line) <= TITLE_CHARS:
        return line or "Untitled"
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0] or line[:TITLE_CHARS]
    return cut.rstrip(" ,;:-") + " …"


def citation_notes(citations: Sequence[KeptCitation], current: Callable[[str], Document | None]) -> dict[int, str]:
    """For each citation whose article changed or left the corpus since the answer, by number,
    a line saying so (the kept quote is shown either way)."""
    notes: dict[int, str] = {}
    for c in citations:
        doc = current(c.doc_id)
        if doc is None:
            notes[c.number] = "This article is no longer in the corpus; the quote is as it was when answered."
        elif c.content_hash and doc.content_hash != c.content_hash:
            notes[c.number] = "This article has changed since the answer; the quote is as it was when answered."
    return notes


class Conversations:
    """Saved conversations and shared answers in `database`."""

    def __init__(self, database: Database):
        self.database = database

    # Saving ---------------------------------------------------------------------------------------

    def save_turn(
        self, owner: int, conversation_id: str | None, answer: Answer, settings: Mapping | None = None,
        index_generation: str = "", content_hashes: Mapping[str, str] | None = None,
    ) -> SavedTurn:
        """Append `answer` (to its question) to the owner's conversation, or to a new one titled
        after the question when `conversation_id` is None. Returns the saved turn."""
        owner = _owner(owner)
        hashes = content_hashes or {}
        for attempt in range(5):
            try:
                with self.database.writing() as session:
                    now = utcnow()
                    if conversation_id is None:
                        conversation = Conversation(
                            id=uuid.uuid4().hex, owner_id=owner, title=title_from(answer.question),
                            created_at=now, updated_at=now,
                        )
                        session.add(conversation)
                        position = 0
                    else:
                        conversation = self._owned(session, owner, conversation_id)
                        conversation.updated_at = now
                        last = session.scalar(select(func.max(Turn.position)).where(Turn.conversation_id == conversation.id))
                        position = 0 if last is None else last + 1
                    turn = Turn(
                        conversation_id=conversation.id, position=position, question=answer.question,
                        answer=answer.text, answerable=answer.answerable, mode=answer.mode, notice=answer.notice,
                        settings=dict(settings or {}), index_generation=index_generation,
                        latency_ms=float(answer.latency_ms), created_at=now,
                        citations=[
                            SavedCitation(
                                number=c.number, doc_id=c.doc_id, title=c.title, publisher=c.publisher, author=c.author,
                                published=c.published, url=c.url, quote=c.quote, start=c.start, end=c.end,
                                content_hash=hashes.get(c.doc_id),
                            )
                            for c in answer.citations
                        ],
                    )
                    session.add(turn)
                    count_answer(session, answer, now)  # the Quality page's counts, kept after a delete
                    session.flush()
                    return _turn(turn)
            except IntegrityError:
                # Two answers saved into one conversation at once (two tabs) took the same position.
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    # Reading --------------------------------------------------------------------------------------

    def list(self, owner: int, search: str | None = None, limit: int = LIST_LIMIT) -> list[ConversationSummary]:
        """The owner's conversations, most recently used first; with `search`, only those whose
        title, questions or answers contain it (any case)."""
        counts = (
            select(Turn.conversation_id, func.count(Turn.id).label("n")).group_by(Turn.conversation_id).subquery()
        )
        query = (
            select(Conversation, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.conversation_id == Conversation.id)
            .where(Conversation.owner_id == _owner(owner))
        )
        words = (search or "").strip()
        if words:
            matching_turns = select(Turn.conversation_id).where(
                or_(Turn.question.icontains(words, autoescape=True), Turn.answer.icontains(words, autoescape=True))
            )
            query = query.where(or_(Conversation.title.icontains(words, autoescape=True), Conversation.id.in_(matching_turns)))
        query = query.order_by(Conversation.updated_at.desc(), Conversation.id).limit(limit)
        with self.database.reading() as session:
            return [
                ConversationSummary(c.id, c.title, aware(c.updated_at), n) for c, n in session.execute(query).all()
            ]

    def open(self, owner: int, conversation_id: str) -> ConversationView:
        with self.database.reading() as session:
            conversation = self._owned(session, owner, conversation_id, load_turns=True)
            return ConversationView(
                conversation.id, conversation.owner_id, conversation.title, aware(conversation.created_at),
                aware(conversation.updated_at), [_turn(t) for t in conversation.turns],
            )

    def turn(self, owner: int, turn_id: int) -> SavedTurn:
        """One of the owner's answers."""
        with self.database.reading() as session:
            turn = self._owned_turn(session, owner, turn_id)
            return _turn(turn)

    # Changing -------------------------------------------------------------------------------------

    def rename(self, owner: int, conversation_id: str, title: str) -> None:
        title = re.sub(r"\s+", " ", str(title or "")).strip()
        if not title:
            raise RagError("A title cannot be empty.")
        with self.database.writing() as session:
            self._owned(session, owner, conversation_id).title = title[:MAX_TITLE_CHARS]

    def delete(self, owner: int, conversation_id: str) -> None:
        """Delete the conversation, its answers and their permalinks (feedback on them is kept)."""
        with self.database.writing() as session:
            conversation = self._owned(session, owner, conversation_id)
            session.execute(delete(Conversation).where(Conversation.id == conversation.id))

    # Sharing --------------------------------------------------------------------------------------

    def share(self, owner: int, turn_id: int) -> str:
        """A new permalink token for one of the owner's answers."""
        with self.database.writing() as session:
            turn = self._owned_turn(session, owner, turn_id)
            token = secrets.token_urlsafe(24)
            session.add(Share(token=token, turn_id=turn.id, created_at=utcnow()))
        return token

    def revoke(self, owner: int, token: str) -> None:
        with self.database.writing() as session:
            share = session.scalar(
                select(Share).join(Turn, Turn.id == Share.turn_id).join(Conversation)
                .where(Share.token == str(token), Conversation.owner_id == _owner(owner), Share.revoked_at.is_(None))
            )
            if share is None:
                raise NotFound("No such link.")
            share.revoked_at = utcnow()

    def shares(self, owner: int) -> list[ShareInfo]:
        """The owner's live permalinks, newest first."""
        query = (
            select(Share, Turn.question).join(Turn, Turn.id == Share.turn_id).join(Conversation)
            .where(Conversation.owner_id == _owner(owner), Share.revoked_at.is_(None)).order_by(Share.created_at.desc())
        )
        with self.database.reading() as session:
            return [ShareInfo(s.token, s.turn_id, q, aware(s.created_at)) for s, q in session.execute(query).all()]

    def shared(self, token: object) -> SharedAnswer:
        """What a live permalink shows; NotFound for an unknown or revoked one, or one whose
        conversation belongs to no account (the caller also checks that the owner still exists)."""
        if not isinstance(token, str) or not token or len(token) > 64:
            raise NotFound("No such link.")
        with self.database.reading() as session:
            found = session.execute(
                select(Share, Conversation.owner_id).join(Turn, Turn.id == Share.turn_id).join(Conversation)
                .where(Share.token == token)
            ).first()
            if found is None or found[0].revoked_at is not None or found[1] is None:
                raise NotFound("This link does not exist or was revoked by its owner.")
            share, owner_id = found
            turn = session.scalar(select(Turn).options(selectinload(Turn.citations)).where(Turn.id == share.turn_id))
            return SharedAnswer(share.token, owner_id, _turn(turn))

    # ----------------------------------------------------------------------------------------------

    @staticmethod
    def _owned(session, owner: int, conversation_id: object, load_turns: bool = False) -> Conversation:
        query = select(Conversation).where(Conversation.id == str(conversation_id), Conversation.owner_id == _owner(owner))
        if load_turns:
            query = query.options(selectinload(Conversation.turns).selectinload(Turn.citations))
        conversation = session.scalar(query)
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation

    @staticmethod
    def _owned_turn(session, owner: int, turn_id: object) -> Turn:
        if isinstance(turn_id, bool) or not isinstance(turn_id, int):
            raise NotFound("No such answer.")
        turn = session.scalar(
            select(Turn).join(Conversation).options(selectinload(Turn.citations))
            .where(Turn.id == turn_id, Conversation.owner_id == _owner(owner))
        )
        if turn is None:
            raise NotFound("No such answer.")
        return turn


def _owner(owner: object) -> int:
    """An owner is an account id; a name here is a caller's bug (it would find another account's
    rows once the name is reused), so it fails loudly."""
    if isinstance(owner, bool) or not isinstance(owner, int):
        raise TypeError(f"an owner is an account id (Account.id), not {owner!r}")
    return owner


def _turn(turn: Turn) -> SavedTurn:
    citations = [
        KeptCitation(
            number=c.number, doc_id=c.doc_id, title=c.title, quote=c.quote, url=c.url, publisher=c.publisher,
            author=c.author, published=c.published, start=c.start, end=c.end, content_hash=c.content_hash,
        )
        for c in turn.citations
    ]
    return SavedTurn(
        turn.id, turn.conversation_id, turn.position, turn.question, turn.answer, turn.answerable, turn.mode,
        turn.notice, citations, dict(turn.settings or {}), turn.index_generation, turn.latency_ms, aware(turn.created_at),
    )
