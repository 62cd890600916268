"""Which followed questions an indexing run's new or changed articles could affect.

A question is re-asked only when an article could change its answer: one it cites changed or
left the corpus, or a new or changed article holds most of its topic terms and names, weighed by
how rare each is in the corpus (IDF, from the index's `CorpusStats`), and passes its filters. A
poll of 50 articles then re-asks the few questions about those stories, not all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.question import analyse
from rag.retrieval.search import Filters
from rag.text import terms
from rag.types import Document


@dataclass(frozen=True)
class Candidate:
    """A follow as matching needs it: its id, question, filters and the articles it cites."""

    follow_id: int
    question: str
    filters: Mapping[str, str | None]
    cited: frozenset[str]


@lru_cache(maxsize=8192)
def question_terms(question: str) -> tuple[str, ...]:
    """The stemmed topic terms and names a question's answer is about."""
    asked = analyse(question)
    named = {t for name in asked.names for t in terms(name)}
    return tuple(dict.fromkeys([*asked.terms, *sorted(named)]))


def article_terms(doc: Document) -> frozenset[str]:
    return frozenset(terms(f"{doc.title or ''}\n{doc.text}"))


def affected(candidates: Iterable[Candidate], changed: Mapping[str, Document], removed: Iterable[str],
             idf: Callable[[str], float], share: float) -> list[int]:
    """The ids of the follows to re-ask: those citing a changed or removed article, and those whose
    question's weighed terms are at least `share` present in a changed article they accept."""
    touched = set(removed) | set(changed)
    docs = [(doc, article_terms(doc)) for doc in changed.values()]
    chosen = []
    for candidate in candidates:
        if candidate.cited & touched:
            chosen.append(candidate.follow_id)
            continue
        wanted = question_terms(candidate.question)
        if not wanted:
            continue
        weights = {t: idf(t) for t in wanted}
        total = sum(weights.values()) or 1.0
        filters = Filters.checked(**{k: v for k, v in candidate.filters.items() if v})
        for doc, held in docs:
            if sum(w for t, w in weights.items() if t in held) / total >= share and filters.accepts(doc):
                chosen.append(candidate.follow_id)
                break
    return chosen
