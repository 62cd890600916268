"""What the trained models' scripts share (benchmarks/ranker/train.py, benchmarks/answers/train.py):
the questions of the fixed split, and the product indexed over their articles.

The split is fixed by question date in benchmarks/split.json: 2022 June-August and 2024
January-August train; 2022 September-December and 2024 September-December are held out. Several
question files (realtimeqa-2022 and -2024) are read together; a question's articles are the
`rag bench` slice for it (the 14 days up to its date), from the document files given.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.evals.bench import WINDOW_DAYS, parse_date, read_jsonl, select_slice, write_slice  # noqa: E402
from rag.service import Service  # noqa: E402

SPLIT = ROOT / "benchmarks" / "split.json"
TOP_K = 5


def split_of(question: dict) -> str | None:
    """"train", "heldout", or None (a date outside both, or none) for one question, by its date."""
    day = parse_date(question.get("date"))
    if day is None:
        return None
    split = json.loads(SPLIT.read_text())
    for name in ("train", "heldout"):
        if any(dt.date.fromisoformat(lo) <= day <= dt.date.fromisoformat(hi) for lo, hi in split[name]):
            return name
    return None


def split_questions(questions_paths: list[Path], name: str = "train") -> list[dict]:
    """The usable questions (a question and gold answers) of split `name`, from every file given."""
    return [
        q for path in questions_paths for q in read_jsonl(path)
        if q.get("question") and q.get("answers") and split_of(q) == name
    ]


def training_questions(questions_paths: list[Path]) -> list[dict]:
    return split_questions(questions_paths, "train")


def read_documents(documents_paths: list[Path]) -> list[dict]:
    """Documents with text from every file given; an id seen twice keeps its first record."""
    seen: set[str] = set()
    docs = []
    for path in documents_paths:
        for d in read_jsonl(path):
            if d.get("id") and (d.get("text") or "").strip() and d["id"] not in seen:
                seen.add(d["id"])
                docs.append(d)
    return docs


def training_service(questions: list[dict], documents_paths: list[Path], index_dir: Path, **settings) -> Service:
    """The product (with `settings` changed) over the questions' articles, indexed in `index_dir`
    (kept: a second run embeds nothing)."""
    docs = read_documents(documents_paths)
    documents, how = select_slice(docs, questions)
    corpus = index_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    write_slice(corpus, documents)
    service = Service(Config.from_env().with_(corpus_dir=corpus, index_dir=index_dir / "index", **settings))
    started = time.perf_counter()
    summary = service.index()
    print(f"{len(questions)} questions, {len(documents)} articles ({how}); indexed {summary.chunks} chunks "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return service


def indexed_service(questions: list[dict], documents_paths: list[Path], index_dir: Path,
                    min_share: float = 0.9) -> tuple[Service, list[dict]]:
    """The product over an index of `training_service`'s layout as it stands, without indexing (a
    snapshot of one still being built), and the questions for which it holds at least `min_share`
    of the articles of their window (the slice's articles of the 14 days up to their date; what
    the indexer skips, a near-duplicate say, is never held)."""
    docs = read_documents(documents_paths)
    documents, _ = select_slice(docs, questions)
    service = Service(Config.from_env().with_(corpus_dir=index_dir / "corpus", index_dir=index_dir / "index"))
    held = set(service.search_index.documents)
    published = [(d["id"], parse_date(d.get("published"))) for d in documents]
    covered = []
    for q in questions:
        day = parse_date(q.get("date"))
        window = [i for i, p in published if p and day and 0 <= (day - p).days <= WINDOW_DAYS]
        if window and sum(i in held for i in window) >= min_share * len(window):
            covered.append(q)
    print(f"{len(covered)} of {len(questions)} questions have {min_share:.0%} of their articles in the index "
          f"({len(held)} of {len(documents)} articles indexed)", file=sys.stderr)
    return service, covered
