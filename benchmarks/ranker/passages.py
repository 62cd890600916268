"""Train the passage ranker (rag/retrieval/ordering.py) on the training questions of a news-QA set.

    .venv/bin/python benchmarks/ranker/passages.py \
        --documents /work/shared/bench/realtimeqa-2022/documents.jsonl.gz /work/shared/bench/realtimeqa-2024/documents.jsonl.gz \
        --questions /work/shared/bench/realtimeqa-2022/questions.jsonl /work/shared/bench/realtimeqa-2024/questions.jsonl \
        --index /tmp/train-index [--heldout-index /tmp/heldout-index]

For each training question (benchmarks/training.py, split.json) the product searches as of the
question's date; the first `POOL` fused candidates, each read with its window as a passage, are
the rows, and a row is a positive when its passage holds a gold answer (the bench's whole-word
rule). Cross-validation is over blocks of whole question dates (questions of one date share their
articles): a model is chosen on the candidates' order (the answer among the first five of the
reordered pool), then each fold's model is put into the product's search and recall@5 (the gold
answer in the five passages `retrieve` returns) is measured against fused order on the same
questions. The chosen logistic regression is refit on every training question and written as JSON.
`--heldout-index` reports recall@5 once on the held-out dates with the written model
(`--heldout-only`: with the model already in `--out`, training nothing). `--as-is` uses the
folders' indexes as they stand (a copy of an index still being built), `--rows` keeps the
collected rows for another run, `--trees` also cross-validates boosted trees.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import ROOT, SPLIT, split_questions, training_questions, training_service  # noqa: E402

from rag.answer.linear import Model  # noqa: E402
from rag.evals.bench import contains_answer, parse_date  # noqa: E402
from rag.retrieval.ordering import FEATURES, POOL  # noqa: E402
from rag.retrieval.search import Filters  # noqa: E402

MODEL = ROOT / "rag" / "retrieval" / "passage_ranker.json"
FOLDS = 5


def open_service(questions: list[dict], args: argparse.Namespace, index_dir: Path | None = None, **settings):
    """The product over the questions' articles (`training_service`), or with `--as-is` the index
    already in the folder as it stands, nothing indexed (a copy of an index still being built)."""
    index_dir = index_dir or args.index or Path(tempfile.mkdtemp(prefix="ranker-"))
    if getattr(args, "as_is", False):
        from rag.config import Config
        from rag.service import Service

        return Service(Config.from_env().with_(corpus_dir=index_dir / "corpus", index_dir=index_dir / "index", **settings))
    return training_service(questions, args.documents, index_dir, **settings)


def date_blocks(questions: list[dict], folds: int = FOLDS) -> np.ndarray:
    """Each question's fold: the question dates, in order, cut into `folds` runs of whole dates."""
    days = sorted({str(q.get("date")) for q in questions})
    block = {day: min(folds - 1, i * folds // len(days)) for i, day in enumerate(days)}
    return np.array([block[str(q.get("date"))] for q in questions])


def collect(service, questions: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per question: the candidates' feature rows and labels (answer in the passage)."""
    search = service.search_index
    rows, labels = [], []
    for q in questions:
        filters = Filters.checked(as_of=parse_date(q.get("date")))
        passages, x = search.candidate_rows(str(q["question"]), filters)
        answers = [str(a) for a in q["answers"]]
        rows.append(x)
        labels.append(np.array([contains_answer(p.text, answers) if p else False for p in passages], dtype=int))
    return rows, labels


def recall(service, questions: list[dict], model: Model | None, top_k: int = 5) -> list[bool]:
    """Whether a gold answer is in the `top_k` passages the product's search returns, per question."""
    search = service.search_index
    search.passage_model = model
    hits = []
    for q in questions:
        passages = search.search(str(q["question"]), top_k, Filters.checked(as_of=parse_date(q.get("date"))))
        hits.append(any(contains_answer(p.text, [str(a) for a in q["answers"]]) for p in passages))
    return hits


def fit(make, rows: list[np.ndarray], labels: list[np.ndarray]) -> Model:
    x, y = np.vstack(rows), np.concatenate(labels)
    pipeline = make().fit(x, y)
    scaler, regression = pipeline[0], pipeline[-1]
    return Model(scaler.mean_, np.where(scaler.scale_ > 0, scaler.scale_, 1.0), regression.coef_[0], float(regression.intercept_[0]))


def head_recall(scores: list[np.ndarray], labels: list[np.ndarray], k: int = 5) -> float:
    """Share of questions with the answer among the first `k` candidates when ordered by `scores`."""
    return float(np.mean([y[np.argsort(-s, kind="stable")[:k]].any() for s, y in zip(scores, labels)]))


def main() -> int:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--index", type=Path, help="folder for the training slice and its index (kept; default: temporary)")
    parser.add_argument("--heldout-index", type=Path, help="folder for the held-out slice and its index: report recall@5 there once")
    parser.add_argument("--as-is", action="store_true", help="use the indexes in the folders as they are (index nothing)")
    parser.add_argument("--heldout-only", action="store_true", help="train nothing: report the model in --out on --heldout-index")
    parser.add_argument("--rows", type=Path, help="keep the collected rows in this .npz file (read back when it exists)")
    parser.add_argument("--trees", action="store_true", help="also cross-validate boosted trees, for comparison")
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args()

    if args.heldout_only:
        return heldout_report(args, Model.from_dict(json.loads(args.out.read_text())))
    questions = training_questions(args.questions)
    service = open_service(questions, args)
    service.search_index.passage_model = None
    started = time.perf_counter()
    if args.rows and args.rows.exists():
        kept = np.load(args.rows)
        rows = np.split(kept["x"], kept["cuts"])
        labels = np.split(kept["y"], kept["cuts"])
    else:
        rows, labels = collect(service, questions)
        if args.rows:
            np.savez(args.rows, x=np.vstack(rows), y=np.concatenate(labels), cuts=np.cumsum([len(y) for y in labels])[:-1])
    fold = date_blocks(questions)
    print(f"{len(questions)} questions, {sum(len(y) for y in labels)} candidates, answer among them for "
          f"{np.mean([y.any() for y in labels]):.1%}; {time.perf_counter() - started:.0f} s", file=sys.stderr)

    fused_order = [-np.arange(len(y), dtype=float) for y in labels]
    report: dict = {"questions": len(questions), "answer_in_pool": float(np.mean([y.any() for y in labels])),
                    "pool_top5_fused": head_recall(fused_order, labels)}
    makes = {f"logistic C={c}": (lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000)))
             for c in (0.01, 0.1, 1.0)}
    for name, make in makes.items():
        scores: list[np.ndarray] = [np.zeros(0)] * len(labels)
        for f in range(FOLDS):
            train = [i for i in range(len(labels)) if fold[i] != f]
            model = fit(make, [rows[i] for i in train], [labels[i] for i in train])
            for i in np.flatnonzero(fold == f):
                scores[i] = model.probability(rows[i]) if len(rows[i]) else np.zeros(0)
        report[f"pool_top5 {name}"] = head_recall(scores, labels)
    if args.trees:  # for comparison only: the product reads a linear model with numpy
        scores = [np.zeros(0)] * len(labels)
        for f in range(FOLDS):
            train = [i for i in range(len(labels)) if fold[i] != f and len(rows[i])]
            gbm = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15)
            gbm.fit(np.vstack([rows[i] for i in train]), np.concatenate([labels[i] for i in train]))
            for i in np.flatnonzero(fold == f):
                scores[i] = gbm.predict_proba(rows[i])[:, 1] if len(rows[i]) else np.zeros(0)
        report["pool_top5 boosted trees"] = head_recall(scores, labels)
    for key, value in report.items():
        print(f"{key}: {value}", file=sys.stderr)

    chosen = max(makes, key=lambda k: (report[f"pool_top5 {k}"], -float(k.split("=")[1])))
    # Recall@5 of the product's search, each fold with the model trained on the other folds.
    before = recall(service, questions, None)
    after: list[bool] = [False] * len(questions)
    for f in range(FOLDS):
        train = [i for i in range(len(labels)) if fold[i] != f]
        model = fit(makes[chosen], [rows[i] for i in train], [labels[i] for i in train])
        test = list(np.flatnonzero(fold == f))
        for i, hit in zip(test, recall(service, [questions[i] for i in test], model)):
            after[i] = hit
    report["chosen"] = chosen
    report["recall@5 cv"] = {"fused": float(np.mean(before)), "ranker": float(np.mean(after)),
                             "per_fold": [(float(np.mean([before[i] for i in np.flatnonzero(fold == f)])),
                                           float(np.mean([after[i] for i in np.flatnonzero(fold == f)]))) for f in range(FOLDS)]}
    print(f"recall@5 (date-blocked CV, {chosen}): {report['recall@5 cv']}", file=sys.stderr)

    model = fit(makes[chosen], rows, labels)
    args.out.write_text(model.to_json(
        FEATURES, trained_on=f"{len(questions)} training questions of {SPLIT.relative_to(ROOT)}, {sum(len(y) for y in labels)} candidates",
        model=chosen, cross_validation=report,
    ) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)

    return heldout_report(args, model) if args.heldout_index else 0


def heldout_report(args: argparse.Namespace, model: Model) -> int:
    """Recall@5 on the held-out dates, fused order and `model`, on the same questions and index."""
    heldout = split_questions(args.questions, "heldout")
    other = open_service(heldout, args, args.heldout_index)
    fused, ranked = recall(other, heldout, None), recall(other, heldout, model)
    result = {"questions": len(heldout), "fused": float(np.mean(fused)), "ranker": float(np.mean(ranked)),
              "gained": int(sum(b and not a for a, b in zip(fused, ranked))), "lost": int(sum(a and not b for a, b in zip(fused, ranked)))}
    print(f"held out recall@5: {result}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
