"""Login sessions in the team database, in place of Gradio's in-memory token table.

Gradio's login sets a random token in a cookie and keeps `token -> user name` in a dict of the
process (`app.tokens`): another app process behind the same proxy does not know it, and a restart
forgets every login. `LoginSessions` is that table kept in the database, so any process serving
the team accepts a login made in another, logins outlive restarts, and removing an account or
changing its password ends its sessions everywhere. Only the token's SHA-256 is stored: a copy
of the database does not let anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator, MutableMapping

from sqlalchemy import delete, func, select

from rag.team.db import Database, aware
from rag.team.models import LoginSession, utcnow

CACHE_SECONDS = 5.0  # a process re-reads a known token this often (how soon a revocation reaches it)
CACHE_SIZE = 10_000


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class LoginSessions(MutableMapping):
    """token -> user name, for logins younger than `lifetime`. Tokens cannot be listed (only their
    hashes are kept), so iterating yields nothing; `end_all(user)` ends a user's sessions."""

    def __init__(self, database: Database, lifetime: dt.timedelta, clock=time.monotonic):
        self.database, self.lifetime, self.clock = database, lifetime, clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, token: object) -> str:
        if not isinstance(token, str) or not token or len(token) > 256:
            raise KeyError(token)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(token)
        if cached and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        with self.database.reading() as session:
            row = session.get(LoginSession, digest(token))
            username = row.username if row and aware(row.created_at) > utcnow() - self.lifetime else None
        with self._lock:
            if username is None:
                self._cache.pop(token, None)
                raise KeyError(token)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[token] = (username, now)
        return username

    def __setitem__(self, token: str, username: str) -> None:
        with self.database.writing() as session:
            session.execute(delete(LoginSession).where(LoginSession.created_at < utcnow() - self.lifetime))
            session.merge(LoginSession(token_hash=digest(token), username=username, created_at=utcnow()))

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

    def end_all(self, username: str) -> None:
        """Log `username` out everywhere (this process at once, others within CACHE_SECONDS)."""
        with self._lock:
            for token in [t for t, (user, _) in self._cache.items() if user == username]:
                del self._cache[token]
        with self.database.writing() as session:
            end_sessions(session, username)


def end_sessions(session, username: str) -> None:
    """In an open transaction: delete `username`'s logins (a removal or a new password)."""
    session.execute(delete(LoginSession).where(LoginSession.username == username))
