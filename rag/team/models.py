"""The team database's tables (SQLAlchemy declarative). Changing them needs a migration in
rag/team/migrations/versions/, which `rag.team.db` applies when a database is opened.

Everything a user owns is owned by an account id, never by a name: a name can be removed and
given to a new account, an id never comes back. `users.id` is the id of a database account
(AUTOINCREMENT on SQLite, a sequence on PostgreSQL: never reused); two ids have no row,
SETTINGS_ADMIN_ID (the RAG_AUTH admin, whatever its name) and LOCAL_ID (everyone, in an app with no
login). So owner columns are plain integers, not foreign keys, and `rag.team.accounts.OWNED` lists
them: removing an account deletes (or, for feedback, detaches) its rows there. A NULL owner is a
row of no account (a removed one's feedback kept for evaluation; rows of a name that had no
account when migration 0004 ran), visible to nobody."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


SETTINGS_ADMIN_ID = 0  # the RAG_AUTH admin: the operator's account, kept when RAG_AUTH's name or password changes
LOCAL_ID = -1  # the one local admin of an app with no login


class Base(DeclarativeBase):
    pass


class User(Base):
    """A database account; `id` is its immutable account id."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # a removed account's id is never given again

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # account id
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", order_by="Turn.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(Base):
    """One question and the answer it got, as shown then."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answerable: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(Text)
    notice: Mapped[str | None] = mapped_column(Text, nullable=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    index_generation: Mapped[str] = mapped_column(String(100), default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    conversation: Mapped[Conversation] = relationship(back_populates="turns")
    citations: Mapped[list[SavedCitation]] = relationship(
        order_by="SavedCitation.number", cascade="all, delete-orphan", passive_deletes=True
    )


class SavedCitation(Base):
    """A citation as the answer showed it; `content_hash` is the article's version then."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    doc_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    author: Mapped[str | None] = mapped_column(Text, nullable=True)
    published: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str] = mapped_column(Text)
    quote: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Share(Base):
    """A permalink to one answer; `revoked_at` set means it no longer opens. Its owner is the owner of
    the answer's conversation (deleting that conversation deletes the link)."""

    __tablename__ = "shares"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Feedback(Base):
    """A rating of one answer with what shaped it, copied so that it outlives the conversation."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("turn_id", "account_id", name="uq_feedback_turn_account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"), nullable=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # NULL: account removed
    rating: Mapped[int] = mapped_column(Integer)  # +1 thumbs up, -1 thumbs down
    comment: Mapped[str] = mapped_column(Text, default="")
    correction: Mapped[str] = mapped_column(Text, default="")
    question: Mapped[str] = mapped_column(Text)
    history: Mapped[list] = mapped_column(JSON, default=list)  # earlier questions of the conversation
    answer: Mapped[str] = mapped_column(Text)
    answerable: Mapped[bool] = mapped_column(Boolean)
    citations: Mapped[list] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    index_generation: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginSession(Base):
    """A login: the SHA-256 of the token in the user's cookie (the token itself is never stored)."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ApiToken(Base):
    """A personal API token: only its SHA-256 is kept (the token is shown once, when made). It acts
    as its owner with the owner's role at the time of each request."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)  # the account (rag.team.accounts.OWNED)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DailyAnswers(Base):
    """Questions answered and declined per day (UTC), counted as they are saved: the Quality
    page's counts, which deleting a conversation does not lower (its turns go, these stay)."""

    __tablename__ = "daily_answers"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    questions: Mapped[int] = mapped_column(Integer, default=0)
    declines: Mapped[int] = mapped_column(Integer, default=0)


class DailyCitations(Base):
    """Citations per outlet per day (UTC; "" for an unknown outlet), counted like DailyAnswers."""

    __tablename__ = "daily_citations"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    outlet: Mapped[str] = mapped_column(String(200), primary_key=True)
    citations: Mapped[int] = mapped_column(Integer, default=0)


class Follow(Base):
    """A followed question (rag/follows): its filters and the answer as last seen, kept as a
    snapshot (short answer, text, citations with their articles' dates). `owner_id` is the
    account id (rag.follows.owners.owner_id; listed in rag.team.accounts.OWNED)."""

    __tablename__ = "follows"
    __table_args__ = {"sqlite_autoincrement": True}  # a removed follow's id is never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    question: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)  # publisher, since, until
    answer: Mapped[dict] = mapped_column(JSON, default=dict)  # the snapshot last seen
    sources: Mapped[list] = mapped_column(JSON, default=list)  # every article it has cited, with its date
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updates: Mapped[list[FollowUpdate]] = relationship(
        back_populates="follow", order_by="FollowUpdate.id", cascade="all, delete-orphan", passive_deletes=True
    )


class FollowUpdate(Base):
    """A change in substance of a followed question's answer: both answers and the article that changed it."""

    __tablename__ = "follow_updates"
    __table_args__ = {"sqlite_autoincrement": True}  # feed entries keep unique ids

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    follow_id: Mapped[int] = mapped_column(ForeignKey("follows.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)  # the follow's, for the owner's feed
    reason: Mapped[str] = mapped_column(Text)
    old: Mapped[dict] = mapped_column(JSON, default=dict)
    new: Mapped[dict] = mapped_column(JSON, default=dict)
    article: Mapped[dict] = mapped_column(JSON, default=dict)  # doc_id, title, publisher, published, url
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    follow: Mapped[Follow] = relationship(back_populates="updates")


class FollowFeed(Base):
    """A user's private Atom feed of updates: the SHA-256 of the token in its URL (never the token)."""

    __tablename__ = "follow_feeds"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
