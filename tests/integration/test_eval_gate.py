"""Quality gate: the offline evaluation on the gold set must not fall below today's scores.

The default service (extractive, no LLM, local embeddings) answers every question of
tests/gold/gold.yaml over the corpus/ articles, indexed into a temporary folder. Each gate is the
score measured when the gate was set, minus a small margin (never above the measured value), so a
regression fails the suite and an improvement passes. Raise a gate when the service improves.

Issue targets, for comparison (see GATES): fact recall >= 0.85, supporting doc cited >= 0.95 of the
answerable questions, every citation valid, >= 0.8 of the unanswerable questions declined.
"""

from __future__ import annotations

import json
import os

import pytest

from rag.config import Config
from rag.evals.gold import evaluate, load_gold
from rag.evals.report import CHART_NAME, write_report
from rag.service import Service

pytestmark = pytest.mark.timeout(300)

MARGIN = 0.03

# Overall scores measured on the gold set (71 questions, extractive mode, k=5) on 2026-11-23 after
# the quote-extension and wider-pool changes. GATES: name -> (gate, issue target or None).
MEASURED = {
    "fact_recall": 0.8875,
    "supporting_doc_cited": 0.9833,
    "citation_validity": 1.0,
    "decline_accuracy": 1.0,
    "mrr": 0.925,
    "citation_support": 1.0,
}
GATES = {
    "fact_recall": (MEASURED["fact_recall"] - MARGIN, 0.85),
    "supporting_doc_cited": (MEASURED["supporting_doc_cited"] - MARGIN, 0.95),
    "citation_validity": (1.0, 1.0),  # every citation must be verbatim: no margin
    "decline_accuracy": (MEASURED["decline_accuracy"] - MARGIN, 0.80),
    "mrr": (MEASURED["mrr"] - MARGIN, None),
    "citation_support": (MEASURED["citation_support"] - MARGIN, None),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    index_dir = tmp_path_factory.mktemp("eval-index")
    # Offline and extractive whatever the environment says: the gates are for that mode.
    config = Config.from_env().with_(index_dir=index_dir, openai_api_key=None, openai_base_url=None, chroma_host=None)
    service = Service(config)
    return evaluate(service, load_gold(), k=5)


def test_gold_set_is_complete(report):
    categories = {item.category for item in report.items}
    assert categories == {"fact", "quote", "number", "multi_doc", "followup", "unanswerable"}
    assert report.overall.answerable >= 60 and report.overall.unanswerable >= 10
    assert report.mode == "extractive"


@pytest.mark.parametrize("metric", list(GATES))
def test_quality_gate(report, metric):
    gate, target = GATES[metric]
    value = getattr(report.overall, metric)
    assert value is not None
    failing = [
        item.id for item in report.items
        if (metric == "citation_validity" and any(not c.valid for c in item.citations))
        or (metric == "decline_accuracy" and item.declined_correctly is False)
        or (metric == "supporting_doc_cited" and item.supporting_cited is False)
        or (metric == "fact_recall" and item.fact_recall is not None and item.fact_recall < 1)
    ]
    assert value >= gate - 1e-9, (
        f"{metric} = {value:.3f} fell below the gate {gate:.3f} (target {target}); items: {', '.join(failing[:20])}"
    )


# Bold short answers that hold none of the item's facts: read first, a wrong one misleads most.
# Issue 21's target is none; measured on 2026-12-04 (round two): none of 20 shown (before: 1 of 6, fact-03,
# "Trump" for a think tank, which spaCy labels ORG in that sentence).
BOLD_WRONG_MEASURED = 0


def test_bold_short_answers_are_rarely_wrong(report):
    wrong = {item.id: item.short_answer for item in report.items if item.short_answer_wrong}
    assert len(wrong) <= BOLD_WRONG_MEASURED, f"wrong bold answers: {wrong}"
    assert report.overall.bold_wrong == len(wrong)
    assert report.overall.bold_shown == sum(item.short_answer is not None for item in report.items) > 0


def test_no_dangling_citation_markers(report):
    bad = {item.id: item.dangling_markers for item in report.items if item.dangling_markers}
    assert not bad


def test_report_folder(report, tmp_path):
    folder = write_report(report, tmp_path / "eval")
    for name in ("summary.md", "index.html", CHART_NAME, "results.json"):
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    assert (folder / CHART_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert len(data["items"]) == len(report.items)
    assert set(data["by_category"]) >= {"fact", "unanswerable"}
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "| **overall** |" in summary and "LLM judges skipped: no LLM configured" in summary
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert all(item.id in page for item in report.items)


# The benchmark runner (rag/evals/bench.py), on a three-article toy set: the slice, matching and outputs.


def test_bench_runner_on_a_toy_set(tmp_path):
    from rag.evals.bench import contains_answer, exact_match, run_bench, token_f1

    docs = [
        {"id": "a1", "title": "Squid Game renewed", "published": "2022/06/12", "url": "https://example.com/a1",
         "text": "Netflix has green lit a second season of “Squid Game”, the wildly popular Korean drama. "
                 "The show was the most watched series ever on the platform, the company said on Sunday."},
        {"id": "a2", "title": "One charger for all phones", "published": "2022/06/10", "url": "https://example.com/a2",
         "text": "Europe will require Apple and other smartphone makers to support one common charging standard "
                 "for all mobile devices by 2024, to reduce cable clutter and electronic waste."},
        {"id": "old", "title": "Winter in Idaho", "published": "2019/01/01",
         "text": "An old article about a long winter in Idaho, outside the two weeks before the questions."},
    ]
    questions = [
        {"id": "q1", "question": "Which wildly popular show was green lit for a new season?", "answers": ['"Squid Game"'], "date": "2022/06/16"},
        {"id": "q2", "question": "Which continent will require a common charging standard for phones?", "answers": ["Europe"], "date": "2022/06/16"},
        {"id": "q3", "question": "Which state had a long winter?", "answers": ["Idaho"], "date": "2022/06/16"},
    ]
    for name, rows in (("docs.jsonl", docs), ("questions.jsonl", questions)):
        (tmp_path / name).write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_bench(tmp_path / "docs.jsonl", tmp_path / "questions.jsonl", limit=3, out=out, log=lambda *a: None)
    assert result["meta"]["documents"] == 2  # the 2019 article is outside the date window
    summary = result["summary"]
    assert summary["questions"] == 3 and abs(summary["answer_in_slice"] - 2 / 3) < 1e-9
    assert summary["failures"]["not_in_slice"] == 1
    assert {"product", "llama-index dense top-2", "llama-index dense top-5", "BM25 top-5"} <= set(summary["systems"])
    assert (out / "bench-n3.md").is_file() and json.loads((out / "bench-n3.json").read_text())["questions"][0]["id"] == "q1"
    # What a user reads, for the product and the plain extractive peers on the same questions.
    readers = summary["readers"]
    assert set(readers) == {"product", "bm25-sent K=1", "bm25-sent K=5", "bm25-chunk-sent K=1", "bm25-chunk-sent K=5"}
    for row in readers.values():
        assert {"answer_in_text", "answer_in_text_peer_rule", "answer_in_lead", "chars_median", "answer_in_citations_5",
                "declined", "latency_p50_ms", "latency_p95_ms", "short_em", "short_f1", "short_shown"} <= set(row)
    assert all(readers[peer]["short_shown"] == 0 for peer in readers if peer != "product")  # the peers have no short answer
    product = readers["product"]
    assert product["short_shown_count"] == round(product["short_shown"] * 3)
    assert (product["short_right_interval"] is None) == (product["short_shown_count"] == 0)
    assert ("product: short answers shown for" in (out / "bench-n3.md").read_text()) == (product["short_shown_count"] > 0)
    # Both gold answers in the slice are one BM25 sentence away; Idaho's article is outside it.
    assert abs(readers["bm25-sent K=1"]["answer_in_text"] - 2 / 3) < 1e-9 and readers["bm25-sent K=1"]["declined"] == 0
    assert readers["bm25-sent K=1"]["chars_median"] <= readers["bm25-sent K=5"]["chars_median"]
    first = json.loads((out / "bench-n3.json").read_text())["questions"][0]
    assert first["as_of"] == "2022-06-16" and first["readings"]["bm25-sent K=5"]["in_text"]
    assert "answer in lead" in (out / "bench-n3.md").read_text()
    held_out = run_bench(tmp_path / "docs.jsonl", tmp_path / "questions.jsonl", limit=1, skip=1, out=out, log=lambda *a: None)
    assert held_out["summary"]["questions"] == 1 and held_out["meta"]["skip"] == 1
    assert json.loads((out / "bench-n1-from1.json").read_text())["questions"][0]["id"] == "q2"
    assert contains_answer("In “Squid  Game” season 2", ['"Squid Game"'])
    assert not contains_answer("the 16 men", ["6"]) and not contains_answer("European rules", ["Europe"])
    assert contains_answer("Japan’s former prime minister", ["Japan"]) and contains_answer("at Macy’s", ["Macy's"])
    # RealTime QA's short-answer metrics: SQuAD normalisation, exact match and token F1.
    assert exact_match("the Squid Game", ["“Squid Game”"]) and not exact_match("Squid", ["Squid Game"])
    assert abs(token_f1("Vladimir Medinsky", ["Medinsky"]) - 2 / 3) < 1e-9 and token_f1(None, ["Medinsky"]) == 0
