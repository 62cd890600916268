"""Warm `ask` latency of one or more versions of the code on one kept index, alternated.

    .venv/bin/python benchmarks/ask_latency.py --corpus DIR --index DIR \
        --questions ../shared/bench/realtimeqa-2022/questions.jsonl [--code OLD_TREE] [--rounds 3] [--asks 60]

Each round starts one process per code folder (this tree first, then each `--code`, e.g. an older
commit unpacked with `git archive`), in turn, so that the machine's load falls on all of them alike.
A process opens the index, asks `--warm-up` questions untimed, then times `--asks` distinct training
questions (benchmarks/split.json) as of their dates, extractive answers, wall and CPU time each.
Prints per code the medians over all its timed asks, p95, and the chunk count; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from training import training_questions  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
from rag.config import Config
from rag.evals.bench import parse_date
from rag.service import Service
task = json.loads(sys.argv[1])
service = Service(Config.from_env().with_(corpus_dir=Path(task["corpus"]), index_dir=Path(task["index"])))
wall, cpu = [], []
for i, (question, date) in enumerate(task["questions"]):
    started, used = time.perf_counter(), time.process_time()
    service.ask(question, top_k=5, as_of=parse_date(date))
    if i >= task["warm_up"]:
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
print("RESULT " + json.dumps({"wall": wall, "cpu": cpu, "chunks": service.index_size()[1]}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--questions", required=True, type=Path, nargs="+")
    parser.add_argument("--code", type=Path, nargs="*", default=[], help="other code folders to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--asks", type=int, default=60)
    parser.add_argument("--warm-up", type=int, default=10)
    args = parser.parse_args()

    articles = [json.loads(line) for path in sorted(args.corpus.glob("*.jsonl")) for line in path.open()]
    first, last = min(d["published"] for d in articles), max(d["published"] for d in articles)
    dated = [q for q in training_questions(args.questions)
             if first.replace("/", "-") <= str(q["date"]).replace("/", "-") <= last.replace("/", "-")]
    needed = args.warm_up + args.asks
    step = max(1, len(dated) // needed)
    asked = [(q["question"], q["date"]) for q in dated[::step][:needed]]
    codes = [ROOT, *args.code]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "RAG_LLM_BACKEND": "none"}
    results: dict[str, dict[str, list[float]]] = {str(c): {"wall": [], "cpu": []} for c in codes}
    chunks = 0
    for _ in range(args.rounds):
        for code in codes:
            task = {"corpus": str(args.corpus), "index": str(args.index), "questions": asked, "warm_up": args.warm_up}
            run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(task)], cwd=code, env=env,
                                 capture_output=True, text=True)
            line = next((x for x in reversed(run.stdout.splitlines()) if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"{code}: {run.stderr.strip()[-1500:]}")
            got = json.loads(line[len("RESULT "):])
            chunks = got["chunks"]
            for key in ("wall", "cpu"):
                results[str(code)][key] += got[key]
    print(f"{chunks} chunks, {len(asked) - args.warm_up} questions x {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for code, got in results.items():
        print(f"{code}: wall p50 {statistics.median(got['wall']):.1f} ms, p95 {percentile(got['wall'], 0.95):.1f} ms; "
              f"CPU p50 {statistics.median(got['cpu']):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
