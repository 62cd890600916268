"""What the decline decision and the supporting-sentence rule cost on the training questions.

    .venv/bin/python benchmarks/ranker/support.py --documents ... --questions ... --index /tmp/train-index

For each training question (benchmarks/training.py) the product's evidence, as of the question's
date, and the extractive answer composed from it whether or not the decision answers; then, for
each decision rule and each `ARTICLE_SHARE` (rag/answer/support.py), the share of questions
answered, the gold answer in the answer text (a declined question counts as a miss), the answers
given where the text holds no gold answer, and the median length. Training questions only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passages import open_service  # noqa: E402
from training import training_questions  # noqa: E402

import rag.answer.support as support_module  # noqa: E402
from rag.answer.extractive import compose  # noqa: E402
from rag.answer.question import analyse  # noqa: E402
from rag.evals.bench import contains_answer, parse_date  # noqa: E402

SHARES = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8)


def before(s) -> bool:
    """The decision as it was before issue 29: no speaker check, no article coverage."""
    if s.missing_names or not s.sentences:
        return False
    clear = max(s.coverage, s.part_coverage) >= support_module.CLEAR_COVERAGE
    if s.missing and not clear:
        return False
    return clear or (s.coverage >= support_module.MIN_COVERAGE and s.closeness >= support_module.MIN_CLOSENESS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", required=True, type=Path, nargs="+")
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--index", type=Path)
    parser.add_argument("--as-is", action="store_true", help="use the index in --index as it is (index nothing)")
    args = parser.parse_args()

    questions = training_questions(args.questions)
    service = open_service(questions, args)
    documents = service.search_index.documents
    answering = service.config.answering
    records = []
    for q in questions:
        asked = analyse(str(q["question"]))
        s = service.evidence(str(q["question"]), as_of=parse_date(q.get("date")))
        answers = [str(a) for a in q["answers"]]
        texts = {}
        for share in SHARES:
            support_module.ARTICLE_SHARE = share
            answer = compose(asked, s, documents, answering.max_quotes, "", answering.short_answer) if s.sentences else None
            texts[share] = answer.text if answer else ""
        records.append({
            "now": s.answerable, "before": before(s), "speaker": s.speaker_found,
            "hit": {share: contains_answer(text, answers) for share, text in texts.items()},
            "chars": {share: len(text) for share, text in texts.items()},
        })
    report = {}
    for rule in ("before", "now"):
        for share in SHARES:
            answered = [r[rule] for r in records]
            hits = [r[rule] and r["hit"][share] for r in records]
            report[f"{rule} share={share}"] = {
                "answered": float(np.mean(answered)), "answer_in_text": float(np.mean(hits)),
                "answered_without_answer": float(np.mean([a and not r["hit"][share] for a, r in zip(answered, records)])),
                "median_chars": float(np.median([r["chars"][share] if r[rule] else 0 for r in records])),
            }
    report["declined by the speaker check"] = sum(r["speaker"] is False and r["before"] for r in records)
    report["declined by the speaker check, answer in the text"] = sum(r["speaker"] is False and r["before"] and r["hit"][0.0] for r in records)
    report["answered through the article coverage"] = sum(r["now"] and not r["before"] for r in records)
    report["answered through the article coverage, answer in the text"] = sum(r["now"] and not r["before"] and r["hit"][0.6] for r in records)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
