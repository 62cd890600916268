"""Quality gate: the offline evaluation on the gold set must not fall below today's scores.

The default pipeline (extractive, no LLM, local embeddings) answers every question of
tests/gold/gold.yaml over the corpus/ articles, indexed into a temporary folder. Each gate is the
score measured when the gate was set, minus a small margin (never above the measured value), so a
regression fails the suite and an improvement passes. Raise a gate when the pipeline improves.

Issue targets, for comparison (see GATES): fact recall >= 0.85, supporting doc cited >= 0.95 of the
answerable questions, every citation valid, >= 0.8 of the unanswerable questions declined.
"""

from __future__ import annotations

import json
import os

import pytest

from rag.config import Config
from rag.evaluation import CHART_NAME, CitationCheck, ItemResult, evaluate, load_gold, report_html, score, write_report
from rag.pipeline import Pipeline

pytestmark = pytest.mark.timeout(300)

MARGIN = 0.03

# Overall scores measured on the gold set (71 questions, extractive mode, k=5), and the gates.
# name: (measured, gate, issue target or None)
MEASURED = {
    "fact_recall": 0.6042,
    "supporting_doc_cited": 0.8000,
    "citation_validity": 1.0,
    "decline_accuracy": 1.0,
    "mrr": 0.9167,
    "citation_support": 1.0,
}
GATES = {
    "fact_recall": (MEASURED["fact_recall"] - MARGIN, 0.85),  # below the issue target: pipeline work pending
    "supporting_doc_cited": (MEASURED["supporting_doc_cited"] - MARGIN, 0.95),  # below the issue target
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
    config = Config.from_env().with_(index_dir=index_dir, openai_api_key=None, openai_base_url=None)
    pipeline = Pipeline(config)
    return evaluate(pipeline, load_gold(), k=5)


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


def test_html_report_escapes_everything(report):
    evil = ItemResult(
        id="x<1>", category="fact", question="<script>alert(1)</script>", history=[("<b>q</b>", "<i>a</i>")],
        retrieval_query="<q>", retrieved_doc_ids=["<d>"], expected_doc_ids=["<d>"], answer_text="<img src=x onerror=alert(1)>",
        answerable=True, notice="<n>", latency_ms=1.0,
        citations=[CitationCheck(1, "<d>", "<t1tle>", "<quote>", 0, 7, valid=False, problem="<pr0blem>")],
        facts_matched=[False], facts_in_citations=[None], fact_recall=0.0, supporting_cited=False, false_decline=False,
    )
    fake = type(report)(
        k=5, mode="<m>", items=[evil], by_category={"fact": score([evil])}, overall=score([evil]), judges="<j>", seconds=0.0
    )
    page = report_html(fake)
    for raw in ("<script>", "<img src=x", "<b>q</b>", "<i>a</i>", "<t1tle>", "<quote>", "<pr0blem>", "<m>", "<j>", "<d>", "<n>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
