"""Benchmark on a JSONL news-QA set, side by side with plain llama-index and BM25 baselines.

    python -m rag bench --documents documents.jsonl.gz --questions questions.jsonl [--limit N] [--skip M]
                        [--index DIR] [--out benchmarks/results]

Input: documents, one JSON object a line `{id, title, url, published, text}` (optionally gzipped),
and questions `{id, question, answers, date?}`. With `--limit N` the first N questions are used
(after skipping `--skip M`, for a held-out slice that no tuning looked at),
with only the documents published in the 14 days up to one of those questions' dates
(RealTime QA asks about "this week's" news). The product is asked each question `as_of` its date,
as a reader would be (the system has a clock; `--without-as-of` asks as of today instead); nothing
else about a question (id, source, answers) reaches any system.

Systems, on the same questions and the same slice:

- product: the slice is written to a temporary JSONL corpus and indexed by the real service
  (cleaning, 200-token chunks, hybrid dense + BM25 retrieval), then `ask(question, top_k=5)`.
  Its evidence is what it cites: for each citation (at most 5), the quoted span plus the passage
  it was cited from (the retrieved chunk `citation.chunk_id` with its neighbouring chunks, as the
  product reads and links it). A decline cites nothing.
- llama-index dense: `VectorStoreIndex` (in-memory `SimpleVectorStore`) over the raw documents split
  by the default `SentenceSplitter` (1024/200 tokens), embedded with the same local MiniLM model,
  top-2 and top-5; the retrieved node texts play the role of citations. MiniLM reads at most 256
  word pieces, so most of each 1024-token node goes unembedded: that is what the defaults do.
- BM25: llama-index's `BM25Retriever` over the same default-split nodes, top-5.
- plain extractive peers (as `../shared/bench/peer_extractive.py`, re-implemented here so the same
  questions and slice are used): `bm25-sent`, bm25s over every sentence of the slice, the K best
  sentences; `bm25-chunk-sent`, bm25s top-5 256-token chunks, then their K sentences with most BM25
  weight; K = 1 and 5. They read no dates. What a user reads is the K sentences.

What a user reads, per answering system (product and peers): answer in text (the answer text,
`[n]` markers removed), answer in lead (its first line, at most LEAD_CHARS characters), characters
read (median), answer in citations@5 (the product: quote plus passage of each of at most 5
citations; a peer: its sentences), declines, latency.

Matching: a gold answer counts as present in a text when, both lowercased, with every straight or
curly quote mark removed and whitespace runs collapsed to one space, the answer occurs as whole
words (not inside a longer word or number: "6" does not match "16", "Europe" not "European").
The peer's own rule (NFKC, fewer quote marks removed, any substring: "6" matches "16") is reported
beside it as "peer rule", for every answering system, so its published figures can be compared.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import resource
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rag.text import MARKER
from rag.errors import RagError
from rag.evals.stats import fmt, mean, percentile, reliability, wilson

WINDOW_DAYS = 14
TOP_K = 5
# Quote marks become spaces, not nothing: "Japan’s" must still hold the whole word "japan".
QUOTES = str.maketrans({mark: " " for mark in "\"'`“”‘’„‟‚‛«»"})
EXAMPLES_PER_CLASS = 5
LEAD_CHARS = 300
RIGHT_F1 = 0.5  # a short answer is right when its token F1 with a gold answer reaches this
PEER_K = (1, 5)


# --------------------------------------------------------------------------------- input


def normalize(text: str) -> str:
    """Lowercase, quote marks turned into spaces, whitespace collapsed: the form answers are matched in."""
    return " ".join((text or "").lower().translate(QUOTES).split())


@lru_cache(maxsize=4096)
def _answer_pattern(answer: str) -> re.Pattern | None:
    norm = normalize(answer)
    # Whole words only: "6" must not match inside "16", nor "Apple" inside "pineapple".
    return re.compile(r"(?<!\w)" + re.escape(norm) + r"(?!\w)") if norm else None


def contains_answer(text: str, answers: list[str], normalized: bool = False) -> bool:
    """A gold answer appears in `text` (normalized as `normalize` does), as whole words."""
    hay = text if normalized else normalize(text)
    return any(p.search(hay) for p in (_answer_pattern(a) for a in answers) if p is not None)


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def answer_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation, which RealTime QA scores with: lower case, punctuation and
    articles removed, whitespace collapsed; then split into words."""
    text = "".join(ch for ch in (text or "").lower() if not unicodedata.category(ch).startswith("P"))
    return _ARTICLES.sub(" ", text).split()


