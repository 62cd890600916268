"""An evaluation report (`rag.evals.gold.EvalReport`) for people: a console table, `summary.md`,
`index.html` (every question with its answer, citations and verdicts, everything HTML-escaped), a
bar chart of the scores by category, and `results.json`; `write_report` writes them all.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from rag.evals.gold import EvalReport
from rag.evals.stats import fmt

CHART_NAME = "scores_by_category.png"

COLUMNS: list[tuple[str, str, str]] = [
    # (Scores field, header, format: "pct" | "ms" | "n" | "score")
    ("n", "n", "n"),
    ("hit_rate", "hit@k", "pct"),
    ("mrr", "MRR", "score"),
    ("fact_recall", "fact recall", "pct"),
    ("first_line_recall", "1st line", "pct"),
    ("bold_shown", "bold shown", "n"),
    ("bold_wrong", "bold wrong", "n"),
    ("supporting_doc_cited", "doc cited", "pct"),
    ("citation_validity", "cit. valid", "pct"),
    ("citation_support", "cit. support", "pct"),
    ("false_decline_rate", "false decl.", "pct"),
    ("decline_accuracy", "declined", "pct"),
    ("passed", "all pass", "pct"),
    ("latency_p50_ms", "p50 ms", "ms"),
    ("latency_p95_ms", "p95 ms", "ms"),
]
JUDGE_COLUMNS = [("faithfulness", "faithful", "pct"), ("correctness", "correct 1-5", "score")]


def _columns(report: EvalReport) -> list[tuple[str, str, str]]:
    has_judges = any(item.judges for item in report.items)
    return COLUMNS + (JUDGE_COLUMNS if has_judges else [])


def table_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    """The score table as text cells: a header, one row per category, the overall row last."""
    cols = _columns(report)
    header = ["category"] + [h for _, h, _ in cols]
    rows = [[name] + [fmt(getattr(s, f), kind) for f, _, kind in cols] for name, s in report.by_category.items()]
    rows.append(["overall"] + [fmt(getattr(report.overall, f), kind) for f, _, kind in cols])
    return header, rows


def format_table(report: EvalReport) -> str:
    """A plain-text table, one row per category and one overall."""
    header, rows = table_rows(report)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[:-1]] + ["  ".join("-" * w for w in widths), line(rows[-1])]
    return "\n".join(out)


def markdown_table(report: EvalReport) -> str:
    """The score table in markdown, the overall row in bold."""
    header, rows = table_rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[:-1]]
    out.append("| " + " | ".join(f"**{c}**" for c in rows[-1]) + " |")
    return "\n".join(out)


def failure_lines(report: EvalReport) -> list[str]:
    """One markdown bullet per item that did not pass, saying why."""
    lines = []
    for r in report.items:
        if r.passed:
            continue
        why = []
        if r.category == "unanswerable":
            why.append(f"answered instead of declining ({len(r.citations)} citations)")
        else:
            if r.false_decline:
                why.append("declined")
            missing = [str(i + 1) for i, ok in enumerate(r.facts_matched) if not ok]
            if missing:
                why.append(f"facts missing: {', '.join(missing)} of {len(r.facts_matched)}")
            if not r.supporting_cited and not r.false_decline:
                why.append("no supporting doc cited")
            if r.hit == 0.0:
                why.append(f"no supporting doc in top {report.k}")
        bad = [c for c in r.citations if not c.valid]
        if bad:
            why.append(f"{len(bad)} invalid citations")
        if r.dangling_markers:
            why.append(f"dangling markers {' '.join(r.dangling_markers)}")
        lines.append(f"- `{r.id}` {r.question} — {'; '.join(why)}")
    return lines


def summary_markdown(report: EvalReport) -> str:
    """summary.md: the run, the score table, the definitions and the items that did not pass."""
    s = report.overall
    parts = [
        "# Answer-quality evaluation",
        "",
        f"{s.n} gold questions ({s.answerable} answerable, {s.unanswerable} unanswerable) from `{report.gold_path}`, "
        f"{report.documents} indexed documents, mode: {report.mode}, k = {report.k}, "
        f"run time {report.seconds:.1f} s.",
        "",
        report.judges + ".",
        "",
        markdown_table(report),
        "",
        "Definitions: hit@k and MRR at the document level (llama-index `RetrieverEvaluator`, `HitRate`, `MRR`); "
        "fact recall is the mean share of an answerable item's facts matched in the answer text; 1st line: the same "
        "share in the answer's first line alone (up to the first newline, markers stripped); doc cited: a "
        "supporting document is among the citations; cit. valid: share of citations whose quote is exactly "
        "`document.text[start:end]`; cit. support: share of facts found in an answer that a cited quote also "
        "contains; false decl.: answerable items declined; declined: unanswerable items declined with no "
        "citations; all pass: every offline check of the item passes; latency is the `ask` of the gold "
        "question (history turns excluded).",
        "",
        "## Items that did not pass",
        "",
    ]
    failures = failure_lines(report)
    parts += failures or ["None."]
    return "\n".join(parts) + "\n"


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def report_html(report: EvalReport) -> str:
    """Every question with its answer, citations and verdicts; everything HTML-escaped."""
    header, rows = table_rows(report)
    table = "<table class=scores><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>"
    cards = []
    for r in report.items:
        verdicts = []
        if r.category == "unanswerable":
            verdicts.append(("declined" if r.declined_correctly else "answered (should decline)", r.declined_correctly))
        else:
            verdicts.append((f"fact recall {fmt(r.fact_recall, 'pct')}", r.fact_recall == 1.0))
            verdicts.append(("supporting doc cited" if r.supporting_cited else "no supporting doc cited", r.supporting_cited))
            if r.false_decline:
                verdicts.append(("declined", False))
            if r.hit is not None:
                verdicts.append((f"hit@{report.k} {'yes' if r.hit else 'no'}, RR {r.reciprocal_rank:.2f}", bool(r.hit)))
        if r.citations:
            ok = all(c.valid for c in r.citations)
            verdicts.append(("citations valid" if ok else "INVALID citation", ok))
        if r.dangling_markers:
            verdicts.append((f"dangling markers {' '.join(r.dangling_markers)}", False))
        for v in r.judges:
            label = f"{v.name}: " + (f"error {v.error}" if v.error else f"{'pass' if v.passing else 'fail'}" + (f" ({v.score:g})" if v.score is not None else ""))
            verdicts.append((label, v.passing))
        badge = "".join(f"<span class='v {'ok' if good else 'bad'}'>{_e(text)}</span>" for text, good in verdicts)
        history = "".join(f"<li><b>Q:</b> {_e(q)}<br><b>A:</b> {_e(a)}</li>" for q, a in r.history)
        facts = ""
        if r.facts_matched:
            facts = "<p class=small>facts: " + ", ".join(
                f"{i + 1}: {'found' if ok else 'missing'}" + ("" if sup is None else (" (in a cited quote)" if sup else " (not in any cited quote)"))
                for i, (ok, sup) in enumerate(zip(r.facts_matched, r.facts_in_citations))
            ) + "</p>"
        cits = "".join(
            f"<li><b>[{c.number}]</b> {_e(c.title)} <code>{_e(c.doc_id)}</code> {c.start}:{c.end}"
            + ("" if c.valid else f" <span class='v bad'>{_e(c.problem)}</span>")
            + (" <span class='v ok'>supporting</span>" if c.supporting else "")
            + f"<blockquote>{_e(c.quote)}</blockquote></li>"
            for c in r.citations
        )
        feedback = "".join(f"<p class=small><b>{_e(v.name)}:</b> {_e(v.feedback or v.error)}</p>" for v in r.judges)
        cards.append(
            f"<section class='item {'pass' if r.passed else 'fail'}' id='{_e(r.id)}'>"
            f"<h3>{_e(r.id)} <small>{_e(r.category)} · {r.latency_ms:.0f} ms</small></h3>"
            + (f"<ol class=history>{history}</ol>" if history else "")
            + f"<p class=q><b>Q:</b> {_e(r.question)}</p>"
            f"<p class=small>retrieval query: {_e(r.retrieval_query)}<br>retrieved: {_e(', '.join(r.retrieved_doc_ids))}"
            f"<br>expected: {_e(', '.join(r.expected_doc_ids) or '(none: should decline)')}</p>"
            f"<div class=answer>{_e(r.answer_text)}</div>"
            + (f"<p class=small>notice: {_e(r.notice)}</p>" if r.notice else "")
            + f"<p>{badge}</p>{facts}"
            + (f"<ol class=cits>{cits}</ol>" if cits else "")
            + feedback
            + "</section>"
        )
    style = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table.scores{border-collapse:collapse;font-size:14px}table.scores td,table.scores th{border:1px solid #ccc;padding:3px 7px;text-align:right}
table.scores td:first-child{text-align:left}.item{border-left:5px solid #2a7;padding:.3em 1em;margin:1.2em 0;background:#fafafa}
.item.fail{border-color:#c33}.answer{white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:.6em}
.v{display:inline-block;border-radius:4px;padding:1px 6px;margin:2px;font-size:13px}.v.ok{background:#dfd}.v.bad{background:#fdd}
blockquote{margin:.3em 0 .6em 1em;color:#444;font-size:14px;white-space:pre-wrap}.small{font-size:13px;color:#555}
"""
    s = report.overall
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>RAG evaluation</title>"
        f"<style>{style}</style></head><body><h1>Answer-quality evaluation</h1>"
        f"<p>{s.n} questions, mode {_e(report.mode)}, k = {report.k}, {report.documents} documents, "
        f"{report.seconds:.1f} s. {_e(report.judges)}.</p>{table}"
        f"<p><img src='{CHART_NAME}' alt='scores by category' style='max-width:100%'></p>"
        + "".join(cards)
        + "</body></html>"
    )


