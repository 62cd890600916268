"""Who owns a follow: the one place that turns an account into the id follows are stored under,
its immutable account id (a new account given a removed one's name follows nothing of it)."""

from __future__ import annotations

from rag.config import Config
from rag.errors import RagError
from rag.team.accounts import Account, Accounts
from rag.team.db import Database
from rag.team.models import LOCAL_ID

def owner_id(account: Account) -> int:
    """The id an account's follows are stored under."""
    return account.id


def named_owner(database: Database, config: Config, name: str | None) -> int:
    """The owner a command line `--user NAME` means: an existing account, or the local user of an
    app without a login when no name is given."""
    accounts = Accounts(database, config.web.auth_pair)
    if not name:
        if accounts.login_required():
            raise RagError("This app has accounts: say whose follows with --user NAME.")
        return LOCAL_ID
    account = accounts.get(name)
    if account is None:
        raise RagError(f"No account named {name!r} (see `rag users list`).")
    return owner_id(account)
