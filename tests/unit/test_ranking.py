"""The trained sentence ranker (its features, shipped weights, re-ordering) and when support declines. No model runtime."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.linear import Model
from rag.answer.question import NONE, SPEECH_QUESTION, analyse
from rag.answer.ranking import FEATURES, POOL, features, rerank, shipped_model
from rag.answer.support import Sentence, Support
from rag.types import Passage


def _support(*rows: tuple[str, str, float, int]) -> Support:
    """Sentences (doc_id, text, hand score, passage rank), each its own passage."""
    sentences = []
    for doc_id, text, score, rank in rows:
        passage = Passage(f"{doc_id}:{rank}", doc_id, text, 0, len(text), f"Title {doc_id}", score=1.0 / (1 + rank), dense=0.5)
        sentences.append(Sentence(doc_id, 0, len(text), text, score, score, passage, rank))
    return Support(sentences=sorted(sentences, key=lambda s: s.score, reverse=True), coverage=0.8, closeness=0.5)


def column(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, FEATURES.index(name)]


ROWS = (
    ("a", "The Russian delegation was led by Vladimir Medinsky, a former culture minister.", 0.7, 0),
    ("b", "The delegation arrived in Istanbul late on Thursday, officials said.", 0.8, 1),
    ("c", "Vladimir Medinsky headed the Russian team at the talks, the Kremlin said.", 0.5, 2),
)


def test_features_see_the_asked_type_agreement_and_retrieval_rank():
    support = _support(*ROWS)
    rows = features(analyse("Who led the Russian delegation?"), support)
    assert rows.shape == (3, len(FEATURES))
    by_doc = {s.doc_id: row for s, row in zip(support.sentences, rows)}
    # Two articles name Medinsky; the Istanbul sentence names no person.
    assert by_doc["a"][FEATURES.index("type_fit")] == 1.0 and by_doc["b"][FEATURES.index("type_fit")] < 1.0
    assert by_doc["a"][FEATURES.index("agreement")] > 0 and by_doc["b"][FEATURES.index("agreement")] == 0
    assert by_doc["a"][FEATURES.index("passage_rank")] > by_doc["c"][FEATURES.index("passage_rank")]
    # An open question has no type to fit.
    open_rows = features(analyse("Why did the talks stall?"), support)
    assert column(open_rows, "type_fit").max() == 0 and column(open_rows, "open_question").min() == 1


def test_rerank_orders_by_the_model_and_keeps_only_the_pool():
    many = [("d", f"Sentence number {i} about the talks in Istanbul and more words.", 0.45 - i / 1000, i + 3) for i in range(POOL + 5)]
    support = _support(*ROWS, *many)
    # A model that only values the type fit puts the sentences naming a person first.
    weights = np.array([5.0 if name == "type_fit" else 0.0 for name in FEATURES])
    model = Model(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights, 0.0)
    ranked = rerank(analyse("Who led the Russian delegation?"), support, model)
    assert len(ranked.sentences) == POOL
    assert {s.doc_id for s in ranked.sentences[:2]} == {"a", "c"}
    assert all(0 < s.score < 1 for s in ranked.sentences)
    assert [s.score for s in ranked.sentences] == sorted((s.score for s in ranked.sentences), reverse=True)


def test_the_shipped_model_matches_the_features_and_scores_a_fitting_sentence_higher():
    model = shipped_model()
    assert model is not None, "rag/answer/ranker.json is missing or was trained on other features"
    assert model.weights.shape == (len(FEATURES),) and np.isfinite(model.weights).all()
    support = _support(*ROWS)
    ranked = rerank(analyse("Who led the Russian delegation?"), support)
    assert ranked.sentences[0].doc_id in ("a", "c")  # a sentence naming the person, not the Istanbul one


@pytest.mark.parametrize("question", ["", "?", "Who?"])
def test_no_sentences_no_rows(question):
    assert features(analyse(question), Support()).shape == (0, len(FEATURES))


def test_a_rare_lowercase_word_the_articles_lack_declines_only_when_the_rest_is_not_covered():
    sentence = _support(ROWS[0]).sentences
    # "catapulted" is not in any article, but the rest of a long question is well covered.
    assert Support(sentences=sentence, missing=["catapulted"], coverage=0.7, closeness=0.5).answerable
    assert not Support(sentences=sentence, missing=["catapulted"], coverage=0.4, closeness=0.9).answerable
    # A name the articles never mention always declines, however well the rest is covered.
    assert not Support(sentences=sentence, missing=["Merkel"], missing_names=["Merkel"], coverage=0.9, closeness=0.9).answerable


@pytest.mark.parametrize("question, speech", [
    ("What did Rubio say about Istanbul?", True),
    ("How did Zelensky describe the talks?", True),
    ("How did Rubio sum up the talks?", True),
    ("What did Putin call the proposal?", True),
    ("Who represented Ukraine on the call?", False),
    ("A new variant has arrived. What is it called?", False),
    ("Which country's leader called on the EU to stop issuing visas?", False),
    ("Which senator, Raphael Warnock or another, won the runoff?", False),
    ("How many additional troops were sent?", False),
    ("Which company is replacing the old warning labels?", False),
])
def test_only_whole_speech_verbs_make_a_what_did_they_say_question(question, speech):
    assert bool(SPEECH_QUESTION.search(question)) == speech
    support = _support(*ROWS)
    weights = np.array([5.0 if name == "type_fit" else 0.0 for name in FEATURES])
    model = Model(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights, 0.0)
    before = [s.score for s in support.sentences]
    # Speech questions keep the hand-made score; the others asking for a type are re-ranked.
    after = [s.score for s in rerank(analyse(question), support, model).sentences]
    typed = analyse(question).answer_type != NONE
    assert (after == before) == (speech or not typed)
