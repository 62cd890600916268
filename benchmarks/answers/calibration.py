"""How well the short-answer scorer's probability reads, over every question's best candidate.

    .venv/bin/python benchmarks/answers/calibration.py --documents ... --questions ... \
        --index HELDOUT [--split heldout]

`rag bench` scores the bold answers shown, about one question in twelve: on 941 held-out questions
that is some 80 answers, and an expected calibration error over 80 answers moves by about 0.03 from
sampling alone. Every question that asks for a name, number or date and is not declined has a best
candidate with a probability, shown or not (`best_answer`); whether it is right (token F1 >= 0.5
with a gold answer, RealTime QA's metric) is known for each. This reports, over those, a
reliability table in tenths and the expected calibration error, overall and per year, and the same
for the shown ones. Report only: it trains and chooses nothing, so it may read the held-out dates.
`--index` is a folder of benchmarks/training.py's layout (corpus/ and index/), used as it stands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import indexed_service, split_questions  # noqa: E402

from rag.answer.question import NONE, analyse  # noqa: E402
from rag.answer.scorer import best_answer  # noqa: E402
from rag.evals.bench import parse_date, token_f1  # noqa: E402
from rag.evals.stats import reliability  # noqa: E402

RIGHT_F1 = 0.5
TENTHS = tuple(i / 10 for i in range(11))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--index", required=True, type=Path, help="a folder of benchmarks/training.py's layout")
    parser.add_argument("--split", default="heldout", help="the split of benchmarks/split.json to read")
    args = parser.parse_args()

    service, questions = indexed_service(split_questions(args.questions, args.split), args.documents, args.index)
    rows = []  # (year, probability, shown, right)
    for n, q in enumerate(questions):
        question = analyse(str(q["question"]))
        if question.answer_type == NONE:
            continue
        support = service.evidence(question.text, as_of=parse_date(q.get("date")))
        best = best_answer(question, support) if support.answerable else None
        if best is not None:
            right = token_f1(best.text, [str(a) for a in q["answers"]]) >= RIGHT_F1
            rows.append((str(q.get("date"))[:4], best.probability, best.shown, right))
        if n % 100 == 0:
            print(f"  {n}/{len(questions)} questions", file=sys.stderr)

    def summary(selected: list[tuple]) -> dict:
        bins, ece = reliability([r[1] for r in selected], [r[3] for r in selected], TENTHS)
        shown = [r for r in selected if r[2]]
        _, shown_ece = reliability([r[1] for r in shown], [r[3] for r in shown], TENTHS)
        return {
            "best_candidates": len(selected),
            "mean_probability": round(sum(r[1] for r in selected) / max(len(selected), 1), 3),
            "right": round(sum(r[3] for r in selected) / max(len(selected), 1), 3),
            "ece_all": round(ece or 0.0, 4), "shown": len(shown), "ece_shown": round(shown_ece or 0.0, 4),
            "reliability": [{k: round(v, 3) if isinstance(v, float) else v for k, v in b.items()} for b in bins],
        }

    report = {"split": args.split, "questions": len(questions), "all": summary(rows)}
    for year in sorted({r[0] for r in rows}):
        report[year] = summary([r for r in rows if r[0] == year])
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
