"""The passage ranker: its features, the shipped weights, and the search ordering its head of candidates by them."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import numpy as np
import pytest

from rag.answer.linear import Model
from rag.retrieval.ordering import FEATURES, Candidate, features, shipped_model
from rag.retrieval.stats import CorpusStats, chunk_terms

TEXTS = {
    "a": "The Kelmar ferry will sail four times a day from June, the operator said.",
    "b": "Storms closed the harbour for two days and ferries stayed in port.",
}


def stats() -> CorpusStats:
    df = Counter(t for text in TEXTS.values() for t in chunk_terms(text))
    return CorpusStats(chunks=len(TEXTS), df=df, known_terms=set(df), source_terms={})


def column(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, FEATURES.index(name)]


def test_features_read_coverage_names_headline_and_age():
    candidates = [
        Candidate(TEXTS["b"], "Harbour closed by storms", "b", fused=0.03, dense=0.6, dense_rank=0, bm25=2.0, bm25_rank=None,
                  published=dt.date(2025, 5, 1)),
        Candidate(TEXTS["a"], "Kelmar ferry timetable cut", "a", fused=0.02, dense=0.5, dense_rank=None, bm25=4.0, bm25_rank=0,
                  published=dt.date(2025, 5, 30), in_window=True),
    ]
    rows = features("When will the Kelmar ferry sail?", candidates, stats(), dt.date(2025, 6, 1))
    assert rows.shape == (2, len(FEATURES))
    assert column(rows, "coverage")[1] == 1.0 and column(rows, "coverage")[0] < 0.5
    assert list(column(rows, "names")) == [0.0, 1.0]  # "Kelmar"
    assert column(rows, "headline")[1] > column(rows, "headline")[0]
    assert column(rows, "fused")[0] == 1.0 and column(rows, "fused_rank")[1] == 0.5
    assert column(rows, "dense_rank")[1] == 0.0 and column(rows, "bm25_rank")[0] == 0.0  # each list missed one
    assert column(rows, "bm25")[1] == 1.0 and column(rows, "dense_gap")[1] == pytest.approx(-0.1)
    assert column(rows, "age")[0] > column(rows, "age")[1] and column(rows, "age_gap")[1] == 0.0
    assert list(column(rows, "in_window")) == [0.0, 1.0] and not column(rows, "undated").any()
    # Without `as_of` every candidate is undated.
    assert column(features("Kelmar ferry", candidates, stats(), None), "undated").all()


def test_no_candidates_no_rows():
    assert features("anything", [], stats(), None).shape == (0, len(FEATURES))


def test_the_shipped_model_matches_the_features():
    model = shipped_model()
    assert model is not None, "rag/retrieval/passage_ranker.json is missing or was trained on other features"
    assert model.weights.shape == (len(FEATURES),) and np.isfinite(model.weights).all()
    # More of the question's terms in a chunk makes it likelier to hold the answer.
    assert model.weights[FEATURES.index("coverage")] > 0


ARTICLES = [
    {"id": f"filler-{i}", "title": f"Harbour notes {i}", "published": "2025-05-20",
     "text": f"The harbour ferry timetable was discussed again at meeting {i}, with no decision on sailings."}
    for i in range(6)
] + [
    {"id": "answer", "title": "Kelmar operator explains crew shortage", "published": "2025-05-28",
     "text": "Northway Lines blamed a shortage of qualified deckhands for the reduced Kelmar sailings."},
]


@pytest.fixture(scope="module")
def harbour(fake_config, tmp_path_factory):
    from rag.service import Service

    base = tmp_path_factory.mktemp("passages")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "news.jsonl").write_text("\n".join(json.dumps(r) for r in ARTICLES), encoding="utf-8")
    service = Service(fake_config.with_(corpus_dir=corpus, index_dir=base / "index"))
    service.index()
    return service


def test_the_search_orders_its_head_by_the_model_and_can_be_switched_off(harbour, fake_config):
    from rag.retrieval.search import Filters
    from rag.service import Service

    search = harbour.search_index
    question = "Why is the ferry timetable for Kelmar sailings being cut?"
    search.passage_model = None
    fused = [p.doc_id for p in search.search(question, 7, Filters())]
    # A model that reads only the headline's share of the question.
    weights = np.array([5.0 if name == "headline" else 0.0 for name in FEATURES])
    search.passage_model = Model(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights, 0.0)
    ordered = [p.doc_id for p in search.search(question, 7, Filters())]
    assert sorted(ordered) == sorted(fused)
    assert ordered[0] == "answer" != fused[0]
    passages, rows = search.candidate_rows(question, Filters())
    assert rows.shape == (len(passages), len(FEATURES)) and "answer" in {p.doc_id for p in passages}
    assert Service(fake_config.with_(passage_ranker=False, corpus_dir=harbour.config.paths.corpus_dir,
                                     index_dir=harbour.config.paths.index_dir)).search_index.passage_model is None