def exact_match(prediction: str | None, answers: list[str]) -> bool:
    """The short answer equals a gold answer after `answer_tokens` normalisation."""
    return prediction is not None and any(answer_tokens(prediction) == answer_tokens(a) for a in answers)


def token_f1(prediction: str | None, answers: list[str]) -> float:
    """The best token-overlap F1 between the short answer and a gold answer (0 for no answer)."""
    predicted = answer_tokens(prediction or "")
    best = 0.0
    for answer in answers:
        gold = answer_tokens(answer)
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise RagError(f"Not a file: {path}")
    out = []
    with _open(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RagError(f"{path}:{lineno}: malformed JSON ({exc})") from None
            if isinstance(record, dict):
                out.append(record)
    return out


def parse_date(value: Any) -> dt.date | None:
    text = str(value or "").strip().replace("/", "-")[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def select_slice(documents: list[dict], questions: list[dict], days: int = WINDOW_DAYS) -> tuple[list[dict], str]:
    """The documents published within `days` days up to (and including) some question's date.

    Returns the documents and a sentence describing the choice. Without question dates, all
    documents are used.
    """
    dates = sorted({d for d in (parse_date(q.get("date")) for q in questions) if d})
    if not dates:
        return documents, "all documents (the questions carry no dates)"
    chosen = []
    for doc in documents:
        published = parse_date(doc.get("published"))
        if published and any(0 <= (q - published).days <= days for q in dates):
            chosen.append(doc)
    return chosen, (
        f"documents published 0-{days} days before one of the {len(dates)} question dates "
        f"({dates[0].isoformat()} to {dates[-1].isoformat()})"
    )


SLICE_FILE_BYTES = 8 * 1024 * 1024


def write_slice(corpus: Path, documents: list[dict]) -> None:
    """The documents as JSONL corpus files of at most SLICE_FILE_BYTES each: one file of a large
    slice would be over the loader's size limit for a corpus file."""
    part, size, handle = 0, 0, None
    try:
        for d in documents:
            record = {k: d.get(k) for k in ("id", "title", "url", "published", "text") if d.get(k)}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            if handle is None or size + len(line.encode()) > SLICE_FILE_BYTES:
                if handle is not None:
                    handle.close()
                handle = (corpus / f"slice-{part:03d}.jsonl").open("w", encoding="utf-8")
                part, size = part + 1, 0
            handle.write(line)
            size += len(line.encode())
    finally:
        if handle is not None:
            handle.close()


# --------------------------------------------------------------------------------- baselines


def minilm_embedding(embedder=None):
    """rag.backends.embeddings.LocalMiniLM as a llama-index `BaseEmbedding` (same model as the product)."""
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.embeddings import BaseEmbedding

    from rag.backends.embeddings import LocalMiniLM

    class MiniLMEmbedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, embedder=None, **kwargs):
            super().__init__(model_name="all-MiniLM-L6-v2 (int8 ONNX)", embed_batch_size=32, **kwargs)
            self._embedder = embedder or LocalMiniLM()

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(list(texts)).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return MiniLMEmbedding(embedder)


@dataclass
class BaselineIndex:
    """The plain llama-index retrievers over default-split nodes of the raw documents."""

    dense: Any
    bm25: Any
    nodes: int
    tokens: int
    seconds: float


def build_baselines(documents: list[dict], embedder=None) -> BaselineIndex:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.retrievers.bm25 import BM25Retriever

    from rag.ingest.chunking import count_tokens

    started = time.perf_counter()
    docs = [
        Document(text=d.get("text") or "", metadata={"title": d.get("title") or "", "published": d.get("published") or ""}, id_=str(d["id"]))
        for d in documents
        if (d.get("text") or "").strip()
    ]
    nodes = SentenceSplitter().get_nodes_from_documents(docs)
    index = VectorStoreIndex(nodes, embed_model=minilm_embedding(embedder))  # in-memory SimpleVectorStore
    dense = index.as_retriever(similarity_top_k=TOP_K)
    seconds = time.perf_counter() - started
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(TOP_K, len(nodes)), language="en")
    return BaselineIndex(dense, bm25, len(nodes), sum(count_tokens(d.text) for d in docs), seconds)


# The plain extractive peer, exactly as ../shared/bench/peer_extractive.py: its normalisation, its
# substring `hit`, its sentence splitter and its 20-character floor on sentences.
_PEER_SPLIT = re.compile(r"(?<=[.!?])[\"'\u201d]?\s+(?=[A-Z\"\u201c])")


def peer_norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[\u201c\u201d\u2018\u2019\"']", "", text)
    return re.sub(r"\s+", " ", text).strip()


def peer_hit(texts: list[str], answers: list[str]) -> bool:
    blob = peer_norm(" ".join(texts))
    return any(peer_norm(a) and peer_norm(a) in blob for a in answers)


