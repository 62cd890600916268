"""How long an unchanged `rag index` takes: the command as a user runs it (wall clock, a fresh
process each time) and `Service.index()` in a process that has imported everything.

    .venv/bin/python benchmarks/unchanged_index.py [--chunks 8000] [--repeat 7] [--code OLD_CHECKOUT ...]

The corpus is bench-scale's synthetic news (about `--chunks` chunks), indexed once with the hashing
embedder (the embedder plays no part when nothing changed). Each `--code` folder (e.g. an older
commit unpacked with `git archive`) is timed on the same corpus and index, runs interleaved with
this checkout's so that the machine's load falls on both alike. Prints medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IN_PROCESS = ("import time; from rag.service import Service; s = Service(); t = time.perf_counter(); s.index(); "
              "print(time.perf_counter() - t)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--code", action="append", default=[], help="another checkout to time the same way")
    args = parser.parse_args()

    from rag.evals.scale import synthetic_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = synthetic_corpus(args.chunks, Path(tmp) / "corpus", 0).folder
        env = {**os.environ, "RAG_EMBED_MODEL": "fake:hashing", "RAG_CORPUS_DIR": str(corpus),
               "RAG_INDEX_DIR": str(Path(tmp) / "index"), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        codes = [ROOT, *(Path(c).resolve() for c in args.code)]
        built = subprocess.run([sys.executable, "-m", "rag", "index"], cwd=ROOT, env=env, capture_output=True, text=True,
                               check=True)
        print(built.stdout.strip().splitlines()[-1])
        command: dict[Path, list[float]] = {code: [] for code in codes}
        in_process: dict[Path, list[float]] = {code: [] for code in codes}
        for _ in range(args.repeat):
            for code in codes:
                child = {**env, "PYTHONPATH": str(code)}
                subprocess.run([sys.executable, "-m", "rag", "index"], cwd=code, env=child, capture_output=True,
                               check=True)  # a run after another checkout's: its own notes are written again
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "rag", "index"], cwd=code, env=child, capture_output=True,
                               check=True)
                command[code].append(time.perf_counter() - started)
                timed = subprocess.run([sys.executable, "-c", IN_PROCESS], cwd=code, env=child, capture_output=True,
                                       text=True, check=True)
                in_process[code].append(float(timed.stdout.strip().splitlines()[-1]))
        print(f"load average {os.getloadavg()[0]:.1f}; {args.repeat} runs each, medians")
        for code in codes:
            print(f"{code}: `rag index` unchanged {statistics.median(command[code]):.2f} s wall, "
                  f"Service.index() {statistics.median(in_process[code]):.3f} s")


if __name__ == "__main__":
    main()
