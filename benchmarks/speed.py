"""Speed benchmark on the shipped corpus: index build, re-index, warm `ask` latency, cold CLI answer.

    .venv/bin/python benchmarks/speed.py [--repeat 5] [--questions 40]

Medians over repeated runs (these machines are shared and noisy). Writes nothing to the project's
index: every run uses a temporary index folder.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "what did Rubio say about Istanbul",
    "Who led the Russian delegation?",
    "What did Merz say about Putin?",
    "How many prisoners were exchanged?",
    "What are Putin's conditions for peace?",
    "Who is Steve Witkoff?",
    "What sanctions is the EU preparing?",
    "What did Angela Merkel say about the ceasefire?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200, help="warm asks to time")
    args = parser.parse_args()

    from rag.config import Config
    from rag.service import Service

    builds, reindex, cold = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            config = Config.from_env().with_(index_dir=Path(tmp))
            started = time.perf_counter()
            summary = Service(config).index()
            builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            Service(config).index()
            reindex.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "rag", "ask", "what did Rubio say about Istanbul"],
                cwd=ROOT, check=True, capture_output=True, env={**__import__("os").environ, "RAG_INDEX_DIR": tmp},
            )
            cold.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Config.from_env().with_(index_dir=Path(tmp)))
        service.index()
        service.search_index
        latencies = []
        for i in range(args.questions):
            started = time.perf_counter()
            service.ask(QUESTIONS[i % len(QUESTIONS)])
            latencies.append((time.perf_counter() - started) * 1000)

    print(f"corpus: {summary.documents} documents, {summary.chunks} chunks; {args.repeat} runs, medians")
    print(f"index build (in-process, fresh index)   {statistics.median(builds):6.2f} s")
    print(f"re-index, nothing changed (in-process)  {statistics.median(reindex):6.3f} s")
    print(f"cold `python -m rag ask` to the answer  {statistics.median(cold):6.2f} s")
    print(f"warm ask latency over {len(latencies)} asks: p50 {percentile(latencies, 0.5):.1f} ms, "
          f"p95 {percentile(latencies, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
