"""Train the answer-sentence ranker (rag/answer/ranking.py) on the training split of a news-QA set.

    .venv/bin/python benchmarks/ranker/train.py \
        --documents /work/shared/bench/realtimeqa-2022/documents.jsonl.gz /work/shared/bench/realtimeqa-2024/documents.jsonl.gz \
        --questions /work/shared/bench/realtimeqa-2022/questions.jsonl /work/shared/bench/realtimeqa-2024/questions.jsonl \
        --index /tmp/ranker-index

The training questions and their articles: benchmarks/training.py (the split in split.json).

For each training question the product retrieves and scores sentences exactly as when answering
(`Service.evidence`, as of the question's date); a sentence is a positive when it holds a gold
answer (the bench's whole-word rule). Models are compared by cross-validation over blocks of whole
question dates (benchmarks/ranker/passages.py), on what a reader sees: the gold answer in the top
sentence, and in the top five. The sentences come from passages the passage ranker ordered, as
when answering, so train the passage ranker first.
The chosen logistic regression is refit on every training question and written as JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passages import date_blocks, open_service  # noqa: E402
from training import ROOT, SPLIT, TOP_K, training_questions  # noqa: E402

from rag.answer.linear import Model  # noqa: E402
from rag.answer.question import analyse  # noqa: E402
from rag.answer.ranking import FEATURES, POOL, features, shipped_model  # noqa: E402
from rag.evals.bench import contains_answer, parse_date  # noqa: E402

MODEL = ROOT / "rag" / "answer" / "ranker.json"


def collect(questions: list[dict], args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels, question numbers (for grouping) and date blocks (folds), over the training questions."""
    # The ranker orders sentences before any entity is read, so it learns without them.
    service = open_service(questions, args, ranker=False, short_answer=False)
    blocks = date_blocks(questions)
    rows, labels, groups, folds = [], [], [], []
    for n, q in enumerate(questions):
        support = service.evidence(str(q["question"]), top_k=TOP_K, as_of=parse_date(q.get("date")))
        x = features(analyse(str(q["question"])), support)
        if not len(x):
            continue
        answers = [str(a) for a in q["answers"]]
        rows.append(x)
        labels.append([contains_answer(s.text, answers) for s in support.sentences[:POOL]])
        groups.append(np.full(len(x), n))
        folds.append(np.full(len(x), blocks[n]))
    return np.vstack(rows), np.concatenate(labels).astype(int), np.concatenate(groups), np.concatenate(folds)


def reader_metrics(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Over questions with any positive sentence: the answer in the best sentence, in the best five."""
    top1 = top5 = n = 0
    for g in np.unique(groups):
        mask = groups == g
        if not y[mask].any():
            continue
        order = np.argsort(-scores[mask], kind="stable")
        n += 1
        top1 += int(y[mask][order[0]])
        top5 += int(y[mask][order[:5]].any())
    return {"questions": n, "top1": top1 / max(n, 1), "top5": top5 / max(n, 1)}


def cross_validate(make, x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: np.ndarray) -> dict[str, float]:
    """Reader metrics of out-of-fold scores, each fold a block of whole question dates."""
    scores = np.zeros(len(y))
    for f in np.unique(folds):
        test = folds == f
        model = make().fit(x[~test], y[~test])
        scores[test] = model.predict_proba(x[test])[:, 1]
    return reader_metrics(scores, y, groups)


def main() -> int:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--index", type=Path, help="folder for the slice and its index (kept; default: temporary)")
    parser.add_argument("--as-is", action="store_true", help="use the index in --index as it is (index nothing)")
    parser.add_argument("--C", type=float, help="the regularisation to ship (default: the best top1, then top5, in cross-validation)")
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args()

    questions = training_questions(args.questions)
    x, y, groups, folds = collect(questions, args)
    print(f"{len(y)} sentences, {y.sum()} holding an answer, {len(np.unique(groups))} questions", file=sys.stderr)

    hand = reader_metrics(x[:, FEATURES.index("score")], y, groups)
    print(f"hand-made score: {hand}", file=sys.stderr)
    shipped = shipped_model()
    if shipped is not None:  # the weights in the repository, trained before: not cross-validated here
        print(f"shipped model: {reader_metrics(shipped.probability(x), y, groups)}", file=sys.stderr)
    candidates = {
        f"logistic C={c}": (lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)))
        for c in (0.01, 0.1, 1.0)
    }
    candidates["boosted trees"] = lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15)
    results = {name: cross_validate(make, x, y, groups, folds) for name, make in candidates.items()}
    for name, metrics in results.items():
        print(f"{name}: {metrics}", file=sys.stderr)

    linear = {k: v for k, v in results.items() if k.startswith("logistic")}
    # The first line a reader sees is the top sentence: the best top1 first, then the best top5.
    chosen = f"logistic C={args.C}" if args.C else max(
        linear, key=lambda k: (round(linear[k]["top1"], 4), round(linear[k]["top5"], 4), -float(k.split("=")[1])))
    pipeline = candidates[chosen]().fit(x, y)
    scaler, regression = pipeline[0], pipeline[-1]
    model = Model(scaler.mean_, np.where(scaler.scale_ > 0, scaler.scale_, 1.0), regression.coef_[0], float(regression.intercept_[0]))
    args.out.write_text(model.to_json(
        FEATURES,
        trained_on=f"{len(np.unique(groups))} training questions of {SPLIT.relative_to(ROOT)}, {len(y)} sentences",
        model=chosen, cross_validation={"hand-made score": hand, **results},
    ) + "\n")
    print(f"wrote {args.out} ({chosen})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
