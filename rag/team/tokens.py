"""Personal API tokens: made, listed and revoked by their owner; each acts as its owner.

A token is shown once, when it is made; the database keeps only its SHA-256 (tokens are 256 random
bits, so a fast hash is enough: nothing to guess). Every request looks the owner up again by
account id (`Accounts.by_id`), so changing the role applies to the next request, in every process;
removing the account deletes its tokens (`rag.team.accounts.OWNED`), and a new account with the
old name has none of them. Last use is written at most once a minute per token, not on every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from rag.team.accounts import Account, AccountError, Accounts
from rag.team.db import Database, aware
from rag.team.models import ApiToken, utcnow

PREFIX = "nrag_"  # recognisable in logs and by secret scanners
MAX_NAME = 100
MAX_TOKENS_PER_USER = 50
LAST_USED_EVERY = dt.timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: str
    name: str
    owner_id: int
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    expired: bool

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class NewToken:
    """A token just made: `token` is the secret, shown this once."""

    info: TokenInfo
    token: str


class ApiTokens:
    """The personal tokens in `database`, for the accounts in `accounts`."""

    def __init__(self, database: Database, accounts: Accounts):
        self.database, self.accounts = database, accounts

    def create(self, owner: Account, name: str = "", expires_days: int | None = None) -> NewToken:
        name = " ".join(str(name or "").split())
        if len(name) > MAX_NAME:
            raise AccountError(f"A token name may have at most {MAX_NAME} characters.")
        if expires_days is not None and not (1 <= int(expires_days) <= 3650):
            raise AccountError("A token expires after 1 to 3650 days (or never).")
        token = PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        row = ApiToken(
            id=secrets.token_hex(6), owner_id=owner.id, name=name, token_hash=digest(token), created_at=now,
            expires_at=now + dt.timedelta(days=int(expires_days)) if expires_days else None,
        )
        with self.database.writing() as session:
            count = len(session.scalars(select(ApiToken.id).where(ApiToken.owner_id == owner.id)).all())
            if count >= MAX_TOKENS_PER_USER:
                raise AccountError(f"{owner.username!r} has {count} tokens already: remove one first.")
            session.add(row)
            info = _info(row, now)
        return NewToken(info, token)

    def list(self, owner: Account) -> list[TokenInfo]:
        now = utcnow()
        with self.database.reading() as session:
            rows = session.scalars(
                select(ApiToken).where(ApiToken.owner_id == owner.id).order_by(ApiToken.created_at)
            ).all()
            return [_info(row, now) for row in rows]

    def remove(self, owner: Account, id_or_token: str) -> TokenInfo:
        """Revoke one of `owner`'s tokens, named by its id or by the token itself."""
        key = str(id_or_token or "").strip()
        with self.database.writing() as session:
            row = session.scalar(select(ApiToken).where(
                ApiToken.owner_id == owner.id, or_(ApiToken.id == key, ApiToken.token_hash == digest(key))
            ))
            if row is None:
                raise AccountError(f"{owner.username!r} has no token {key[:16]!r}.")
            info = _info(row, utcnow())
            session.delete(row)
        return info

    def account(self, token: object) -> Account | None:
        """The account a bearer token acts as now, or None (unknown, expired, or its owner gone)."""
        if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
            return None
        now = utcnow()
        with self.database.reading() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
            if row is None or (row.expires_at is not None and aware(row.expires_at) <= now):
                return None
            owner, token_id, last = row.owner_id, row.id, aware(row.last_used_at)
        account = self.accounts.by_id(owner)
        if account is not None and (last is None or now - last >= LAST_USED_EVERY):
            with self.database.writing() as session:
                session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        return account


def _info(row: ApiToken, now: dt.datetime) -> TokenInfo:
    expires = aware(row.expires_at)
    return TokenInfo(
        id=row.id, name=row.name, owner_id=row.owner_id, created_at=_iso(row.created_at), expires_at=_iso(expires),
        last_used_at=_iso(row.last_used_at), expired=expires is not None and expires <= now,
    )


def _iso(moment: dt.datetime | None) -> str | None:
    moment = aware(moment)
    return moment.replace(microsecond=0).isoformat() if moment else None
