"""Answer-quality evaluation on a hand-written gold set, offline by default.

    python -m rag eval [--set tests/gold/gold.yaml] [--k 5] [--report reports/eval]

Every gold item is asked through the real pipeline (follow-ups first replay their earlier user
questions, passing the (question, answer) pairs as history) and scored without any model:

- retrieval: hit rate and MRR at k over the supporting documents (doc level: a passage counts as a
  hit when its document is one of the item's `docs`), computed by llama-index's `RetrieverEvaluator`
  with its `HitRate` and `MRR` metrics over a thin retriever adapter whose node ids are doc ids;
- answers: fact recall (share of the item's facts whose regex matches the answer text), whether a
  supporting document is cited, citation validity (each quote is verbatim `document.text[start:end]`),
  citation support (each fact found in the answer is also found in a cited quote), false declines;
- unanswerable items: declined (not answerable, no citations);
- latency p50/p95 of `ask`.

When an LLM is configured, llama-index's `FaithfulnessEvaluator` and `CorrectnessEvaluator` judge
each answer as well; otherwise the report says they were skipped. The report folder gets
`summary.md`, `index.html` (every question with answer, citations and verdicts), a bar chart
`scores_by_category.png` and `results.json`.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from rag.citations import MARKER
from rag.config import PROJECT_ROOT
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.types import Answer, Passage

DEFAULT_GOLD = PROJECT_ROOT / "tests" / "gold" / "gold.yaml"
CATEGORIES = ("fact", "quote", "number", "multi_doc", "followup", "unanswerable")
CHART_NAME = "scores_by_category.png"
JUDGES_SKIPPED = "LLM judges skipped: no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL)"


# --------------------------------------------------------------------------------- gold set


@dataclass
class GoldItem:
    """One gold question. `facts` is a list of facts, each a list of alternative regexes."""

    id: str
    category: str
    question: str
    history: list[str] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def answerable(self) -> bool:
        return self.category != "unanswerable"


def load_gold(path: str | Path | None = None) -> list[GoldItem]:
    """Read and check a gold YAML file (schema in the header of tests/gold/gold.yaml)."""
    path = Path(path) if path else DEFAULT_GOLD
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RagError(f"Cannot read the gold set {path}: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise RagError(f"The gold set {path} must be a non-empty YAML list of questions.")
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw, 1):
        where = f"{path.name} item {n}"
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("question"):
            raise RagError(f"{where}: needs at least 'id' and 'question'.")
        item = GoldItem(
            id=str(entry["id"]),
            category=str(entry.get("category", "fact")),
            question=str(entry["question"]),
            history=[str(h) for h in entry.get("history") or []],
            facts=[[str(p) for p in (fact if isinstance(fact, list) else [fact])] for fact in entry.get("facts") or []],
            docs=[str(d) for d in entry.get("docs") or []],
            note=entry.get("note"),
        )
        if item.id in seen:
            raise RagError(f"{where}: duplicate id '{item.id}'.")
        seen.add(item.id)
        for fact in item.facts:
            for pattern in fact:
                try:
                    re.compile(pattern, re.I)
                except re.error as exc:
                    raise RagError(f"{where} ({item.id}): bad regex {pattern!r}: {exc}") from None
        items.append(item)
    return items


# --------------------------------------------------------------------------------- results


@dataclass
class CitationCheck:
    """One citation of an answer and whether its quote is verbatim in the cleaned document."""

    number: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    valid: bool
    problem: str | None = None
    supporting: bool = False  # the cited document is one of the item's supporting docs


@dataclass
class JudgeVerdict:
    """An LLM judge's verdict on one answer (llama-index `EvaluationResult`, flattened)."""

    name: str
    passing: bool | None
    score: float | None
    feedback: str = ""
    error: str | None = None


