"""`python -m rag users ...` and `python -m rag eval --from-feedback FILE`."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path

import yaml

from rag.config import Config
from rag.errors import RagError
from rag.team.accounts import AccountError, Accounts
from rag.team.db import open_database
from rag.team.feedback import FeedbackStore, gold_items
from rag.team.tokens import ApiTokens

GOLD_HEADER = """\
# Gold-set items made from users' feedback by `python -m rag eval --from-feedback` on {date}.
# For an editor to review before adding them to tests/gold/gold.yaml (schema at the top of that
# file): check each fact (a regex that a right answer must match), add the supporting documents'
# ids to `docs`, and keep the `note` or replace it. Thumbs-down ratings without a correction are
# left out ({left_out} of them).
"""


def run_users(args, config: Config) -> int:
    database = open_database(config)
    try:
        accounts = Accounts(database, config.web.auth_pair)
        if args.action == "list":
            for account in accounts.list():
                where = "RAG_AUTH" if account.from_settings else f"since {account.created_at}"
                print(f"{account.username:32} {account.role.value:8} {where}")
        elif args.action == "add":
            first = not accounts.list()
            accounts.add(args.name, _password(args), args.role)
            print(f"Added {args.name} ({args.role}).")
            if first:
                # The app decides at start whether it asks for a login (rag/web/app.py).
                print("The first account: an app already running without a login keeps running without one until it is restarted.")
        elif args.action == "passwd":
            account = accounts.get(args.name)  # say what is wrong with the name before asking
            if account is None:
                raise AccountError(f"No account named {args.name!r}.")
            if account.from_settings:
                raise AccountError(f"{args.name!r} is the RAG_AUTH admin: change it in the settings, not here.")
            accounts.set_password(args.name, _password(args))
            print(f"Changed the password of {args.name}.")
        elif args.action == "role":
            accounts.set_role(args.name, args.role)
            print(f"{args.name} is now {args.role}.")
        elif args.action == "remove":
            accounts.remove(args.name)
            print(f"Removed {args.name}: their logins, conversations, links, tokens and followed questions are deleted; their feedback stays, anonymous.")
    finally:
        database.close()
    return 0


def run_tokens(args, config: Config) -> int:
    """`rag tokens add|list|remove`: personal API tokens, for the account named by --user (default:
    the RAG_AUTH admin, else the only account)."""
    database = open_database(config)
    try:
        accounts = Accounts(database, config.web.auth_pair)
        tokens = ApiTokens(database, accounts)
        owner = _token_owner(accounts, args.user)
        if args.action == "add":
            made = tokens.create(owner, args.name or "", args.expires_days)
            print(made.token)
            expiry = f", expires {made.info.expires_at}" if made.info.expires_at else ", never expires"
            print(f"Token {made.info.id} for {owner.username} ({owner.role.value}){expiry}. "
                  "It is shown only now: keep it secret.", file=sys.stderr)
        elif args.action == "list":
            for info in tokens.list(owner):
                state = "expired" if info.expired else f"expires {info.expires_at}" if info.expires_at else "no expiry"
                print(f"{info.id}  {info.name or '-':24} made {info.created_at}  last used {info.last_used_at or 'never'}  {state}")
        elif args.action == "remove":
            info = tokens.remove(owner, args.token)
            print(f"Revoked token {info.id} of {owner.username}.")
    finally:
        database.close()
    return 0


def _token_owner(accounts: Accounts, name: str | None):
    if name:
        account = accounts.get(name)
        if account is None:
            raise AccountError(f"No account named {name!r}.")
        return account
    listed = accounts.list()
    if accounts.settings_admin:
        return listed[0]
    if len(listed) == 1:
        return listed[0]
    if not listed:
        raise AccountError("A token acts as an account, and there is none yet: add one with `rag users add NAME`.")
    raise AccountError("Say whose token it is: --user NAME.")


def run_feedback_export(args, config: Config) -> int:
    """Write the rated answers as gold-set items to args.from_feedback."""
    database = open_database(config)
    try:
        rating = {"up": 1, "down": -1}.get(args.rating)
        records = FeedbackStore(database).rated(rating=rating)
    finally:
        database.close()
    items, left_out = gold_items(records)
    target = Path(args.from_feedback)
    header = GOLD_HEADER.format(date=dt.date.today().isoformat(), left_out=left_out)
    body = yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=100) if items else "[]\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + "\n" + body, encoding="utf-8")
    except OSError as exc:
        raise RagError(f"Cannot write {target}: {exc.strerror or exc}") from None
    print(f"Wrote {len(items)} items to {target} ({left_out} thumbs-down ratings without a correction left out).")
    return 0


def _password(args) -> str:
    """From standard input (one line) when asked or when it is not a terminal, else typed twice."""
    if getattr(args, "password_stdin", False) or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise RagError("The two passwords differ; nothing changed.")
    return first
