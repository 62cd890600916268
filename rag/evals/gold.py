"""Answer-quality evaluation on a hand-written gold set, offline by default.

Every gold item of `tests/gold/gold.yaml` is asked through the real service (follow-ups first
replay their earlier user questions, passing the (question, answer) pairs as history) and scored
without any model:

- retrieval: hit rate and MRR at k over the supporting documents (doc level: a passage counts as a
  hit when its document is one of the item's `docs`), computed by llama-index's `RetrieverEvaluator`
  with its `HitRate` and `MRR` metrics over a thin retriever adapter whose node ids are doc ids;
- answers: fact recall (share of the item's facts whose regex matches the answer text), the same
  share in the answer's first line alone (text up to the first newline, markers stripped), whether a
  supporting document is cited, citation validity (each quote is verbatim `document.text[start:end]`),
  citation support (each fact found in the answer is also found in a cited quote), false declines;
- unanswerable items: declined (not answerable, no citations);
- latency p50/p95 of `ask`.

When an LLM is configured, the judges of `rag.evals.judges` rate each answer as well.
`rag.evals.report` renders the resulting `EvalReport`.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rag.retrieval.followup import retrieval_query
from rag.text import MARKER
from rag.config import PROJECT_ROOT
from rag.errors import RagError
from rag.evals.judges import JudgeVerdict, judge_answer, make_judges
from rag.evals.stats import mean, percentile

if TYPE_CHECKING:
    from rag.service import Service
    from rag.types import Answer, Passage

DEFAULT_GOLD = PROJECT_ROOT / "tests" / "gold" / "gold.yaml"
CATEGORIES = ("fact", "quote", "number", "multi_doc", "followup", "unanswerable")


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
    first_line_recall: float | None = None  # share of the facts found in the answer's first line
    short_answer: str | None = None  # the bold short answer shown
    short_answer_wrong: bool | None = None  # it holds none of the item's facts (any shown for an unanswerable item)
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
    first_line_recall the same for the answer's first line only (the line meant to answer);
    citation_validity is over all citations; citation_support is over all (item, fact) pairs
    whose fact was found in the answer text; latencies are of the gold question's `ask` only.
    bold_shown counts the items whose answer opens with a bold short answer, bold_wrong those
    whose bold answer holds none of the item's facts: read first, a wrong one misleads most.
    """

    n: int = 0
    answerable: int = 0
    unanswerable: int = 0
    hit_rate: float | None = None
    mrr: float | None = None
    fact_recall: float | None = None
    first_line_recall: float | None = None
    bold_shown: int = 0
    bold_wrong: int = 0
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


def score(items: list[ItemResult]) -> Scores:
    """Aggregate a group of item results (see `Scores` for the definitions)."""
    answerable = [r for r in items if r.category != "unanswerable"]
    unanswerable = [r for r in items if r.category == "unanswerable"]
    citations = [c for r in items for c in r.citations]
    supported = [s for r in answerable for s in r.facts_in_citations if s is not None]
    out = Scores(n=len(items), answerable=len(answerable), unanswerable=len(unanswerable), citations=len(citations))
    out.hit_rate = mean([r.hit for r in items if r.hit is not None])
    out.mrr = mean([r.reciprocal_rank for r in items if r.reciprocal_rank is not None])
    out.fact_recall = mean([r.fact_recall for r in answerable if r.fact_recall is not None])
    out.first_line_recall = mean([r.first_line_recall for r in answerable if r.first_line_recall is not None])
    out.bold_shown = sum(r.short_answer is not None for r in items)
    out.bold_wrong = sum(bool(r.short_answer_wrong) for r in items)
    out.supporting_doc_cited = mean([float(bool(r.supporting_cited)) for r in answerable])
    out.citation_validity = mean([float(c.valid) for c in citations])
    out.citation_support = mean([float(s) for s in supported])
    out.false_decline_rate = mean([float(bool(r.false_decline)) for r in answerable])
    out.decline_accuracy = mean([float(bool(r.declined_correctly)) for r in unanswerable])
    out.passed = mean([float(r.passed) for r in items])
    latencies = [r.latency_ms for r in items]
    out.latency_p50_ms = percentile(latencies, 50)
    out.latency_p95_ms = percentile(latencies, 95)
    faithful = [v.passing for r in items for v in r.judges if v.name == "faithfulness" and v.passing is not None]
    correct = [v for r in items for v in r.judges if v.name == "correctness" and v.score is not None]
    out.faithfulness = mean([float(v) for v in faithful])
    out.correctness = mean([v.score for v in correct])
    out.correctness_passing = mean([float(bool(v.passing)) for v in correct])
    return out


# --------------------------------------------------------------------------------- retrieval


