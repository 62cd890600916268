"""How many questions any article could answer: the gold answer's words in the articles at all.

    .venv/bin/python benchmarks/answers/ceiling.py --documents ... --questions ... [--split heldout]

"Answer in the text" (`rag bench`) counts a reply holding a gold answer verbatim (whole words,
normalised as the bench does). No extractive reply can hold an answer that no article holds, so
this counts, per year of question dates, the questions whose gold answer appears in an article of
their window (the 14 days up to the question's date: the `rag bench` slice) and in any article
published by their date (what an index kept over time would hold). Report only: it trains and
chooses nothing, so it may read the held-out dates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import read_documents, split_questions  # noqa: E402

from rag.evals.bench import WINDOW_DAYS, contains_answer, normalize, parse_date  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    args = parser.parse_args()

    questions = split_questions(args.questions, args.split)
    published = [(parse_date(d.get("published")), normalize(f"{d.get('title') or ''} {d['text']}"))
                 for d in read_documents(args.documents)]
    published = [(day, text) for day, text in published if day]
    counts: dict[str, dict[str, int]] = {}
    for q in questions:
        day = parse_date(q.get("date"))
        answers = [str(a) for a in q["answers"]]
        before = [(p, text) for p, text in published if p <= day]
        row = counts.setdefault(str(day.year), {"questions": 0, "in_window": 0, "published_by_date": 0})
        row["questions"] += 1
        row["in_window"] += any(contains_answer(t, answers, normalized=True) for p, t in before if (day - p).days <= WINDOW_DAYS)
        row["published_by_date"] += any(contains_answer(t, answers, normalized=True) for _, t in before)
    total = {k: sum(r[k] for r in counts.values()) for k in ("questions", "in_window", "published_by_date")}
    for row in [*counts.values(), total]:
        row["in_window_share"] = round(row["in_window"] / row["questions"], 3)
        row["published_by_date_share"] = round(row["published_by_date"] / row["questions"], 3)
    print(json.dumps({"split": args.split, "window_days": WINDOW_DAYS, "by_year": counts, "all": total}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