def _peer_sentences(text: str) -> list[str]:
    return [s.strip() for p in text.split("\n") for s in _PEER_SPLIT.split(p) if len(s.strip()) > 20]


class Peers:
    """bm25s over the slice's sentences (`bm25-sent`) and over 256-token chunks then their
    sentences (`bm25-chunk-sent`); `answer(question)` gives each variant's best sentences."""

    def __init__(self, documents: list[dict]):
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.sentences = [
            s for d in documents for s in _peer_sentences((d.get("title") or "") + ".\n" + (d.get("text") or ""))
        ]
        self.sentence_index = self._index(self.sentences)
        nodes = SentenceSplitter(chunk_size=256, chunk_overlap=20).get_nodes_from_documents(
            [Document(text=(d.get("title") or "") + "\n\n" + (d.get("text") or "")) for d in documents])
        self.chunks = [n.get_content() for n in nodes]
        self.chunk_index = self._index(self.chunks)

    @staticmethod
    def _index(texts: list[str]):
        import bm25s

        index = bm25s.BM25()
        index.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        return index

    @staticmethod
    def _top(index, texts: list[str], query: str, k: int) -> list[str]:
        import bm25s

        k = min(k, len(texts))
        if k == 0:
            return []
        rows, _ = index.retrieve(bm25s.tokenize([query], stopwords="en", show_progress=False), k=k, show_progress=False)
        return [texts[i] for i in rows[0]]

    def answer(self, question: str, k: int) -> dict[str, tuple[list[str], float]]:
        """Per variant: its best `k` sentences (a smaller K is their first ones) and milliseconds."""
        started = time.perf_counter()
        sentences = self._top(self.sentence_index, self.sentences, question, k)
        middle = time.perf_counter()
        candidates = [s for c in self._top(self.chunk_index, self.chunks, question, TOP_K) for s in _peer_sentences(c)]
        chunk_sentences = self._top(self._index(candidates), candidates, question, k) if candidates else []
        done = time.perf_counter()
        return {
            "bm25-sent": (sentences, (middle - started) * 1000),
            "bm25-chunk-sent": (chunk_sentences, (done - middle) * 1000),
        }


# --------------------------------------------------------------------------------- results


@dataclass
class Reading:
    """What a user reads from an answering system for one question."""

    in_text: bool  # gold answer in the answer text (whole words)
    in_text_peer_rule: bool  # the same, with the peer's normalisation and substring rule
    in_lead: bool  # in the first line, at most LEAD_CHARS characters
    in_citations: bool  # in the cited evidence (at most 5 citations)
    chars: int
    declined: bool
    latency_ms: float
    short_answer: str | None = None  # the bold short answer shown (None: none shown, or the system has none)
    short_em: bool = False  # it matches a gold answer exactly (SQuAD normalisation)
    short_f1: float = 0.0  # its best token F1 with a gold answer
    short_confidence: float | None = None  # the product's probability that its best candidate is right, shown or not


def reading(text: str, answers: list[str], in_citations: bool, declined: bool, latency_ms: float,
            short_answer: str | None = None, short_confidence: float | None = None) -> Reading:
    """Score an answer text as a user reads it (the product's `[n]` markers already removed), its
    first line as the lead, and its short answer by RealTime QA's exact match and token F1."""
    text = (text or "").strip()
    lead = next((line for line in text.splitlines() if line.strip()), "")[:LEAD_CHARS]
    return Reading(contains_answer(text, answers), peer_hit([text], answers), contains_answer(lead, answers),
                   in_citations, len(text), declined, latency_ms, short_answer,
                   exact_match(short_answer, answers), token_f1(short_answer, answers), short_confidence)


@dataclass
class SystemResult:
    """One system's result on one question."""

    hit: bool  # gold answer in the evidence (citations, or the top-k retrieved texts)
    evidence_tokens: int
    latency_ms: float
    doc_ids: list[str] = field(default_factory=list)
    hit_at_2: bool | None = None  # dense baseline only


@dataclass
class QuestionResult:
    """Per question: where the answer is, what each system did, and the product's failure class."""

    id: str
    question: str
    answers: list[str]
    in_slice: bool  # in some slice document as given (title + text)
    in_cleaned: bool  # in some document as the product stores it after cleaning
    product_answer: str
    product_answerable: bool
    product_citations: list[dict]
    product_retrieved_hit: bool  # in the text of the product's top-5 retrieved passages
    product_in_text: bool
    as_of: str | None  # the day the product was asked on (None: today)
    product: SystemResult
    product_top5: SystemResult  # the product's own retrieval, passage texts, k=5 and k=20
    product_top20: SystemResult
    dense: SystemResult | None  # None when the llama-index baselines were left out
    bm25: SystemResult | None
    readings: dict[str, Reading] = field(default_factory=dict)  # product and peers: what a user reads
    failure: str | None = None
    error: str | None = None


