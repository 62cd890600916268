"""Corpus statistics: what answering needs to know about the corpus as a whole.

Answering weighs a question's words by how rare they are (IDF over chunks), declines questions
that name things no article mentions (the known terms), and favours an article whose outlet or
author the question names. The figures are kept with the index (rag/backends/sparse.py updates
them as each document version is committed or removed) and read on demand, so opening an index
computes nothing; answering gets them as a `CorpusStats` value and never reaches into the index.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass

from rag.text import terms


@dataclass(frozen=True)
class CorpusStats:
    """Chunk count and per-term chunk frequencies, every known term (text and metadata), and the
    terms that name each document's outlet and author (with initials such as "WSJ").

    `df` and `known_terms` may be views of the stored index that look terms up one at a time."""

    chunks: int
    df: Mapping[str, int]
    known_terms: Container[str]
    source_terms: Mapping[str, frozenset[str]]

    def idf(self, term: str) -> float:
        n = max(1, self.chunks)
        df = self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def chunk_terms(text: str) -> set[str]:
    """The terms a chunk counts once towards their chunk frequency."""
    return set(terms(text))


def title_terms(title: str | None) -> set[str]:
    """Headline words are known terms even where the text lacks them."""
    return set(terms(title or ""))


def source_names(publisher: str | None, author: str | None) -> set[str]:
    """Questions name their sources ("according to the WSJ article") with words the text may lack."""
    names: set[str] = set()
    for value in (publisher, author):
        if not value:
            continue
        names.update(terms(value))
        initials = "".join(w[0] for w in value.split() if w[:1].isupper() and w.lower() != "the")
        if len(initials) >= 2:
            names.update(terms(initials))
    return names
