"""The trained sentence ranker: which retrieved sentences most likely hold the answer.

The hand-made sentence score (rag/answer/support.py) weighs a few signals with fixed weights. The
ranker learns the weights of more of them from news questions with known answers: a logistic
regression over features any corpus has (question-term coverage, dense similarity, retrieval
rank, answer-type fit of the names and numbers a sentence holds, their proximity to the
question's words, agreement across independent articles, position in the article, ...). It is
trained by `benchmarks/ranker/train.py` on a fixed training split of a news-QA set (nothing about
the evaluation questions is in it) and ships as a small JSON file of weights; scoring is one dot
product per sentence, in numpy.

A linear model rather than boosted trees: it measured as well on the held-out split
(benchmarks/README.md) and keeps the runtime free of scikit-learn.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

from rag.answer.direct import answer_key, candidate_fit, candidates, proximity, question_cues, word_stems
from rag.answer.linear import Model, shipped
from rag.answer.question import NONE, Question
from rag.answer.support import NAMED_SOURCE_BONUS, SPEECH, Support
from rag.text import names, terms

# Only the best sentences by the hand-made score are re-ranked: finding names and numbers in each
# costs time, and the answer is rarely further down.
POOL = 40
QUOTATION = re.compile(r"[“\"][^”\"]{12,}")

FEATURES = (
    "score",  # the hand-made score
    "lexical",  # share of the question's IDF-weighted terms in the sentence
    "dense",  # its passage's cosine similarity to the question
    "passage_rank",  # 1 / (1 + rank of its passage)
    "fused",  # its passage's fused retrieval score, relative to the best passage's
    "speech",  # a "what did X say" question and a sentence reporting speech
    "type_fit",  # best fit of a candidate answer in it to the asked type (0 for open questions)
    "type_proximity",  # that candidate's closeness to the question's words
    "agreement",  # other articles in the pool naming the same candidate (log)
    "open_question",  # the question asks for no type (an account, a reason)
    "new_names",  # share of the sentence's names the question does not contain
    "bigrams",  # share of the question's adjacent term pairs found adjacent in the sentence
    "early",  # closeness to the start of its article (news puts the facts first)
    "length",  # log of its word count
    "quotation",  # it holds a quotation
)


@lru_cache(maxsize=1)
def shipped_model() -> Model | None:
    """The model in rag/answer/ranker.json, or None when it is missing or was trained on other features."""
    data = shipped("ranker.json", FEATURES)
    return Model.from_dict(data) if data else None


def features(question: Question, support: Support) -> np.ndarray:
    """One row of `FEATURES` for each of the first `POOL` sentences of `support` (best first)."""
    pool = support.sentences[:POOL]
    if not pool:
        return np.zeros((0, len(FEATURES)))
    wanted = question_cues(question)
    typed = question.answer_type != NONE
    question_terms = question.term_sequence
    bigrams = set(zip(question_terms, question_terms[1:]))
    best_fused = max((s.passage.score for s in pool), default=0.0) or 1.0

    found = []  # per sentence: {answer key: (fit, proximity)}
    docs_naming: dict[frozenset, set[str]] = {}
    for sentence in pool:
        keyed: dict[frozenset, tuple[float, float]] = {}
        if typed:
            stems = word_stems(sentence.text)
            for cand in candidates(sentence, question):
                fit = candidate_fit(question, cand)
                key = answer_key(cand)
                if fit and key:
                    close = proximity(stems, cand, wanted)
                    if fit + close > sum(keyed.get(key, (0.0, 0.0))):
                        keyed[key] = (fit, close)
                    docs_naming.setdefault(key, set()).add(sentence.doc_id)
        found.append(keyed)

    rows = np.zeros((len(pool), len(FEATURES)))
    for i, (sentence, keyed) in enumerate(zip(pool, found)):

        fit, close = max(keyed.values(), key=sum, default=(0.0, 0.0))
        others = max((len(docs_naming[k] - {sentence.doc_id}) for k in keyed), default=0)
        sentence_names = set(names(sentence.text))
        sentence_terms = terms(sentence.text)
        rows[i] = (
            sentence.score,
            sentence.lexical,
            sentence.passage.dense,
            1.0 / (1 + sentence.rank),
            sentence.passage.score / best_fused,
            float(question.wants_speech and bool(SPEECH.search(sentence.text))),
            fit,
            close,
            math.log1p(others),
            float(not typed),
            len(sentence_names - question.query_names) / len(sentence_names) if sentence_names else 0.0,
            len(bigrams & set(zip(sentence_terms, sentence_terms[1:]))) / len(bigrams) if bigrams else 0.0,
            1.0 / (1.0 + sentence.start / 1000),
            math.log(1 + len(sentence.text.split())),
            float(bool(QUOTATION.search(sentence.text))),
        )
    return rows


def rerank(question: Question, support: Support, model: Model | None = None) -> Support:
    """`support` with its first `POOL` sentences scored by the ranker (the probability that a
    sentence holds the answer), best first; the sentences below the pool are dropped.

    Only for questions that ask for a name, number, date or place, and not about what someone
    said: the training questions are nearly all of that kind, and on open questions ("why") and
    speech ("what did X say about how long ...") the ranker measured worse than the hand-made
    score on the gold set (benchmarks/README.md). Unchanged when no model is shipped."""
    model = model or shipped_model()
    if model is None or not support.sentences or question.answer_type == NONE or question.wants_speech:
        return support
    pool = support.sentences[:POOL]
    for sentence, p in zip(pool, model.probability(features(question, support))):
        # The training questions never name an outlet ("according to the FT"), so the ranker
        # cannot have learnt that such a question wants that outlet's sentences: added as before.
        sentence.score = float(p) + (NAMED_SOURCE_BONUS if sentence.doc_id in support.named_docs else 0.0)
    support.sentences = sorted(pool, key=lambda s: s.score, reverse=True)
    return support
