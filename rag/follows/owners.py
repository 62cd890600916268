"""Who owns a follow: the one place that turns an account into the id follows are stored under.

Today an account's identity is its user name; when accounts get immutable ids, `owner_id` is the
only function to change (the app, the command line and `rag.follows` all go through it).
"""

from __future__ import annotations

from rag.config import Config
from rag.errors import RagError
from rag.team.accounts import Account, Accounts
from rag.team.db import Database

LOCAL = "local"  # the one user of an app without a login (rag/web/team.py's LOCAL account)


def owner_id(account: Account) -> str:
    """The id an account's follows are stored under."""
    return account.username


def named_owner(database: Database, config: Config, name: str | None) -> str:
    """The owner a command line `--user NAME` means: an existing account, or the local user of an
    app without a login when no name is given."""
    accounts = Accounts(database, config.web.auth_pair)
    if not name:
        if accounts.login_required():
            raise RagError("This app has accounts: say whose follows with --user NAME.")
        return LOCAL
    account = accounts.get(name)
    if account is None:
        raise RagError(f"No account named {name!r} (see `rag users list`).")
    return owner_id(account)