FAILURES = {
    "not_in_slice": "gold answer not in the slice at all",
    "lost_in_cleaning": "in the slice, but not in the cleaned text the product indexes",
    "not_retrieved": "in the cleaned slice, but in none of the top-5 retrieved passages",
    "declined_though_retrieved": "retrieved in the top 5, but the product declined",
    "retrieved_not_cited": "retrieved in the top 5, answered, but not in the cited passages",
}


def classify(r: QuestionResult) -> str | None:
    """The product's failure class for a question it missed (answer not in its citations)."""
    if r.product.hit:
        return None
    if not r.in_slice:
        return "not_in_slice"
    if not r.in_cleaned:
        return "lost_in_cleaning"
    if not r.product_retrieved_hit:
        return "not_retrieved"
    if not r.product_answerable:
        return "declined_though_retrieved"
    return "retrieved_not_cited"


def summarize(results: list[QuestionResult]) -> dict[str, Any]:
    """Per system: share of questions with the answer in its evidence, evidence size, latency; failure counts."""
    present = [r for r in results if r.in_slice]
    absent = [r for r in results if not r.in_slice]
    rows = {}
    for name, get, evidence in (
        ("product", lambda r: r.product, "cited passages (<= 5)"),
        ("product retrieval top-5", lambda r: r.product_top5, "retrieved passages (5)"),
        ("product retrieval top-20", lambda r: r.product_top20, "retrieved passages (20)"),
        ("llama-index dense top-2", lambda r: r.dense, "retrieved nodes (2)"),
        ("llama-index dense top-5", lambda r: r.dense, "retrieved nodes (5)"),
        ("BM25 top-5", lambda r: r.bm25, "retrieved nodes (5)"),
    ):
        if any(get(r) is None for r in results):
            continue  # the llama-index baselines were left out
        hit = (lambda r: get(r).hit_at_2) if name.endswith("top-2") else (lambda r: get(r).hit)
        tokens = [get(r).evidence_tokens for r in results]
        if name.endswith("top-2"):
            tokens = []  # not measured separately
        latencies = [get(r).latency_ms for r in results]
        rows[name] = {
            "evidence": evidence,
            "answer_in_evidence": mean([bool(hit(r)) for r in results]),
            "answer_in_evidence_when_in_slice": mean([bool(hit(r)) for r in present]),
            "evidence_tokens_mean": mean(tokens),
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
        }
    rows["product"].update(
        answer_in_text=mean([r.product_in_text for r in results]),
        answer_in_retrieved_5=mean([r.product_retrieved_hit for r in results]),
        declined_when_in_slice=mean([not r.product_answerable for r in present]),
        declined_when_not_in_slice=mean([not r.product_answerable for r in absent]),
        declined=mean([not r.product_answerable for r in results]),
    )
    readers = {}
    for name in results[0].readings if results else ():
        got = [r.readings[name] for r in results]
        shown = [g for g in got if g.short_answer is not None]
        right = sum(g.short_f1 >= RIGHT_F1 for g in shown)
        readers[name] = {
            "answer_in_text": mean([g.in_text for g in got]),
            "answer_in_text_peer_rule": mean([g.in_text_peer_rule for g in got]),
            "answer_in_lead": mean([g.in_lead for g in got]),
            # RealTime QA's metrics over all questions (no short answer shown scores 0), then how
            # often one is shown and how often a shown one is right (token F1 >= 0.5).
            "short_em": mean([g.short_em for g in got]),
            "short_f1": mean([g.short_f1 for g in got]),
            "short_shown": mean([g.short_answer is not None for g in got]),
            "short_right_when_shown": mean([g.short_f1 >= RIGHT_F1 for g in shown]),
            "short_shown_count": len(shown),
            "short_right_count": right,
            # How far the measured share may be from the true one: 28 shown answers leave +-17 points.
            "short_right_interval": wilson(right, len(shown)),
            # The calibrated confidence of the shown answers, to set beside how often they were right.
            "short_confidence_when_shown": mean([g.short_confidence for g in shown if g.short_confidence is not None]),
            # Does a shown answer's confidence mean what it says: per confidence bin, how often right.
            **dict(zip(("short_reliability", "short_ece"), reliability(
                [g.short_confidence for g in shown if g.short_confidence is not None],
                [g.short_f1 >= RIGHT_F1 for g in shown if g.short_confidence is not None]))),
            "chars_median": percentile([g.chars for g in got], 50),
            "answer_in_citations_5": mean([g.in_citations for g in got]),
            "declined": mean([g.declined for g in got]),
            "latency_p50_ms": percentile([g.latency_ms for g in got], 50),
            "latency_p95_ms": percentile([g.latency_ms for g in got], 95),
        }
    failures = Counter(r.failure for r in results if r.failure)
    return {
        "readers": readers,
        "questions": len(results),
        "answer_in_slice": mean([r.in_slice for r in results]),
        "answer_in_cleaned": mean([r.in_cleaned for r in results]),
        "systems": rows,
        "failures": {k: failures.get(k, 0) for k in FAILURES},
        "declined_though_present": sum(1 for r in results if r.in_cleaned and not r.product_answerable),
        "errors": sum(1 for r in results if r.error),
    }