@dataclass
class ItemResult:
    """Everything measured for one gold item; `None` marks a measure that does not apply."""

    id: str
    category: str
    question: str
    history: list[tuple[str, str]]
    retrieval_query: str
    retrieved_doc_ids: list[str]
    expected_doc_ids: list[str]
    answer_text: str
    answerable: bool  # the system's verdict
    notice: str | None
    latency_ms: float
    citations: list[CitationCheck]
    hit: float | None = None
    reciprocal_rank: float | None = None
    facts_matched: list[bool] = field(default_factory=list)
    facts_in_citations: list[bool | None] = field(default_factory=list)  # per fact: None if not in the answer
    fact_recall: float | None = None
    supporting_cited: bool | None = None
    false_decline: bool | None = None
    declined_correctly: bool | None = None
    dangling_markers: list[str] = field(default_factory=list)
    judges: list[JudgeVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """All offline checks pass: every fact, a supporting citation, valid citations; or a clean decline."""
        if self.declined_correctly is not None:
            return bool(self.declined_correctly)
        return (
            self.fact_recall == 1.0
            and bool(self.supporting_cited)
            and all(c.valid for c in self.citations)
            and not self.dangling_markers
        )


@dataclass
class Scores:
    """Aggregate scores for a group of items; `None` where the group has nothing to measure.

    fact_recall is the mean over answerable items of each item's share of facts found;
    citation_validity is over all citations; citation_support is over all (item, fact) pairs
    whose fact was found in the answer text; latencies are of the gold question's `ask` only.
    """

    n: int = 0
    answerable: int = 0
    unanswerable: int = 0
    hit_rate: float | None = None
    mrr: float | None = None
    fact_recall: float | None = None
    supporting_doc_cited: float | None = None
    citation_validity: float | None = None
    citations: int = 0
    citation_support: float | None = None
    false_decline_rate: float | None = None
    decline_accuracy: float | None = None
    passed: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    faithfulness: float | None = None
    correctness: float | None = None  # mean 1-5 score
    correctness_passing: float | None = None


@dataclass
class EvalReport:
    """The result of `evaluate`: per-item results, per-category and overall scores."""

    k: int
    mode: str
    items: list[ItemResult]
    by_category: dict[str, Scores]
    overall: Scores
    judges: str  # which LLM judges ran, or why none did
    seconds: float
    gold_path: str = ""
    documents: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for item, raw in zip(self.items, data["items"]):
            raw["passed"] = item.passed
        return data


# --------------------------------------------------------------------------------- checks


def strip_markers(text: str) -> str:
    """Answer text without [n] markers, so a marker "[4]" never matches a fact like r"\\b4\\b"."""
    return MARKER.sub(" ", text or "")


def fact_found(fact: list[str], text: str) -> bool:
    return any(re.search(pattern, text, re.I) for pattern in fact)


def check_citation(citation, documents: dict, expected: set[str]) -> CitationCheck:
    """A citation is valid when its document exists and its quote is exactly text[start:end]."""
    doc = documents.get(citation.doc_id)
    problem = None
    if doc is None:
        problem = "document not in the index"
    elif not citation.quote.strip():
        problem = "empty quote"
    elif citation.quote not in doc.text:
        problem = "quote not found in the document"
    elif not (0 <= citation.start < citation.end <= len(doc.text)) or doc.text[citation.start : citation.end] != citation.quote:
        problem = f"offsets {citation.start}:{citation.end} do not match the quote"
    return CitationCheck(
        number=citation.number, doc_id=citation.doc_id, title=citation.title, quote=citation.quote,
        start=citation.start, end=citation.end, valid=problem is None, problem=problem,
        supporting=citation.doc_id in expected,
    )


def dangling_markers(answer: "Answer") -> list[str]:
    """[n] markers in the text that point at no citation."""
    numbers = {c.number for c in answer.citations}
    out = []
    for m in MARKER.finditer(answer.text or ""):
        for part in m.group(1).split(","):
            if int(part) not in numbers:
                out.append(f"[{part.strip()}]")
    return out


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def score(items: list[ItemResult]) -> Scores:
    """Aggregate a group of item results (see `Scores` for the definitions)."""
    answerable = [r for r in items if r.category != "unanswerable"]
    unanswerable = [r for r in items if r.category == "unanswerable"]
    citations = [c for r in items for c in r.citations]
    supported = [s for r in answerable for s in r.facts_in_citations if s is not None]
    out = Scores(n=len(items), answerable=len(answerable), unanswerable=len(unanswerable), citations=len(citations))
    out.hit_rate = _mean([r.hit for r in items if r.hit is not None])
    out.mrr = _mean([r.reciprocal_rank for r in items if r.reciprocal_rank is not None])
    out.fact_recall = _mean([r.fact_recall for r in answerable if r.fact_recall is not None])
    out.supporting_doc_cited = _mean([float(bool(r.supporting_cited)) for r in answerable])
    out.citation_validity = _mean([float(c.valid) for c in citations])
    out.citation_support = _mean([float(s) for s in supported])
    out.false_decline_rate = _mean([float(bool(r.false_decline)) for r in answerable])
    out.decline_accuracy = _mean([float(bool(r.declined_correctly)) for r in unanswerable])
    out.passed = _mean([float(r.passed) for r in items])
    latencies = [r.latency_ms for r in items]
    out.latency_p50_ms = _percentile(latencies, 50)
    out.latency_p95_ms = _percentile(latencies, 95)
    faithful = [v.passing for r in items for v in r.judges if v.name == "faithfulness" and v.passing is not None]
    correct = [v for r in items for v in r.judges if v.name == "correctness" and v.score is not None]
    out.faithfulness = _mean([float(v) for v in faithful])
    out.correctness = _mean([v.score for v in correct])
    out.correctness_passing = _mean([float(bool(v.passing)) for v in correct])
    return out


# --------------------------------------------------------------------------------- retrieval


def _retrieval_evaluator(pipeline: "Pipeline", k: int):
    """llama-index's RetrieverEvaluator (HitRate, MRR) over the pipeline's own hybrid retrieval.

    The adapter reports each passage's doc id as its node id, so the metrics compare documents
    (rank of the first passage from a supporting document), and it keeps the passages it returned
    for the report. It is given the same retrieval query `ask` uses (follow-ups include context).
    """
    from llama_index.core.evaluation import MRR, HitRate, RetrieverEvaluator
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    class PipelineDocRetriever(BaseRetriever):
        def __init__(self) -> None:
            super().__init__()
            self.last: list[Passage] = []

        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            self.last = pipeline.retrieve(query_bundle.query_str, k)
            return [NodeWithScore(node=TextNode(id_=p.doc_id, text=p.text), score=p.score) for p in self.last]

    retriever = PipelineDocRetriever()
    return RetrieverEvaluator(metrics=[HitRate(), MRR()], retriever=retriever), retriever


# --------------------------------------------------------------------------------- LLM judges


def judge_llm(config):
    """A llama-index LLM for the judges, from the pipeline's OpenAI settings.

    `OpenAILike` (llama-index-llms-openai-like) is used when installed; otherwise the OpenAI class
    with its model-name lookups relaxed, so a local server's model name (e.g. "smollm2") works.
    """
    kwargs = dict(
        model=config.llm_model,
        api_key=config.openai_api_key or "sk-no-key",
        timeout=config.llm_timeout,
        max_retries=1,
        temperature=0.0,
    )
    if config.openai_base_url:
        kwargs["api_base"] = config.openai_base_url
        try:
            from llama_index.llms.openai_like import OpenAILike

            return OpenAILike(is_chat_model=True, context_window=8192, **kwargs)
        except ImportError:
            pass
    from llama_index.core.base.llms.types import LLMMetadata
    from llama_index.llms.openai import OpenAI

    class CompatibleOpenAI(OpenAI):
        @property
        def metadata(self) -> LLMMetadata:
            try:
                return super().metadata
            except ValueError:  # a model name OpenAI's table does not know
                return LLMMetadata(context_window=8192, num_output=self.max_tokens or -1, is_chat_model=True,
                                   model_name=self.model)

        @property
        def _tokenizer(self):
            try:
                return super()._tokenizer
            except Exception:  # tiktoken knows no such model; token counting is not needed here
                return None

    return CompatibleOpenAI(**kwargs)


def _reference(item: GoldItem) -> str:
    if not item.answerable:
        return "The articles do not answer this question; a correct response says so and cites nothing."
    facts = "; ".join(" OR ".join(fact) for fact in item.facts)
    return (
        "A correct answer contains each of these facts (given as case-insensitive regular expressions; "
        f"any alternative separated by OR suffices): {facts}"
    )


def _judge(judges: list, item: GoldItem, answer: "Answer") -> list[JudgeVerdict]:
    out = []
    for name, judge in judges:
        try:
            if name == "faithfulness":
                if not answer.citations:
                    continue  # nothing to be faithful to: a decline
                result = judge.evaluate(query=item.question, response=answer.text, contexts=[c.quote for c in answer.citations])
            else:
                result = judge.evaluate(query=item.question, response=answer.text, reference=_reference(item))
            out.append(JudgeVerdict(name, result.passing, result.score, (result.feedback or "")[:2000]))
        except Exception as exc:  # a judge failing must not stop the evaluation
            out.append(JudgeVerdict(name, None, None, error=f"{exc.__class__.__name__}: {exc}"[:500]))
    return out


def make_judges(pipeline: "Pipeline") -> tuple[list, str]:
    if pipeline.llm is None:
        return [], JUDGES_SKIPPED
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    llm = judge_llm(pipeline.config)
    judges = [("faithfulness", FaithfulnessEvaluator(llm=llm)), ("correctness", CorrectnessEvaluator(llm=llm))]
    where = pipeline.config.openai_base_url or "OpenAI"
    return judges, f"LLM judges: llama-index FaithfulnessEvaluator and CorrectnessEvaluator with {pipeline.config.llm_model} ({where})"


# --------------------------------------------------------------------------------- evaluate


def evaluate_item(pipeline: "Pipeline", item: GoldItem, k: int, retrieval=None, judges: list | None = None) -> ItemResult:
    """Ask one gold item (replaying its history first) and score it."""
    history: list[tuple[str, str]] = []
    for earlier in item.history:
        previous = pipeline.ask(earlier, history=list(history), top_k=k)
        history.append((earlier, previous.text))
    query = pipeline.retrieval_query(item.question, history)
    started = time.perf_counter()
    answer = pipeline.ask(item.question, history=list(history), top_k=k)
    latency = (time.perf_counter() - started) * 1000

    expected = set(item.docs)
    documents = pipeline.search_index.documents
    checks = [check_citation(c, documents, expected) for c in answer.citations]
    result = ItemResult(
        id=item.id, category=item.category, question=item.question, history=history, retrieval_query=query,
        retrieved_doc_ids=[], expected_doc_ids=list(item.docs), answer_text=answer.text,
        answerable=answer.answerable, notice=answer.notice, latency_ms=latency, citations=checks,
        dangling_markers=dangling_markers(answer),
    )
    if retrieval is not None and item.docs:
        evaluator, retriever = retrieval
        metrics = evaluator.evaluate(query=query, expected_ids=list(item.docs)).metric_vals_dict
        result.retrieved_doc_ids = [p.doc_id for p in retriever.last]
        result.hit, result.reciprocal_rank = metrics["hit_rate"], metrics["mrr"]
    elif item.docs or not item.answerable:
        result.retrieved_doc_ids = [p.doc_id for p in pipeline.retrieve(query, k)]

    if item.answerable:
        text = strip_markers(answer.text)
        quotes = [" ".join(c.quote.split()) for c in answer.citations]
        result.facts_matched = [fact_found(fact, text) for fact in item.facts]
        result.facts_in_citations = [
            any(fact_found(fact, q) for q in quotes) if matched else None
            for fact, matched in zip(item.facts, result.facts_matched)
        ]
        result.fact_recall = sum(result.facts_matched) / len(item.facts) if item.facts else None
        result.supporting_cited = any(c.supporting for c in checks)
        result.false_decline = not answer.answerable
    else:
        result.declined_correctly = (not answer.answerable) and not answer.citations
    if judges:
        result.judges = _judge(judges, item, answer)
    return result


def evaluate(pipeline: "Pipeline", gold_items: list[GoldItem], k: int = 5, progress=None) -> EvalReport:
    """Run every gold item through `pipeline` and score it (offline; LLM judges only with an LLM).

    `progress(done, total, item_result)` is called after each item when given.
    """
    started = time.perf_counter()
    search = pipeline.search_index  # builds the index when there is none, outside the timings
    retrieval = _retrieval_evaluator(pipeline, k)
    judges, judges_note = make_judges(pipeline)
    results: list[ItemResult] = []
    for n, item in enumerate(gold_items, 1):
        results.append(evaluate_item(pipeline, item, k, retrieval, judges))
        if progress:
            progress(n, len(gold_items), results[-1])
    categories = [c for c in CATEGORIES if any(r.category == c for r in results)]
    categories += sorted({r.category for r in results} - set(categories))
    return EvalReport(
        k=k,
        mode=pipeline.mode,
        items=results,
        by_category={c: score([r for r in results if r.category == c]) for c in categories},
        overall=score(results),
        judges=judges_note,
        seconds=time.perf_counter() - started,
        documents=len(search.documents),
    )


# --------------------------------------------------------------------------------- output

COLUMNS: list[tuple[str, str, str]] = [
    # (Scores field, header, format: "pct" | "ms" | "n" | "score")
    ("n", "n", "n"),
    ("hit_rate", "hit@k", "pct"),
    ("mrr", "MRR", "score"),
    ("fact_recall", "fact recall", "pct"),
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


def _fmt(value, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "n":
        return str(value)
    if kind == "ms":
        return f"{value:.0f}"
    if kind == "score":
        return f"{value:.2f}"
    return f"{100 * value:.0f}%"


def _columns(report: EvalReport) -> list[tuple[str, str, str]]:
    has_judges = any(item.judges for item in report.items)
    return COLUMNS + (JUDGE_COLUMNS if has_judges else [])


def table_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    cols = _columns(report)
    header = ["category"] + [h for _, h, _ in cols]
    rows = [[name] + [_fmt(getattr(s, f), kind) for f, _, kind in cols] for name, s in report.by_category.items()]
    rows.append(["overall"] + [_fmt(getattr(report.overall, f), kind) for f, _, kind in cols])
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
    header, rows = table_rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[:-1]]
    out.append("| " + " | ".join(f"**{c}**" for c in rows[-1]) + " |")
    return "\n".join(out)


def _failure_lines(report: EvalReport) -> list[str]:
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
        "fact recall is the mean share of an answerable item's facts matched in the answer text; doc cited: a "
        "supporting document is among the citations; cit. valid: share of citations whose quote is exactly "
        "`document.text[start:end]`; cit. support: share of facts found in an answer that a cited quote also "
        "contains; false decl.: answerable items declined; declined: unanswerable items declined with no "
        "citations; all pass: every offline check of the item passes; latency is the `ask` of the gold "
        "question (history turns excluded).",
        "",
        "## Items that did not pass",
        "",
    ]
    failures = _failure_lines(report)
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
            verdicts.append((f"fact recall {_fmt(r.fact_recall, 'pct')}", r.fact_recall == 1.0))
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


def run_eval_cli(args, pipeline: "Pipeline") -> int:
    """`python -m rag eval`: evaluate, print the table, write the report folder."""
    gold_path = Path(args.gold) if getattr(args, "gold", None) else DEFAULT_GOLD
    items = load_gold(gold_path)
    k = getattr(args, "k", None) or pipeline.config.top_k

    interactive = sys.stdout.isatty()

    def progress(done: int, total: int, result: ItemResult) -> None:
        if interactive:
            print(f"\r{done}/{total} {result.id:<20}", end="", flush=True)

    report = evaluate(pipeline, items, k=k, progress=progress)
    report.gold_path = str(gold_path)
    if interactive:
        print("\r" + " " * 40 + "\r", end="")
    print(format_table(report))
    print()
    print(report.judges + ".")
    failures = _failure_lines(report)
    if failures:
        print(f"\n{len(failures)} items did not pass all checks:")
        print("\n".join(failures))
    folder = write_report(report, getattr(args, "report", None) or "reports/eval")
    print(f"\nReport: {folder / 'index.html'} (also summary.md, {CHART_NAME}, results.json); {report.seconds:.1f} s")
    return 0


__all__ = [
    "CitationCheck", "EvalReport", "GoldItem", "ItemResult", "JudgeVerdict", "Scores",
    "evaluate", "format_table", "load_gold", "run_eval_cli", "write_report",
]
