"""The learned short-answer scorer: which candidate answer (rag/answer/direct.py) is right, and how
sure that is, as a calibrated probability.

A bold short answer that is wrong is worse than none: people read it first and stop there. So
each candidate answer gets a probability of being right, from a logistic regression over what
any corpus has (the fit of its kind, from the entity model and from the rules, to the asked type;
its sentence's ranker score and rank; its distance to the question's words; how much of the
question its sentences cover; agreement across distinct articles; its lead over the next answer;
headlines that name it; how rare it is in the corpus, since the name every article carries is the
topic, rarely the answer; words of the question in it; a bare weekday or month; the asked type).
It is calibrated by Platt scaling on scores cross-validated over question dates, then once more
on each question's best candidate, so that the shown answer's 0.8 means right about four times in
five. It is trained by `benchmarks/answers/train.py` on the training split of a news-QA set
(benchmarks/split.json) and ships as numbers in `answer_scorer.json`, with the threshold
the shown answer must clear, chosen there for precision.
Two models ship: one for candidates read by the entity model, one for the rules alone
(`RAG_NER=none`), each with its own threshold.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answer.direct import (
    ASKS_NOW, ENTITY_KINDS, FIT, MAX_SENTENCES, MONTHS, WEEKDAYS, AnswerGroup, answer_groups, article_age, kind_word,
)
from rag.answer.linear import Model, shipped
from rag.answer.question import DATE, DURATION, NAME, NUMBER, ORGANISATION, PERSON, PLACE, Question
from rag.answer.ranking import POOL
from rag.answer.support import Sentence, Support
from rag.retrieval.dates import time_window
from rag.retrieval.stats import CorpusStats
from rag.text import normalize_word, stopwords, terms, words

SCORER_FILE = "answer_scorer.json"
TYPES = (PERSON, ORGANISATION, PLACE, NAME, DATE, NUMBER, DURATION)
FEATURES = (
    "fit",  # how well its kind (the entity model's where it labelled it) fits the asked type
    "rule_fit",  # the same for the kind the capitalisation and number rules give it (0: the model alone found it)
    "entity_fit",  # the same for its entity label (0: no entity)
    "entity",  # the entity model labelled it
    "sentence_score",  # its sentence's score (the ranker's probability for typed questions)
    "relative_score",  # that score over the best sentence's
    "sentence_rank",  # 1 / (1 + its sentence's place in the answer's order)
    "proximity",  # closeness to the question's words in its sentence
    "documents",  # distinct articles naming it (log)
    "mentions",  # candidates naming it (log)
    "share",  # its evidence over all candidates' evidence
    "margin",  # its evidence over its own and the best other candidate's
    "group_rank",  # 1 / (1 + its place by evidence)
    "question_words",  # share of its own words (not stopwords, not the kind it names: "City") that the question has
    "length",  # log of its word count
    "opening",  # it opens its sentence
    "weekday",  # it is only a weekday or a month ("Friday"): when something was said, rarely what was asked
    "headline",  # the headline of an article naming it names it too: the story is about it
    "headlines",  # headlines naming it among the articles of the ranked sentences (log)
    "coverage",  # the best share of the question's weighted terms in a sentence naming it
    "rarity",  # IDF of its commonest word over the corpus's (log of the chunk count): the topic every article names is rarely the answer
    "age",  # days from its newest article to `as_of` (log, over a year's): this week's news or background
    "first_seen",  # the same for its oldest article: how long it has been in the news
    "newer_elsewhere",  # how much newer the newest article of any candidate is than its own (log days)
    "superseded",  # a newer article states another answer of the same kind for the same thing
    "asks_now",  # the question says "this week", "latest", "new", "now" ...
    "age_now",  # age when the question asks about now (0 otherwise)
    "in_window",  # an article naming it falls in the days the question names ("this week": the 7 days to `as_of`)
    "dated",  # its articles' dates are known
    *(f"asks_{t}" for t in TYPES),  # the asked type
)
_BARE_DAY = re.compile(rf"(?:on )?(?:{WEEKDAYS}|{MONTHS})", re.I)


@dataclass(frozen=True)
class Scorer:
    """A calibrated model and the probability a short answer must reach to be shown."""

    model: Model
    threshold: float


@dataclass
class ShortAnswer:
    """The best candidate answer: `text` is verbatim `sentence.text[start:end]`; `probability` the
    calibrated chance that it is right; `shown` whether it clears the threshold."""

    text: str
    kind: str
    sentence: Sentence
    start: int
    end: int
    probability: float
    shown: bool


def features(question: Question, support: Support, groups: list[AnswerGroup]) -> np.ndarray:
    """One row of `FEATURES` per group, in the order of `groups` (best-supported first)."""
    if not groups:
        return np.zeros((0, len(FEATURES)))
    fits = FIT.get(question.answer_type, {})
    top = support.sentences[0].score or 1.0
    place = {id(s): i for i, s in enumerate(support.sentences)}
    total = sum(g.weight for g in groups) or 1.0
    asks = [float(question.answer_type == t) for t in TYPES]
    headlines = {s.doc_id: s.passage.title or "" for s in support.sentences[:POOL]}
    rows = np.zeros((len(groups), len(FEATURES)))
    asks_now = float(bool(ASKS_NOW.search(question.text)))
    window = time_window(question.text, support.as_of)
    newest = min((g.newest for g in groups if g.newest is not None), default=None)
    for i, group in enumerate(groups):
        lead = group.lead
        best_other = max((g.weight for j, g in enumerate(groups) if j != i), default=0.0)
        tokens = [normalize_word(w) for w in words(lead.text)]
        own = [t for t in tokens if t not in stopwords() and not kind_word(t)]
        before = lead.sentence.text[: lead.start].strip(" \"“‘'-—–(")
        rows[i] = (
            lead.fit,
            fits.get(lead.rule_kind, 0.0),
            fits.get(ENTITY_KINDS.get(lead.label, ""), 0.0),
            float(any(c.label for c in group.candidates)),
            lead.sentence.score,
            lead.sentence.score / top,
            1.0 / (1 + place.get(id(lead.sentence), len(place))),
            lead.proximity,
            math.log1p(group.documents),
            math.log1p(len(group.candidates)),
            group.weight / total,
            group.weight / (group.weight + best_other) if group.weight + best_other else 0.0,
            1.0 / (1 + i),
            sum(t in question.asked for t in own) / len(own) if own else 0.0,
            math.log1p(len(tokens)),
            float(not before or before.endswith(")")),
            float(bool(_BARE_DAY.fullmatch(lead.text.strip()))),
            float(any(_names(c.sentence.passage.title or "", lead.text) for c in group.candidates)),
            math.log1p(sum(_names(title, lead.text) for title in headlines.values())),
            max(c.sentence.lexical for c in group.candidates),
            _rarity(lead.text, support.stats),
            _days(group.newest),
            _days(group.oldest),
            math.log1p(group.newest - newest) / YEAR_LOG if group.newest is not None and newest is not None else 0.0,
            float(group.superseded),
            asks_now,
            asks_now * _days(group.newest),
            float(window is not None and support.as_of is not None and any(
                (age := article_age(c.sentence, support.as_of)) is not None
                and window[0] <= support.as_of - dt.timedelta(days=age) <= window[1] for c in group.candidates)),
            float(group.newest is not None),
            *asks,
        )
    return rows


YEAR_LOG = math.log1p(365)


def _days(age: int | None) -> float:
    """An article's age as a feature: log days over a year's, at most 1; 0.5 when unknown."""
    return 0.5 if age is None else min(1.0, math.log1p(age) / YEAR_LOG)


def _rarity(name: str, stats: CorpusStats | None) -> float:
    words_of = terms(name)
    if stats is None or not words_of:
        return 0.0
    return min(stats.idf(t) for t in words_of) / math.log(1 + max(1, stats.chunks))


def _names(headline: str, name: str) -> bool:
    return bool(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", headline))


def best_answer(question: Question, support: Support, scorer: Scorer | None = None,
                min_confidence: float | None = None) -> ShortAnswer | None:
    """The candidate answer most likely right, with its probability; None for an open question,
    when no candidate fits, or when no scorer ships. It is `shown` from `min_confidence` up, or
    from the scorer's own threshold when that is None."""
    groups = answer_groups(question, support)
    if not groups:
        return None
    read = any(s.entities is not None for s in support.sentences[:MAX_SENTENCES])
    scorer = scorer or shipped_scorer(read)
    if scorer is None:
        return None
    probabilities = scorer.model.probability(features(question, support, groups))
    best = int(np.argmax(probabilities))
    lead = groups[best].lead
    p = float(probabilities[best])
    threshold = scorer.threshold if min_confidence is None else min_confidence
    return ShortAnswer(" ".join(lead.text.split()), lead.kind, lead.sentence, lead.start, lead.end, p, p >= threshold)


@lru_cache(maxsize=2)
def shipped_scorer(with_entities: bool) -> Scorer | None:
    """The scorer in answer_scorer.json for candidates read by the entity model, or for the rules
    alone; None when the file is missing or was trained on other features."""
    data = shipped(SCORER_FILE, FEATURES)
    part = (data or {}).get("with_entities" if with_entities else "rules_only")
    if not part:
        return None
    return Scorer(Model.from_dict(part), float(part["threshold"]))


__all__ = ["FEATURES", "SCORER_FILE", "Scorer", "ShortAnswer", "best_answer", "features", "shipped_scorer"]
