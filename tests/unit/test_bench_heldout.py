"""The held-out benchmark: questions kept by their split's dates, and whether confidence means what it says."""

import json

import pytest

from rag.errors import RagError
from rag.evals.bench import in_split
from rag.evals.stats import reliability


def test_a_question_is_in_a_split_by_its_date(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": [["2022-06-01", "2022-08-31"]], "heldout": [["2022-09-01", "2022-12-31"]]}))
    assert in_split({"date": "2022/09/01"}, split, "heldout")
    assert not in_split({"date": "2022/08/31"}, split, "heldout")
    assert in_split({"date": "2022/08/31"}, split, "train")
    assert not in_split({"date": None}, split, "heldout")  # no date: in no split
    with pytest.raises(RagError):
        in_split({"date": "2022/09/01"}, split, "test")


def test_reliability_bins_and_expected_calibration_error():
    confidences = [0.55, 0.55, 0.95, 0.95, 1.0]
    right = [True, False, True, True, False]
    bins, ece = reliability(confidences, right)
    assert [(b["low"], b["count"]) for b in bins] == [(0.5, 2), (0.9, 3)]  # 1.0 falls in the last, closed bin
    assert bins[1]["right"] == pytest.approx(2 / 3)
    # |0.55 - 0.5| * 2/5 + |0.9667 - 0.6667| * 3/5
    assert ece == pytest.approx(0.05 * 0.4 + 0.3 * 0.6)
    assert reliability([], []) == ([], None)


def test_the_share_of_a_questions_articles_an_index_holds():
    from rag.evals.bench import _held_share

    documents = [{"id": "a", "published": "2022-09-01"}, {"id": "b", "published": "2022-08-30"},
                 {"id": "c", "published": "2022-07-01"}]  # c: outside the 14 days
    question = {"date": "2022/09/02"}
    assert _held_share(question, documents, {"a"}) == 0.5
    assert _held_share(question, documents, {"a", "b", "c"}) == 1.0
    assert _held_share({"date": None}, documents, {"a"}) == 0.0
