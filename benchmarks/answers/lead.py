"""Which sentence should lead an answer whose short answer is not sure enough to be shown.

    .venv/bin/python benchmarks/answers/lead.py --documents ... --questions ... --index /tmp/train-index

The first line is what a reader reads first. It is the sentence of the bold short answer when one is
shown, else the best-ranked sentence. A likely short answer below the shown threshold may still
say which sentence answers: this measures, for each `lead_confidence` (rag/answer/extractive.py),
the share of training questions (benchmarks/training.py; held-out questions are never read) whose
first line (at most 300 characters, as `rag bench` reads it) and whose whole answer hold a gold
answer, per block of consecutive question dates and over all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answers.train import date_blocks  # noqa: E402
from training import indexed_service, training_questions  # noqa: E402

from rag.answer.extractive import compose  # noqa: E402
from rag.answer.question import analyse  # noqa: E402
from rag.evals.bench import parse_date, reading  # noqa: E402
from rag.text import MARKER  # noqa: E402

CONFIDENCES = (1.01, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--index", required=True, type=Path, help="an index of benchmarks/training.py's layout")
    args = parser.parse_args()

    service, questions = indexed_service(training_questions(args.questions), args.documents, args.index)
    documents = service.search_index.documents
    answering = service.config.answering
    blocks = date_blocks(questions)
    rows = []  # (block, {confidence: (in lead, in text, characters)})
    for n, q in enumerate(questions):
        asked = analyse(str(q["question"]))
        support = service.evidence(asked.text, as_of=parse_date(q.get("date")))
        answers = [str(a) for a in q["answers"]]
        got = {}
        for confidence in CONFIDENCES:
            if not support.answerable:
                got[confidence] = (False, False, 0)
                continue
            answer = compose(asked, support, documents, answering.max_quotes, "", answering.short_answer,
                             lead_confidence=confidence)
            read = reading(MARKER.sub(" ", answer.text), answers, False, False, 0.0)
            got[confidence] = (read.in_lead, read.in_text, len(answer.text))
        rows.append((blocks[str(q.get("date"))], got))
        if n % 100 == 0:
            print(f"  {n}/{len(questions)} questions", file=sys.stderr)
    report = {}
    for confidence in CONFIDENCES:
        per_block = [float(np.mean([g[confidence][0] for b, g in rows if b == block])) for block in sorted(set(blocks.values()))]
        report[str(confidence)] = {
            "answer_in_lead": round(float(np.mean([g[confidence][0] for _, g in rows])), 4),
            "answer_in_text": round(float(np.mean([g[confidence][1] for _, g in rows])), 4),
            "median_chars": float(np.median([g[confidence][2] for _, g in rows])),
            "in_lead_per_block": [round(x, 4) for x in per_block],
        }
    print(json.dumps({"questions": len(rows), "lead_confidence": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
