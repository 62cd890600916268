"""Accounts and roles: who may log in, and what each may do.

Passwords are stored as argon2id hashes (argon2-cffi: salted, slow, memory-hard); a hash made with
weaker parameters than the library's current ones is replaced at the next login. RAG_AUTH's
`user:password` is one more account, an admin, that lives in the settings rather than the database.

Everything a user has is owned by the account's immutable id (`Account.id`, see rag/team/models.py),
never by its name: a request's user is resolved to an `Account` by `Accounts.identify`, and
`remove_account` deletes what the id owns (the tables listed in OWNED) in the transaction that
deletes the account, so a new account given the old name starts empty. Removing an account or
changing its password ends its login sessions (rag/team/sessions.py).
"""

from __future__ import annotations

import enum
import hmac
import re
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import column, delete, func, select, table, update

from rag.errors import RagError
from rag.team.db import Database, aware
from rag.team.models import LOCAL_ID, SETTINGS_ADMIN_ID, User, utcnow
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
    """A user: the immutable account id that owns the user's data, the name it logs in with, its
    role, and whether it comes from RAG_AUTH (then it cannot be changed here)."""

    id: int
    username: str
    role: Role
    from_settings: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class Owned:
    """A column holding the account id that owns its table's rows. Removing the account deletes
    those rows, or with `keep`, sets the column to NULL (the rows stay, owned by nobody)."""

    table: str
    column: str
    keep: bool = False


# What an account owns, in deletion order. A feature with rows of its own (follows, API tokens...)
# adds its table here; tests/team_cases.py checks that every `owner_id` or `account_id` column of
# the models is listed. Shares go with their conversation (turns cascade to them).
OWNED: list[Owned] = [
    Owned("sessions", "account_id"),
    Owned("api_tokens", "owner_id"),
    Owned("follow_updates", "owner_id"),
    Owned("follows", "owner_id"),
    Owned("follow_feeds", "owner_id"),
    Owned("conversations", "owner_id"),
    Owned("feedback", "account_id", keep=True),  # ratings stay for evaluation, detached from any account
]


def remove_account(session, account_id: int) -> None:
    """In an open transaction: delete the account `account_id` and everything it owns (OWNED).
    Every owner of data goes through here, so nothing of it is left for a later holder of the name."""
    for owned in OWNED:
        owner = column(owned.column)
        rows = table(owned.table, owner)
        if owned.keep:
            session.execute(update(rows).where(owner == account_id).values({owned.column: None}))
        else:
            session.execute(delete(rows).where(owner == account_id))
    session.execute(delete(User).where(User.id == account_id))


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
                return self._settings_account()
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
        return _account(user)

    def identify(self, user: object) -> Account | None:
        """The account a request's user is, as it is now (None: logged out, removed, or not a
        login). `user` is what the login sessions hand Gradio (`request.username`): a
        `SessionUser`, which carries its account id; a bare name is no login. Handlers call this on
        every request, so a removed account or a changed role takes effect at once, in every process."""
        account_id = getattr(user, "account_id", None)
        return self.by_id(account_id) if isinstance(account_id, int) else None

    def by_id(self, account_id: int | None) -> Account | None:
        """The account with this id as it is now (None: removed, or never was)."""
        if account_id is None or isinstance(account_id, bool):
            return None
        if account_id == SETTINGS_ADMIN_ID:
            return self._settings_account() if self.settings_admin else None
        with self.database.reading() as session:
            user = session.get(User, account_id)
            return _account(user) if user else None

    def get(self, username: str | None) -> Account | None:
        """The account named `username` now (None when there is none), for the CLI and logins.
        Never use a name to find what a user owns: the name may belong to a new account tomorrow."""
        if not username:
            return None
        if self.settings_admin and username == self.settings_admin[0]:
            return self._settings_account()
        with self.database.reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            return _account(user) if user else None

    def _settings_account(self) -> Account:
        return Account(SETTINGS_ADMIN_ID, self.settings_admin[0], Role.ADMIN, from_settings=True)

    # Managing -----------------------------------------------------------------------------------

    def list(self) -> list[Account]:
        """Every account, by name; the RAG_AUTH admin first when there is one."""
        with self.database.reading() as session:
            users = session.scalars(select(User).order_by(User.username)).all()
            listed = [_account(u) for u in users]
        if self.settings_admin:
            listed.insert(0, self._settings_account())
        return listed

    def add(self, username: str, password: str, role: Role | str = Role.READER) -> Account:
        username, role = self._new_name(username), Role.parse(role)
        hashed = self._hash(password)
        with self.database.writing() as session:
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise AccountError(f"There is already an account named {username!r}.")
            user = User(username=username, password_hash=hashed, role=role.value, created_at=utcnow())
            session.add(user)
            session.flush()
            return _account(user)

    def remove(self, username: str) -> None:
        """Remove the account and everything it owns (`remove_account`): its logins end, its
        conversations and links are deleted, its feedback stays for evaluation, owned by nobody."""
        self._not_settings(username)
        with self.database.writing() as session:
            user = self._user(session, username)
            self._keep_an_admin(session, user, None)
            remove_account(session, user.id)

    def set_password(self, username: str, password: str) -> None:
        self._not_settings(username)
        hashed = self._hash(password)
        with self.database.writing() as session:
            user = self._user(session, username)
            user.password_hash = hashed
            user.password_changed_at = utcnow()
            end_sessions(session, user.id)

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


def _account(user: User) -> Account:
    return Account(user.id, user.username, Role(user.role), created_at=_day(user.created_at))


def reserved_name(account_id: int | None) -> str:
    """How a figure names an owner id that has no row in `users`."""
    return {SETTINGS_ADMIN_ID: "RAG_AUTH admin", LOCAL_ID: "local"}.get(account_id, "a removed account")


def _day(moment) -> str:
    moment = aware(moment)
    return moment.date().isoformat() if moment else ""
