"""Login sessions in the team database, in place of Gradio's in-memory token table.

Gradio's login sets a random token in a cookie and keeps `token -> user name` in a dict of the
process (`app.tokens`): another app process behind the same proxy does not know it, and a restart
forgets every login. `LoginSessions` is that table kept in the database, so any process serving
the team accepts a login made in another, logins outlive restarts, and removing an account or
changing its password ends its sessions everywhere. Only the token's SHA-256 is stored: a copy
of the database does not let anyone in.

A login belongs to an account id, not to the name typed at the login: Gradio gets a `SessionUser`
(the account's name, carrying its id) as `request.username`, and handlers resolve the id
(`Accounts.identify`), so a removed account's login opens nothing at once, in every process, even
when a new account has its name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from rag.team.db import Database, aware
from rag.team.models import LoginSession, utcnow

if TYPE_CHECKING:
    from rag.team.accounts import Accounts

CACHE_SECONDS = 5.0  # a process re-reads a known token this often (how soon a revocation reaches it)
CACHE_SIZE = 10_000
# The account a login form's check just accepted, in that request's task: Gradio then stores the
# typed name, which by then could name a new account (the old one removed meanwhile).
_CHECKED: ContextVar[SessionUser | None] = ContextVar("newsrag_checked_login", default=None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class SessionUser(str):
    """The user of a login as Gradio hands it on (`request.username`): the account's name, which
    pages show, carrying `account_id`, which is what handlers look up."""

    account_id: int

    def __new__(cls, name: str, account_id: int) -> SessionUser:
        user = super().__new__(cls, name)
        user.account_id = account_id
        return user

    def __getnewargs__(self) -> tuple[str, int]:  # copies and pickles keep the id
        return str(self), self.account_id


class LoginSessions(MutableMapping):
    """token -> `SessionUser`, for logins younger than `lifetime` of accounts that still exist
    (`accounts` resolves names at login and ids after). Tokens cannot be listed (only their hashes
    are kept), so iterating yields nothing; `end_all(user)` ends a user's sessions."""

    def __init__(self, database: Database, lifetime: dt.timedelta, accounts: Accounts, clock=time.monotonic):
        self.database, self.lifetime, self.accounts, self.clock = database, lifetime, accounts, clock
        self._cache: dict[str, tuple[SessionUser, float]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, token: object) -> SessionUser:
        if not isinstance(token, str) or not token or len(token) > 256:
            raise KeyError(token)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(token)
        if cached and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        with self.database.reading() as session:
            row = session.get(LoginSession, digest(token))
            account_id = row.account_id if row and aware(row.created_at) > utcnow() - self.lifetime else None
        account = self.accounts.by_id(account_id)
        with self._lock:
            if account is None:
                self._cache.pop(token, None)
                raise KeyError(token)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            user = SessionUser(account.username, account.id)
            self._cache[token] = (user, now)
        return user

    def checked(self, account) -> None:
        """Say which account (an `Account`, or None) the login check of this request accepted:
        the login Gradio stores next in this task is that account's, whoever has its name then."""
        _CHECKED.set(SessionUser(account.username, account.id) if account is not None else None)

    def __setitem__(self, token: str, user: str) -> None:
        """A new login of `user`: the name Gradio's login form checked (or a `SessionUser`)."""
        account_id = getattr(user, "account_id", None)
        checked = _CHECKED.get()
        if account_id is None and checked is not None and checked == user:
            account_id = checked.account_id
        if account_id is None:
            account = self.accounts.get(user)
            if account is None:
                raise KeyError(user)
            account_id = account.id
        with self.database.writing() as session:
            session.execute(delete(LoginSession).where(LoginSession.created_at < utcnow() - self.lifetime))
            session.merge(LoginSession(token_hash=digest(token), account_id=account_id, created_at=utcnow()))

    def __delitem__(self, token: str) -> None:
        with self._lock:
            self._cache.pop(token, None)
        with self.database.writing() as session:
            if session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token))).rowcount == 0:
                raise KeyError(token)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        with self.database.reading() as session:
            return session.scalar(select(func.count()).select_from(LoginSession))

    def end_all(self, user: SessionUser | int) -> None:
        """Log a user (a `SessionUser` or an account id) out everywhere: this process at once,
        others within CACHE_SECONDS (a removed account's logins open nothing at once anywhere)."""
        account_id = getattr(user, "account_id", user)
        if not isinstance(account_id, int) or isinstance(account_id, bool):
            raise TypeError(f"end_all takes a SessionUser or an account id, not {user!r}")
        with self._lock:
            for token in [t for t, (cached, _) in self._cache.items() if cached.account_id == account_id]:
                del self._cache[token]
        with self.database.writing() as session:
            end_sessions(session, account_id)


def end_sessions(session, account_id: int) -> None:
    """In an open transaction: delete the logins of account `account_id` (a removal or a new password)."""
    session.execute(delete(LoginSession).where(LoginSession.account_id == account_id))
