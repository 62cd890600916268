"""The trained passage ranker: which of the fused candidates most likely hold the answer.

Reciprocal-rank fusion knows only two ranks per chunk. The answer is among the first 30 fused
chunks far more often than among the first 5 (benchmarks/README.md), so the first `POOL` are
ordered again by a logistic regression over what a search already has at hand: both ranks and
both scores, the fused score, how much of the query's IDF-weighted terms and names the chunk and
its headline hold, and how old its article is before `as_of`. Trained by
`benchmarks/ranker/passages.py` on the training questions of a news-QA set; it ships as a JSON
file of weights (`passage_ranker.json`) read with numpy (rag/answer/linear.py).

On by default (`RAG_PASSAGE_RANKER=0` for fused order): in date-blocked cross-validation on the
1,317 training questions over all their 3,141 articles it put the answer among the five passages
returned for 41.5% of them against 40.0% for fused order, ahead in each of the five blocks of dates
(benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answer.linear import Model, shipped
from rag.retrieval.stats import CorpusStats
from rag.text import names, terms

# A chunk's words as a set, read with one regular expression: `rag.text.terms` over 30 chunks
# cost about 10 ms a search, this about 1 ms (a share of the query's terms does not need more).
_WORD = re.compile(r"[^\W_]+")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+")
_DIGIT = re.compile(r"\d")
ASKS_NUMBER = re.compile(r"\b(how (many|much|long|old|far|often|big|large)|what (year|percentage|percent|number|amount|age|date|day)|when)\b", re.I)
ASKS_NAME = re.compile(r"\b(who|whom|whose|which|where)\b", re.I)

POOL = 30  # fused candidates ordered again

FEATURES = (
    "fused",  # fused score relative to the best candidate's
    "fused_rank",  # 1 / (1 + place in the fused order)
    "dense",  # cosine similarity to the query
    "dense_gap",  # that similarity minus the best candidate's
    "dense_rank",  # 1 / (1 + place among the nearest chunks), 0 when the dense search missed it
    "bm25",  # BM25 score relative to the best candidate's, 0 when keyword search missed it
    "bm25_rank",  # 1 / (1 + place among the BM25 matches), 0 when missed
    "coverage",  # share of the query's IDF-weighted terms in the chunk
    "names",  # share of the query's capitalised names in the chunk or its headline
    "headline",  # share of the query's IDF-weighted terms in the headline
    "age",  # log(1 + days from publication to `as_of`), 0 without either
    "age_gap",  # that minus the freshest candidate's
    "undated",  # the article has no date (or the search has no `as_of`)
    "same_article",  # log(1 + other candidates from the same article)
    "in_window",  # published in the window the question names ("this week")
    "early",  # closeness of the chunk to the start of its article (news puts the facts first)
    "coverage_gap",  # coverage minus the best candidate's
    "number_fit",  # the question asks for a number or date and the chunk holds digits
    "name_fit",  # the question asks who, which or where: log(1 + capitalised words the query lacks)
)


@dataclass(frozen=True)
class Candidate:
    """What a search knows of one fused candidate when it orders them."""

    text: str
    title: str
    doc_id: str
    fused: float
    dense: float
    dense_rank: int | None
    bm25: float
    bm25_rank: int | None
    published: dt.date | None
    in_window: bool = False
    start: int = 0  # the chunk's first character in its article


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # the stemmer of rag.text.terms, so the query's terms compare with these

    return Stemmer.Stemmer("english")


def _read(text: str) -> tuple[set[str], set[str]]:
    """The lower-cased words of `text` and their stems."""
    written = set(_WORD.findall(text.lower()))
    return written, set(_stemmer().stemWords(list(written)))


@lru_cache(maxsize=1)
def shipped_model() -> Model | None:
    """The model in rag/retrieval/passage_ranker.json, or None when missing or trained on other features."""
    data = shipped("passage_ranker.json", FEATURES, package="rag.retrieval")
    return Model.from_dict(data) if data else None


def features(query: str, candidates: list[Candidate], stats: CorpusStats, as_of: dt.date | None) -> np.ndarray:
    """One row of `FEATURES` per candidate, in the fused order they come in."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    weights = {t: stats.idf(t) for t in dict.fromkeys(terms(query))}
    total = sum(weights.values()) or 1.0
    asked_names = set(names(query))
    best_fused = max(c.fused for c in candidates) or 1.0
    best_dense = max(c.dense for c in candidates)
    best_bm25 = max(c.bm25 for c in candidates) or 1.0
    ages = [math.log1p(max(0, (as_of - c.published).days)) if as_of and c.published else None for c in candidates]
    freshest = min((a for a in ages if a is not None), default=0.0)
    per_doc: dict[str, int] = {}
    for c in candidates:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    read = [(_read(c.text), _read(c.title)) for c in candidates]
    coverage = [sum(w for t, w in weights.items() if t in present) / total for (_, present), _ in read]
    best_coverage = max(coverage)
    wants_number, wants_name = bool(ASKS_NUMBER.search(query)), bool(ASKS_NAME.search(query))
    asked_words = {w.lower() for w in _WORD.findall(query)}
    rows = np.zeros((len(candidates), len(FEATURES)))
    for i, (c, age) in enumerate(zip(candidates, ages)):
        (written, present), (title_written, headline) = read[i]
        written = written | title_written
        new_names = {w.lower() for w in _CAPITALISED.findall(c.text)} - asked_words if wants_name else set()
        rows[i] = (
            c.fused / best_fused,
            1.0 / (1 + i),
            c.dense,
            c.dense - best_dense,
            0.0 if c.dense_rank is None else 1.0 / (1 + c.dense_rank),
            c.bm25 / best_bm25,
            0.0 if c.bm25_rank is None else 1.0 / (1 + c.bm25_rank),
            coverage[i],
            len(asked_names & written) / len(asked_names) if asked_names else 0.0,
            sum(w for t, w in weights.items() if t in headline) / total,
            age if age is not None else 0.0,
            age - freshest if age is not None else 0.0,
            float(age is None),
            math.log(per_doc[c.doc_id]),
            float(c.in_window),
            1.0 / (1.0 + c.start / 1000),
            coverage[i] - best_coverage,
            float(wants_number and bool(_DIGIT.search(c.text))),
            math.log1p(len(new_names)),
        )
    return rows


__all__ = ["POOL", "FEATURES", "Candidate", "features", "shipped_model"]
