"""Accounts and roles: who may log in, and what each may do.

Passwords are stored as argon2id hashes (argon2-cffi: salted, slow, memory-hard); a hash made with
weaker parameters than the library's current ones is replaced at the next login. RAG_AUTH's
`user:password` is one more account, an admin, that lives in the settings rather than the database.
Removing an account or changing its password ends its login sessions (rag/team/sessions.py).
"""

from __future__ import annotations

import enum
import hmac
import re
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from rag.errors import RagError
from rag.team.db import Database, aware
from rag.team.models import User, utcnow
from rag.team.sessions import end_sessions

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 reads all of it: a megabyte "password" would be a cheap way to load the server


class AccountError(RagError):
    """A request about accounts that cannot be done (unknown user, weak password, last admin...)."""


class Role(str, enum.Enum):
    """reader: asks; editor: also adds articles (uploads, and links and feeds); admin: also accounts."""

    READER = "reader"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def can_upload(self) -> bool:
        return self in (Role.EDITOR, Role.ADMIN)

    @property
    def can_manage(self) -> bool:
        return self is Role.ADMIN

    @classmethod
    def parse(cls, value: object) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise AccountError(f"Unknown role {value!r}: use reader, editor or admin.") from None


@dataclass(frozen=True)
class Account:
    """A user as listed: name, role, and whether it comes from RAG_AUTH (then it cannot be changed here)."""

    username: str
    role: Role
    from_settings: bool = False
    created_at: str = ""


class Accounts:
    """The accounts in `database`, plus `settings_admin` (RAG_AUTH as (user, password)) when set.
    `hasher` defaults to argon2-cffi's recommended parameters (tests that are not about hashing
    pass cheaper ones)."""

    def __init__(self, database: Database, settings_admin: tuple[str, str] | None = None,
                 hasher: PasswordHasher | None = None):
        self.database = database
        self.settings_admin = settings_admin
        self._hasher = hasher or PasswordHasher()

    @cached_property
    def _dummy_hash(self) -> str:
        """Checked against when the user does not exist, so a login takes as long either way."""
        return self._hasher.hash("no such user")

    # Logging in ---------------------------------------------------------------------------------

    def login_required(self) -> bool:
        """Whether the app needs a login: RAG_AUTH is set or an account exists."""
        if self.settings_admin:
            return True
        with self.database.reading() as session:
            return session.scalar(select(func.count()).select_from(User)) > 0

    def check(self, username: object, password: object) -> Account | None:
        """The account when `password` is right, else None (also for any malformed input)."""
        if not isinstance(username, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return None
        username = username.strip()
        if self.settings_admin and username == self.settings_admin[0]:
            # One slow hash, as for every other name: the time taken must not tell which name this is.
            try:
                self._hasher.verify(self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                pass
            if hmac.compare_digest(password.encode(), self.settings_admin[1].encode()):
                return Account(username, Role.ADMIN, from_settings=True)
            return None
        with self.database.reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            stored = user.password_hash if user else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self.database.writing() as session:
                row = session.scalar(select(User).where(User.username == username))
                if row is not None and row.password_hash == stored:
                    row.password_hash = self._hasher.hash(password)
        return Account(user.username, Role(user.role), created_at=_day(user.created_at))

    def get(self, username: str | None) -> Account | None:
        """The account named `username` as it is now (None when there is none): handlers call this
        on every request, so a removed user or a changed role takes effect at once."""
        if not username:
            return None
        if self.settings_admin and username == self.settings_admin[0]:
            return Account(username, Role.ADMIN, from_settings=True)
        with self.database.reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            return Account(user.username, Role(user.role), created_at=_day(user.created_at)) if user else None

    # Managing -----------------------------------------------------------------------------------

    def list(self) -> list[Account]:
        """Every account, by name; the RAG_AUTH admin first when there is one."""
        with self.database.reading() as session:
            users = session.scalars(select(User).order_by(User.username)).all()
            listed = [Account(u.username, Role(u.role), created_at=_day(u.created_at)) for u in users]
        if self.settings_admin:
            listed.insert(0, Account(self.settings_admin[0], Role.ADMIN, from_settings=True))
        return listed

    def add(self, username: str, password: str, role: Role | str = Role.READER) -> Account:
        username, role = self._new_name(username), Role.parse(role)
        hashed = self._hash(password)
        with self.database.writing() as session:
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise AccountError(f"There is already an account named {username!r}.")
            session.add(User(username=username, password_hash=hashed, role=role.value))
        return Account(username, role)

    def remove(self, username: str) -> None:
        self._not_settings(username)
        with self.database.writing() as session:
            user = self._user(session, username)
            self._keep_an_admin(session, user, None)
            session.execute(delete(User).where(User.id == user.id))
            end_sessions(session, user.username)

    def set_password(self, username: str, password: str) -> None:
        self._not_settings(username)
        hashed = self._hash(password)
        with self.database.writing() as session:
            user = self._user(session, username)
            user.password_hash = hashed
            user.password_changed_at = utcnow()
            end_sessions(session, user.username)

    def set_role(self, username: str, role: Role | str) -> None:
        self._not_settings(username)
        role = Role.parse(role)
        with self.database.writing() as session:
            user = self._user(session, username)
            self._keep_an_admin(session, user, role)
            user.role = role.value

    def _keep_an_admin(self, session, user: User, new_role: Role | None) -> None:
        """Refuse to remove or demote the last admin (unless RAG_AUTH provides one): nobody could
        manage accounts in the app any more."""
        if self.settings_admin or user.role != Role.ADMIN.value or new_role is Role.ADMIN:
            return
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value))
        if admins <= 1:
            raise AccountError(f"{user.username!r} is the last admin: make another admin first.")

    def _user(self, session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == str(username).strip()))
        if user is None:
            raise AccountError(f"No account named {username!r}.")
        return user

    def _new_name(self, username: object) -> str:
        name = str(username or "").strip()
        if not USERNAME.fullmatch(name):
            raise AccountError(
                "A user name is 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)."
            )
        self._not_settings(name)
        return name

    def _not_settings(self, username: str) -> None:
        if self.settings_admin and str(username).strip() == self.settings_admin[0]:
            raise AccountError(f"{username!r} is the RAG_AUTH admin: change it in the settings, not here.")

    def _hash(self, password: object) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
        if len(password) > MAX_PASSWORD:
            raise AccountError(f"A password may have at most {MAX_PASSWORD} characters.")
        return self._hasher.hash(password)


def _day(moment) -> str:
    moment = aware(moment)
    return moment.date().isoformat() if moment else ""
