"""Corpus statistics: what answering needs to know about the corpus as a whole.

Answering weighs a question's words by how rare they are (IDF over chunks), declines questions
that name things no article mentions (the known terms), and favours an article whose outlet or
author the question names. Those figures are computed once per loaded index and handed to
answering as a `CorpusStats` value, so answering never reaches into the search index.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rag.text import terms
from rag.types import Document


@dataclass(frozen=True)
class CorpusStats:
    """Chunk count and per-term chunk frequencies, every known term (text and metadata), and the
    terms that name each document's outlet and author (with initials such as "WSJ")."""

    chunks: int
    df: Mapping[str, int]
    known_terms: frozenset[str]
    source_terms: Mapping[str, frozenset[str]]

    def idf(self, term: str) -> float:
        n = max(1, self.chunks)
        df = self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @classmethod
    def build(cls, chunk_terms: Iterable[Iterable[str]], documents: Iterable[Document]) -> CorpusStats:
        df: Counter[str] = Counter()
        chunks = 0
        for chunk in chunk_terms:
            df.update(set(chunk))
            chunks += 1
        source_terms: dict[str, frozenset[str]] = {}
        known = set(df)
        for doc in documents:
            named = _source_names(doc)
            source_terms[doc.doc_id] = frozenset(named)
            known |= named | set(terms(doc.title))
        return cls(chunks, dict(df), frozenset(known), source_terms)


def _source_names(doc: Document) -> set[str]:
    """Questions name their sources ("according to the WSJ article") with words the text may lack."""
    names: set[str] = set()
    for value in (doc.publisher, doc.author):
        if not value:
            continue
        names.update(terms(value))
        initials = "".join(w[0] for w in value.split() if w[:1].isupper() and w.lower() != "the")
        if len(initials) >= 2:
            names.update(terms(initials))
    return names
