"""What the trained models' scripts share (benchmarks/ranker/train.py, benchmarks/answers/train.py):
the training questions of the fixed split, and the product indexed over their articles.

The split is fixed in benchmarks/ranker/split.json: the 239 questions dated before 2022-08-12
train; every later question is held out, so a held-out run (`rag bench --skip 240 ...`) asks
about later news than any training question. Only the training questions' ids are read from the
split; their articles are the `rag bench` slice for them (the 14 days up to each question date).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.evals.bench import read_jsonl, select_slice  # noqa: E402
from rag.service import Service  # noqa: E402

SPLIT = ROOT / "benchmarks" / "ranker" / "split.json"
TOP_K = 5


def training_questions(questions_path: Path) -> list[dict]:
    train_ids = set(json.loads(SPLIT.read_text())["train_ids"])
    return [q for q in read_jsonl(questions_path) if str(q.get("id")) in train_ids]


def training_service(questions: list[dict], documents_path: Path, index_dir: Path, **settings) -> Service:
    """The product (with `settings` changed) over the training questions' articles, indexed in
    `index_dir` (kept: a second run embeds nothing)."""
    docs = [d for d in read_jsonl(documents_path) if d.get("id") and (d.get("text") or "").strip()]
    documents, how = select_slice(docs, questions)
    corpus = index_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    with (corpus / "slice.jsonl").open("w", encoding="utf-8") as handle:
        for d in documents:
            handle.write(json.dumps({k: d.get(k) for k in ("id", "title", "url", "published", "text") if d.get(k)}) + "\n")
    service = Service(Config.from_env().with_(corpus_dir=corpus, index_dir=index_dir / "index", **settings))
    started = time.perf_counter()
    summary = service.index()
    print(f"{len(questions)} questions, {len(documents)} articles ({how}); indexed {summary.chunks} chunks "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return service
