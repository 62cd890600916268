"""The benchmark's short-answer figures (rag/evals/bench.py): how many shown, how many right, how
sure the product was of them, and the interval a small count leaves (no index or model needed)."""

from __future__ import annotations

import pytest

from rag.evals.bench import QuestionResult, SystemResult, reading, summarize
from rag.evals.stats import wilson


def test_wilson_interval_brackets_the_share_and_narrows_with_more_questions():
    low, high = wilson(19, 28)
    assert low == pytest.approx(0.493, abs=1e-3) and high == pytest.approx(0.821, abs=1e-3)
    wide, narrow = wilson(7, 10), wilson(70, 100)
    assert wide[0] < narrow[0] < 0.7 < narrow[1] < wide[1]
    assert wilson(0, 0) is None
    assert wilson(10, 10)[1] == pytest.approx(1.0) and 0 < wilson(10, 10)[0] < 1
    assert wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


def _result(n: int, short: str | None, confidence: float | None, answers: list[str]) -> QuestionResult:
    none = SystemResult(False, 0, 0.0)
    text = f"**{short}** — a sentence." if short else "A sentence."
    return QuestionResult(
        id=str(n), question="q?", answers=answers, in_slice=True, in_cleaned=True, product_answer=text,
        product_answerable=True, product_citations=[], product_retrieved_hit=False, product_in_text=False, as_of=None,
        product=none, product_top5=none, product_top20=none, dense=none, bm25=none,
        readings={"product": reading(text, answers, False, False, 10.0, short, confidence)},
    )


def test_summary_counts_shown_and_right_short_answers_with_their_confidence():
    results = [
        _result(1, "Edam", 0.9, ["Edam"]),  # shown, right
        _result(2, "Orbis", 0.5, ["Edam"]),  # shown, wrong
        _result(3, None, 0.2, ["Edam"]),  # best candidate below the threshold: not shown
        _result(4, "Vladimir Medinsky", 0.7, ["Medinsky"]),  # right by token F1 (2/3), not by exact match
    ]
    row = summarize(results)["readers"]["product"]
    assert row["short_shown_count"] == 3 and row["short_right_count"] == 2
    assert row["short_shown"] == pytest.approx(0.75) and row["short_right_when_shown"] == pytest.approx(2 / 3)
    assert row["short_em"] == pytest.approx(0.25)
    assert row["short_confidence_when_shown"] == pytest.approx((0.9 + 0.5 + 0.7) / 3)  # the hidden one's 0.2 is not counted
    assert row["short_right_interval"] == pytest.approx(wilson(2, 3))