def markdown(summary: dict, meta: dict, results: list[QuestionResult]) -> str:
    """The results page: systems side by side, indexing, and the product's misses by failure class."""
    s = summary["systems"]
    lines = [
        f"# Benchmark: {meta['questions_file']}",
        "",
        f"{summary['questions']} questions" + (f" (from question {meta['skip'] + 1})" if meta.get("skip") else "") + f"; slice: {meta['documents']} of {meta['documents_total']} documents, "
        f"{meta['slice']}. Gold answer present in the slice for {fmt(summary['answer_in_slice'], 'pct', 1)} of the questions "
        f"({fmt(summary['answer_in_cleaned'], 'pct', 1)} after the product's cleaning). Product mode: {meta['mode']}; "
        f"asked as of {meta['as_of']}.",
        "",
        "What a user reads (answer text without `[n]` markers; lead = its first line, at most "
        f"{LEAD_CHARS} characters; a peer's text is its K sentences, which are also its citations). Short answer: "
        "the bold answer shown, scored by RealTime QA's exact match and token F1 over all questions (none shown "
        f"scores 0); shown = share of questions with one; right when shown = token F1 >= {RIGHT_F1}. The peers show none (—):",
        "",
        "| system | short answer EM | … F1 | shown | right when shown | answer in text | … peer rule | answer in lead | chars read (median) | answer in citations@5 | declined | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in summary["readers"].items():
        shown = row["short_shown"] > 0
        lines.append(
            f"| {name} | {fmt(row['short_em'], 'pct', 1) if shown else '—'} | {fmt(row['short_f1'], 'pct', 1) if shown else '—'} | "
            f"{fmt(row['short_shown'], 'pct', 1) if shown else '—'} | {fmt(row['short_right_when_shown'], 'pct', 1) if shown else '—'} | "
            f"{fmt(row['answer_in_text'], 'pct', 1)} | {fmt(row['answer_in_text_peer_rule'], 'pct', 1)} | "
            f"{fmt(row['answer_in_lead'], 'pct', 1)} | {fmt(row['chars_median'], 'n')} | {fmt(row['answer_in_citations_5'], 'pct', 1)} | "
            f"{fmt(row['declined'], 'pct', 1)} | {fmt(row['latency_p50_ms'], 'ms')} | {fmt(row['latency_p95_ms'], 'ms')} |"
        )
    for name, row in summary["readers"].items():
        if row["short_shown_count"]:
            low, high = row["short_right_interval"]
            lines += ["", f"{name}: short answers shown for {row['short_shown_count']} questions, right for {row['short_right_count']} "
                          f"(95% interval {fmt(low, 'pct')}-{fmt(high, 'pct')}); their mean confidence "
                          f"{fmt(row['short_confidence_when_shown'], 'score')}; expected calibration error "
                          f"{fmt(row['short_ece'], 'score')}."]
            if row["short_reliability"]:
                lines += ["", "| confidence | " + " | ".join(f"{b['low']:.1f}-{b['high']:.1f}" for b in row["short_reliability"]) + " |",
                          "|---|" + "---:|" * len(row["short_reliability"]),
                          "| shown | " + " | ".join(str(b["count"]) for b in row["short_reliability"]) + " |",
                          "| mean confidence | " + " | ".join(f"{b['confidence']:.2f}" for b in row["short_reliability"]) + " |",
                          "| right | " + " | ".join(fmt(b["right"], "pct") for b in row["short_reliability"]) + " |"]
    lines += [
        "",
        "Evidence (what each system cites or retrieves):",
        "",
        "| system | evidence | answer in evidence | … when answer in slice | answer in answer text | declined (answer in slice) | declined (not in slice) | evidence tokens / q | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in s.items():
        lines.append(
            f"| {name} | {row['evidence']} | {fmt(row['answer_in_evidence'], 'pct', 1)} | {fmt(row['answer_in_evidence_when_in_slice'], 'pct', 1)} | "
            f"{fmt(row.get('answer_in_text'), 'pct', 1)} | {fmt(row.get('declined_when_in_slice'), 'pct', 1)} | {fmt(row.get('declined_when_not_in_slice'), 'pct', 1)} | "
            f"{fmt(row['evidence_tokens_mean'], 'n')} | {fmt(row['latency_p50_ms'], 'ms')} | {fmt(row['latency_p95_ms'], 'ms')} |"
        )
    p = s["product"]
    lines += [
        "",
        f"Product retrieval alone: answer in the top-5 retrieved passages for {fmt(p['answer_in_retrieved_5'], 'pct', 1)} of the questions. "
        "Latency: product = full `ask` (retrieval and answer); retrieval rows = retrieval only. "
        "A product passage is a retrieved chunk read with its neighbouring chunks (`RAG_CONTEXT_CHUNKS`).",
        "",
        "| indexing | documents | chunks | tokens | seconds | tokens/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ix in meta["indexing"].items():
        lines.append(f"| {name} | {ix['documents']} | {ix['chunks']} | {ix['tokens']:,} | {ix['seconds']:.1f} | {ix['tokens_per_s']:,.0f} |")
    lines += [
        "",
        f"Peak memory (max RSS of the process): {meta['peak_rss_mb']:.0f} MB. Total run time {meta['seconds']:.0f} s.",
        "",
        "## Product misses by failure class",
        "",
        "| class | questions |",
        "|---|---:|",
    ]
    for key, label in FAILURES.items():
        lines.append(f"| {key}: {label} | {summary['failures'][key]} |")
    lines += [
        "",
        f"Declined though the answer is in the cleaned slice (any class): {summary['declined_though_present']}.",
    ]
    for key in FAILURES:
        examples = [r for r in results if r.failure == key][:EXAMPLES_PER_CLASS]
        if not examples:
            continue
        lines += ["", f"### {key}", ""]
        for r in examples:
            cited = ", ".join(sorted({c["doc_id"] for c in r.product_citations})) or "nothing (declined)"
            lines.append(f"- `{r.id}` {r.question} — gold: {' / '.join(r.answers)}; cited: {cited}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- run


def _product_evidence(answer, search) -> tuple[str, int, list[dict]]:
    """Each cited quote plus the passage it was cited from (at most TOP_K citations)."""
    from rag.ingest.chunking import count_tokens

    passages: dict[str, str] = {}  # distinct cited passages (several quotes may share one)
    parts, cites = [], []
    for c in answer.citations[:TOP_K]:
        window = search.window(c.chunk_id) if c.chunk_id else None
        passage = window.text if window is not None else c.quote
        passages[c.chunk_id or c.quote] = passage
        parts.append(c.quote + "\n" + passage)
        cites.append({"number": c.number, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "quote": c.quote[:500]})
    return "\n\n".join(parts), sum(count_tokens(t) for t in passages.values()), cites


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _retrieved(retriever, question: str) -> tuple[list, float]:
    started = time.perf_counter()
    nodes = retriever.retrieve(question)
    return nodes, (time.perf_counter() - started) * 1000


def _paths(value: str | Path | list) -> list[Path]:
    return [Path(p) for p in value] if isinstance(value, (list, tuple)) else [Path(value)]


def in_split(question: dict, split_file: str | Path, name: str) -> bool:
    """Whether a question's date falls in one of the date ranges of split `name` (a JSON object
    of names to [first, last] ISO date pairs, as benchmarks/split.json)."""
    day = parse_date(question.get("date"))
    ranges = json.loads(Path(split_file).read_text()).get(name)
    if ranges is None:
        raise RagError(f"No split {name!r} in {split_file}.")
    return day is not None and any(dt.date.fromisoformat(lo) <= day <= dt.date.fromisoformat(hi) for lo, hi in ranges)


def _held_share(question: dict, documents: list[dict], held: set[str], days: int = WINDOW_DAYS) -> float:
    """The share of a question's window (the articles of the `days` up to its date) in `held`."""
    day = parse_date(question.get("date"))
    window = [d["id"] for d in documents
              if day and (published := parse_date(d.get("published"))) and 0 <= (day - published).days <= days]
    return sum(i in held for i in window) / len(window) if window else 0.0


def run_bench(documents_path: str | Path | list, questions_path: str | Path | list, limit: int | None = None,
              index_dir: str | Path | None = None, out: str | Path = "benchmarks/results", log=print, skip: int = 0,
              use_as_of: bool = True, split: str | None = None, split_file: str | Path = "benchmarks/split.json",
              baselines: bool = True, as_indexed: float | None = None) -> dict:
    """Run the benchmark; write `<out>/bench-n<N>.md` and `.json`; return the summary. With
    `use_as_of` the product is asked each question as of its date (else as of today). Several
    question and document files are read together (a document id seen twice keeps its first
    record); `split` keeps the questions dated in that split of `split_file` (and only their
    articles); `baselines=False` leaves out the llama-index retrievers (which embed every article
    a second time), keeping the product and the plain extractive peers. `as_indexed` (a share)
    asks over the kept `index_dir` as it stands, without indexing (a snapshot of an index still
    being built): only the questions for which it holds at least that share of their window's
    articles, and only its articles for every system."""
    from rag.ingest.chunking import count_tokens
    from rag.config import Config
    from rag.service import Service

    run_started = time.perf_counter()
    questions = [q for path in _paths(questions_path) for q in read_jsonl(path) if q.get("question") and q.get("answers")]
    if split:
        questions = [q for q in questions if in_split(q, split_file, split)]
    questions = questions[skip:]
    if limit:
        questions = questions[:limit]
    if not questions:
        raise RagError(f"No usable questions in {questions_path} (each needs 'question' and 'answers').")
    seen: set[str] = set()
    all_docs = []
    for path in _paths(documents_path):
        for d in read_jsonl(path):
            if d.get("id") and (d.get("text") or "").strip() and d["id"] not in seen:
                seen.add(d["id"])
                all_docs.append(d)
    documents, how = select_slice(all_docs, questions) if limit or skip or split else (all_docs, "all documents")
    if not documents:
        raise RagError("The document slice is empty.")
    log(f"{len(questions)} questions; {len(documents)} of {len(all_docs)} documents ({how}); peak RSS {peak_rss_mb():.0f} MB")

    workdir = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        corpus = workdir / "corpus"
        corpus.mkdir()
        write_slice(corpus, documents)
        config = Config.from_env().with_(corpus_dir=corpus, index_dir=Path(index_dir) if index_dir else workdir / "index")
        service = Service(config)

        # Product indexing.
        if as_indexed is None:
            summary = service.index()
        else:
            held = set(service.search_index.documents)
            questions = [q for q in questions if _held_share(q, documents, held) >= as_indexed]
            documents = [d for d in documents if d["id"] in held]
            if not questions:
                raise RagError(f"No question has {as_indexed:.0%} of its articles in {index_dir}.")
            how += f"; as indexed: the {len(documents)} of them in the index, {len(questions)} questions holding {as_indexed:.0%} of theirs"
            log(f"as indexed: {len(documents)} articles, {len(questions)} questions")
            summary = SimpleNamespace(documents=len(documents), chunks=service.search_index.stats.chunks, seconds=0.0, embedded_chunks=0)
        search = service.search_index
        cleaned = {doc_id: normalize(doc.title + "\n" + doc.text) for doc_id, doc in search.documents.items()}
        product_tokens = sum(count_tokens(doc.text) for doc in search.documents.values())
        indexing = {
            "product": {
                "documents": summary.documents, "chunks": summary.chunks, "tokens": product_tokens,
                "seconds": summary.seconds, "tokens_per_s": product_tokens / summary.seconds if summary.seconds else 0.0,
                "embedded_chunks": summary.embedded_chunks,
            }
        }
        log(f"product index: {summary.documents} documents, {summary.chunks} chunks, {product_tokens:,} tokens "
            f"in {summary.seconds:.1f} s ({indexing['product']['tokens_per_s']:,.0f} tokens/s; {summary.embedded_chunks} chunks embedded); peak RSS {peak_rss_mb():.0f} MB")

        # Baselines, with the same embedding model instance.
        base = build_baselines(documents, service.embedder) if baselines else None
        if base is not None:
            indexing["llama-index default (SentenceSplitter 1024/200, dense)"] = {
                "documents": len(documents), "chunks": base.nodes, "tokens": base.tokens,
                "seconds": base.seconds, "tokens_per_s": base.tokens / max(base.seconds, 1e-9),
            }
            log(f"llama-index index: {base.nodes} nodes, {base.tokens:,} tokens in {base.seconds:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
        peers = Peers(documents)
        log(f"peers: {len(peers.sentences):,} sentences, {len(peers.chunks):,} chunks")

        raw = [normalize((d.get("title") or "") + "\n" + (d.get("text") or "")) for d in documents]
        results: list[QuestionResult] = []
        for n, q in enumerate(questions, 1):
            answers = [str(a) for a in q["answers"]]
            question = str(q["question"])
            in_slice = any(contains_answer(t, answers, normalized=True) for t in raw)
            in_cleaned = any(contains_answer(t, answers, normalized=True) for t in cleaned.values())
            as_of = parse_date(q.get("date")) if use_as_of else None
            error = None
            readings = {}
            try:
                answer = service.ask(question, top_k=TOP_K, as_of=as_of)
                evidence, ev_tokens, cites = _product_evidence(answer, search)
                product = SystemResult(contains_answer(evidence, answers), ev_tokens, answer.latency_ms,
                                       [c["doc_id"] for c in cites])
                answer_text, answerable = answer.text, answer.answerable
                in_text = contains_answer(MARKER.sub(" ", answer.text), answers)
                readings["product"] = reading(
                    MARKER.sub("", answer.text), answers, product.hit, not answerable, answer.latency_ms, answer.short_answer,
                    answer.short_answer_confidence,
                )
                query = question
                top = {}
                for k in (TOP_K, 20):
                    started = time.perf_counter()
                    passages = service.retrieve(query, k, as_of=as_of)
                    top[k] = SystemResult(any(contains_answer(p.text, answers) for p in passages),
                                          sum(count_tokens(p.text) for p in passages), (time.perf_counter() - started) * 1000,
                                          [p.doc_id for p in passages])
            except RagError as exc:
                error = str(exc)
                product = SystemResult(False, 0, 0.0)
                top = {TOP_K: SystemResult(False, 0, 0.0), 20: SystemResult(False, 0, 0.0)}
                answer_text, answerable, cites, in_text = "", False, [], False
                readings["product"] = reading("", answers, False, True, 0.0)
            retrieved_hit = top[TOP_K].hit
            for variant, (sentences, ms) in peers.answer(question, max(PEER_K)).items():
                for k in PEER_K:
                    text = "\n".join(sentences[:k])
                    readings[f"{variant} K={k}"] = reading(text, answers, contains_answer(text, answers), False, ms)

            dense = bm25 = None
            if base is not None:
                nodes, dense_ms = _retrieved(base.dense, question)
                texts = [nw.node.get_content() for nw in nodes]
                dense = SystemResult(
                    any(contains_answer(t, answers) for t in texts[:TOP_K]), sum(count_tokens(t) for t in texts[:TOP_K]), dense_ms,
                    [nw.node.ref_doc_id or "" for nw in nodes], hit_at_2=any(contains_answer(t, answers) for t in texts[:2]),
                )
                nodes, bm25_ms = _retrieved(base.bm25, question)
                texts = [nw.node.get_content() for nw in nodes]
                bm25 = SystemResult(any(contains_answer(t, answers) for t in texts[:TOP_K]), sum(count_tokens(t) for t in texts[:TOP_K]),
                                    bm25_ms, [nw.node.ref_doc_id or "" for nw in nodes])
            r = QuestionResult(
                id=str(q.get("id", n)), question=question, answers=answers, in_slice=in_slice, in_cleaned=in_cleaned,
                product_answer=answer_text, product_answerable=answerable, product_citations=cites,
                product_retrieved_hit=retrieved_hit, product_in_text=in_text,
                as_of=as_of.isoformat() if as_of else None, product=product,
                product_top5=top[TOP_K], product_top20=top[20], dense=dense, bm25=bm25,
                readings=readings, error=error,
            )
            r.failure = classify(r)
            results.append(r)
            if n % 10 == 0 or n == len(questions):
                log(f"  {n}/{len(questions)} questions asked ({time.perf_counter() - run_started:.0f} s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    summary_data = summarize(results)
    meta = {
        "documents_file": " ".join(map(str, _paths(documents_path))), "questions_file": " ".join(map(str, _paths(questions_path))),
        "split": split, "limit": limit, "skip": skip, "as_indexed": as_indexed,
        "documents": len(documents), "documents_total": len(all_docs), "slice": how, "window_days": WINDOW_DAYS,
        "mode": service.mode, "top_k": TOP_K, "indexing": indexing,
        "as_of": "each question's date" if use_as_of else "today (--without-as-of)",
        "peak_rss_mb": peak_rss_mb(),
        "seconds": time.perf_counter() - run_started,
        "command": "python -m rag bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else None,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-n{len(questions)}" + (f"-{split}" if split else "") + (f"-from{skip}" if skip else "")
    md = markdown(summary_data, meta, results)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    (out / f"{stem}.json").write_text(
        json.dumps({"meta": meta, "summary": summary_data, "questions": [asdict(r) for r in results]}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    log("")
    log(md)
    log(f"Written: {out / (stem + '.md')} and {out / (stem + '.json')}")
    return {"meta": meta, "summary": summary_data}
