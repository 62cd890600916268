"""The evaluation report escapes everything it shows (no gold-set run needed)."""

from __future__ import annotations

from rag.evals.gold import CitationCheck, EvalReport, ItemResult, score
from rag.evals.report import report_html


def test_html_report_escapes_everything():
    evil = ItemResult(
        id="x<1>", category="fact", question="<script>alert(1)</script>", history=[("<b>q</b>", "<i>a</i>")],
        retrieval_query="<q>", retrieved_doc_ids=["<d>"], expected_doc_ids=["<d>"], answer_text="<img src=x onerror=alert(1)>",
        answerable=True, notice="<n>", latency_ms=1.0,
        citations=[CitationCheck(1, "<d>", "<t1tle>", "<quote>", 0, 7, valid=False, problem="<pr0blem>")],
        facts_matched=[False], facts_in_citations=[None], fact_recall=0.0, supporting_cited=False, false_decline=False,
    )
    fake = EvalReport(
        k=5, mode="<m>", items=[evil], by_category={"fact": score([evil])}, overall=score([evil]), judges="<j>", seconds=0.0
    )
    page = report_html(fake)
    for raw in ("<script>", "<img src=x", "<b>q</b>", "<i>a</i>", "<t1tle>", "<quote>", "<pr0blem>", "<m>", "<j>", "<d>", "<n>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


