"""Following questions over one service and team database: what the app, the command line and
`rag.follows` call."""

from __future__ import annotations

from rag.errors import QuestionError
from rag.follows.changes import snapshot
from rag.follows.store import FILTER_KEYS, Followed, FollowStore
from rag.follows.watcher import FollowWatcher
from rag.retrieval.search import Filters
from rag.team.db import Database
from rag.team.models import utcnow


class Follows:
    """Follow, list and stop following questions; `owner` is always an owner id (rag/follows/owners.py)."""

    def __init__(self, service, database: Database):
        self.service, self.store = service, FollowStore(database)

    def add(self, owner: str, question: str, publisher: str | None = None, since: str | None = None,
            until: str | None = None) -> Followed:
        """Follow `question` (with an outlet and date range, optional): it is answered now, and
        that answer is the one later answers are compared with."""
        filters = {k: v for k, v in {"publisher": publisher, "since": since, "until": until}.items() if v}
        Filters.checked(**filters)  # a bad date or filter: QuestionError now, not at every poll
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("Type the question to follow.")
        answer = self.service.ask(question, **filters)
        return self.store.add(owner, question, filters, snapshot(answer, utcnow()))

    def list(self, owner: str) -> list[Followed]:
        return self.store.list(owner)

    def remove(self, owner: str, follow_id: int) -> None:
        self.store.remove(owner, follow_id)

    def remove_owner(self, owner: str) -> int:
        """Everything of an owner's goes (an account removed); returns how many follows."""
        return self.store.remove_owner(owner)

    def gone(self, follow: Followed) -> list[dict]:
        """The follow's cited articles that have left the corpus."""
        return [c for c in follow.answer.get("citations") or [] if self.service.document(c["doc_id"]) is None]


def watch(service, database: Database, background: bool = True) -> FollowWatcher:
    """Re-answer the followed questions in `database` after each of `service`'s indexing runs that
    changed articles: in a background thread (the app) or in place (the command line)."""
    watcher = FollowWatcher(service, lambda: FollowStore(database), background=background)
    service.index_listeners.append(watcher.changed)
    return watcher


__all__ = ["FILTER_KEYS", "Followed", "Follows", "watch"]
