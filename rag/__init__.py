"""A cited question-answering service over a folder of news articles.

    from rag import ask
    a = ask("what did Rubio say about Istanbul")
    print(a.text)                  # markdown with inline [1] [2] markers
    for c in a.citations:
        print(c.number, c.title, c.quote)

`ask`, `stream`, `index`, `sources`, `document`, `add_files`, `add_urls`, `remove`, `feeds` (add,
list, remove and poll feeds: `rag.feeds.add("https://example.org/rss")`) and `follows` (followed
questions: `rag.follows.add("When will the bridge reopen?")`, rag/follows) use one shared `Service` per
process, configured from the environment (see `rag.config`). Heavy libraries load on first use,
so `import rag` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import RagError
from rag.types import Answer, Citation, Document, FeedInfo, FetchReport, IndexSummary, Passage, SourceInfo

if TYPE_CHECKING:
    import datetime as dt

    from rag.service import History, Service

__all__ = [
    "Answer",
    "Citation",
    "Document",
    "FeedInfo",
    "FetchReport",
    "IndexSummary",
    "Passage",
    "RagError",
    "SourceInfo",
    "add_files",
    "add_urls",
    "ask",
    "document",
    "feeds",
    "follows",
    "get_service",
    "index",
    "remove",
    "sources",
    "stream",
]

_default: "Service | None" = None


def get_service() -> "Service":
    """The process-wide service, built from the environment on first use."""
    global _default
    if _default is None:
        from rag.service import Service

        _default = Service()
    return _default


def ask(question: str, history: "History | None" = None, top_k: int | None = None,
        as_of: "dt.date | str | None" = None, **filters) -> Answer:
    """Answer a question from the corpus, with citations. `as_of` (a date or "YYYY-MM-DD", default
    today) is the day it is asked: later articles are left out and "this week" is read against it.
    Filters: publisher=, since=, until=."""
    return get_service().ask(question, history=history, top_k=top_k, as_of=as_of, **filters)


def stream(question: str, history: "History | None" = None, top_k: int | None = None,
           as_of: "dt.date | str | None" = None, **filters) -> Iterator[str | Answer]:
    """Like `ask`, but yields text deltas as they are produced and finally the checked `Answer`."""
    return get_service().stream(question, history=history, top_k=top_k, as_of=as_of, **filters)


def index(rebuild: bool = False) -> IndexSummary:
    """Bring the index up to date with the corpus folder (incremental unless `rebuild`)."""
    return get_service().index(rebuild=rebuild)


def sources() -> list[SourceInfo]:
    """The indexed documents with their metadata and chunk counts."""
    return get_service().sources()


def document(doc_id: str) -> Document | None:
    """One indexed document with its cleaned text, or None."""
    return get_service().document(doc_id)


def add_files(paths: Sequence[str | Path]) -> IndexSummary:
    """Copy files into the corpus folder and index them; bad files are reported, not copied."""
    return get_service().add_files(paths)


def add_urls(urls: Sequence[str]) -> FetchReport:
    """Fetch article pages (safely: see rag/ingest/fetching.py) into the corpus folder and index
    them; pages that cannot be fetched or read are reported with a reason."""
    return get_service().add_urls(urls)


def remove(target: str) -> FetchReport:
    """Remove one article, named by its link or its document id, and update the index. A fetched
    article does not come back with a feed that lists it; adding its link again brings it back."""
    return get_service().remove(target)


def __getattr__(name: str):
    # `rag.feeds` is the process-wide service's feeds: .add(url), .list(), .remove(url), .poll()
    if name == "feeds":
        return get_service().feeds
    if name == "follows":  # followed questions: .add(question), .list(), .remove(id) (rag/follows)
        import importlib

        return importlib.import_module("rag.follows")
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
