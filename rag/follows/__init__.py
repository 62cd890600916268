"""Followed questions: answers that keep themselves current as the news changes.

    import rag
    f = rag.follows.add("When will the bridge reopen?")        # user="NAME" when the app has accounts
    for f in rag.follows.list():                               # each with .answer (as last seen) and .updates
        print(f.follow_id, f.question, f.unread, [u.reason for u in f.updates])
    rag.follows.remove(f.follow_id)

After every indexing run of this process's service that adds or changes articles, the follows
those articles could affect are asked again and an update is recorded when the answer changed
in substance (rag/follows/changes.py). The modules: `store` (the team database), `changes`,
`matching`, `watcher` (re-answering, paced by `pacing`), `owners` (whose follows), `atom` (the
private feed), `api` (`Follows`, `watch`).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.follows.api import Follows
    from rag.follows.store import Followed

_default: "tuple[Follows, object] | None" = None


def _follows() -> "tuple[Follows, object]":
    """The process-wide service's follows, in the team database of its settings; its indexing
    runs re-answer them before they return."""
    global _default
    if _default is None:
        from rag import get_service
        from rag.follows.api import Follows, watch
        from rag.team.db import open_database

        service = get_service()
        database = open_database(service.config)
        watch(service, database, background=False)
        _default = (Follows(service, database), database)
    return _default


def _owner(user: str | None) -> int:
    from rag.follows.owners import named_owner

    follows, database = _follows()
    return named_owner(database, follows.service.config, user)


def add(question: str, user: str | None = None, publisher: str | None = None, since: str | None = None,
        until: str | None = None) -> "Followed":
    """Follow a question (answered now) for `user` (default: the local user of an app without accounts)."""
    return _follows()[0].add(_owner(user), question, publisher, since, until)


def list(user: str | None = None) -> "builtins.list[Followed]":  # noqa: A001 - `rag.follows.list()` reads well
    """`user`'s follows, each with its answer as last seen and its updates."""
    return _follows()[0].list(_owner(user))


def remove(follow_id: int, user: str | None = None) -> None:
    """Stop following (its updates go too)."""
    _follows()[0].remove(_owner(user), follow_id)


def remove_owner(owner_id: int) -> int:
    """Delete every follow, update and feed of an owner (an account removed)."""
    return _follows()[0].remove_owner(owner_id)