CHART_METRICS = [
    ("hit_rate", "hit@k"),
    ("mrr", "MRR"),
    ("fact_recall", "fact recall"),
    ("supporting_doc_cited", "supporting doc cited"),
    ("citation_support", "citation support"),
    ("decline_accuracy", "unanswerable declined"),
]


def write_chart(report: EvalReport, path: Path) -> None:
    """Grouped bars: scores (0-1) by category, plus overall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(report.by_category.items()) + [("overall", report.overall)]
    x = np.arange(len(groups))
    width = 0.8 / len(CHART_METRICS)
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    for i, (fieldname, label) in enumerate(CHART_METRICS):
        values = [getattr(s, fieldname) for _, s in groups]
        ax.bar(x + (i - (len(CHART_METRICS) - 1) / 2) * width, [v if v is not None else 0 for v in values], width, label=label)
    ax.set_xticks(x, [name for name, _ in groups])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"Answer quality by category ({report.mode}, k={report.k})")
    ax.legend(fontsize=8, ncol=len(CHART_METRICS), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(report: EvalReport, folder: str | Path) -> Path:
    """Write summary.md, index.html, the PNG chart and results.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.md").write_text(summary_markdown(report), encoding="utf-8")
    (folder / "index.html").write_text(report_html(report), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    write_chart(report, folder / CHART_NAME)
    return folder