def _retrieval_evaluator(service: "Service", k: int):
    """llama-index's RetrieverEvaluator (HitRate, MRR) over the service's own hybrid retrieval.

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
            self.last = service.retrieve(query_bundle.query_str, k)
            return [NodeWithScore(node=TextNode(id_=p.doc_id, text=p.text), score=p.score) for p in self.last]

    retriever = PipelineDocRetriever()
    return RetrieverEvaluator(metrics=[HitRate(), MRR()], retriever=retriever), retriever


def _reference(item: GoldItem) -> str:
    """What a correct answer to `item` contains, in words, for the correctness judge."""
    if not item.answerable:
        return "The articles do not answer this question; a correct response says so and cites nothing."
    facts = "; ".join(" OR ".join(fact) for fact in item.facts)
    return (
        "A correct answer contains each of these facts (given as case-insensitive regular expressions; "
        f"any alternative separated by OR suffices): {facts}"
    )


# --------------------------------------------------------------------------------- evaluate


def evaluate_item(service: "Service", item: GoldItem, k: int, retrieval=None, judges: list | None = None) -> ItemResult:
    """Ask one gold item (replaying its history first) and score it."""
    history: list[tuple[str, str]] = []
    for earlier in item.history:
        previous = service.ask(earlier, history=list(history), top_k=k)
        history.append((earlier, previous.text))
    query = retrieval_query(item.question, history)
    started = time.perf_counter()
    answer = service.ask(item.question, history=list(history), top_k=k)
    latency = (time.perf_counter() - started) * 1000

    expected = set(item.docs)
    documents = service.search_index.documents
    checks = [check_citation(c, documents, expected) for c in answer.citations]
    result = ItemResult(
        id=item.id, category=item.category, question=item.question, history=history, retrieval_query=query,
        retrieved_doc_ids=[], expected_doc_ids=list(item.docs), answer_text=answer.text,
        answerable=answer.answerable, notice=answer.notice, latency_ms=latency, citations=checks,
        dangling_markers=dangling_markers(answer), short_answer=answer.short_answer,
    )
    if answer.short_answer is not None:
        result.short_answer_wrong = not any(fact_found(fact, answer.short_answer) for fact in item.facts)
    if retrieval is not None and item.docs:
        evaluator, retriever = retrieval
        metrics = evaluator.evaluate(query=query, expected_ids=list(item.docs)).metric_vals_dict
        result.retrieved_doc_ids = [p.doc_id for p in retriever.last]
        result.hit, result.reciprocal_rank = metrics["hit_rate"], metrics["mrr"]
    elif item.docs or not item.answerable:
        result.retrieved_doc_ids = [p.doc_id for p in service.retrieve(query, k)]

    if item.answerable:
        text = strip_markers(answer.text)
        quotes = [" ".join(c.quote.split()) for c in answer.citations]
        result.facts_matched = [fact_found(fact, text) for fact in item.facts]
        result.facts_in_citations = [
            any(fact_found(fact, q) for q in quotes) if matched else None
            for fact, matched in zip(item.facts, result.facts_matched)
        ]
        result.fact_recall = sum(result.facts_matched) / len(item.facts) if item.facts else None
        first_line = strip_markers((answer.text or "").split("\n", 1)[0])
        if item.facts:
            result.first_line_recall = sum(fact_found(fact, first_line) for fact in item.facts) / len(item.facts)
        result.supporting_cited = any(c.supporting for c in checks)
        result.false_decline = not answer.answerable
    else:
        result.declined_correctly = (not answer.answerable) and not answer.citations
    if judges:
        result.judges = judge_answer(judges, item.question, answer, _reference(item))
    return result


def evaluate(service: "Service", gold_items: list[GoldItem], k: int = 5, progress=None) -> EvalReport:
    """Run every gold item through `service` and score it (offline; LLM judges only with an LLM).

    `progress(done, total, item_result)` is called after each item when given.
    """
    started = time.perf_counter()
    search = service.search_index  # builds the index when there is none, outside the timings
    retrieval = _retrieval_evaluator(service, k)
    judges, judges_note = make_judges(service)
    results: list[ItemResult] = []
    for n, item in enumerate(gold_items, 1):
        results.append(evaluate_item(service, item, k, retrieval, judges))
        if progress:
            progress(n, len(gold_items), results[-1])
    categories = [c for c in CATEGORIES if any(r.category == c for r in results)]
    categories += sorted({r.category for r in results} - set(categories))
    return EvalReport(
        k=k,
        mode=service.mode,
        items=results,
        by_category={c: score([r for r in results if r.category == c]) for c in categories},
        overall=score(results),
        judges=judges_note,
        seconds=time.perf_counter() - started,
        documents=len(search.documents),
    )
