"""A normal question's wait while hostile /ask requests are in flight (issue 20, item 3).

    .venv/bin/python benchmarks/hostile_load.py [--app-root DIR] [--heavy 4] [--repeat 3]

Starts `app.py` (of this checkout, or of another one given by --app-root, e.g. an older commit
checked out with `git worktree add`, to measure before and after in one run) over a temporary
copy of the shipped corpus, then times:
  - a normal question alone (median of --repeat);
  - the same question while --heavy concurrent /ask calls ask a follow-up in a conversation
    whose last question is 6 MB (the attack of the issue) - and how each of those calls ends;
  - the same question while --heavy calls carry the largest history the limits allow.
Only loopback is used. Medians of one run; the machine's load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who led the Russian delegation?"
FOLLOW_UP = "What did he say?"  # refers back, so the last turn's question joins the search query


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(url: str, data: list, timeout: float = 600, sent: threading.Semaphore | None = None) -> tuple[float, str]:
    """(seconds, how it ended) for one /ask call through the HTTP API; `sent` is released once
    the call is queued (or refused)."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=timeout) as web:
        r = web.post("/gradio_api/call/ask", json={"data": data})
        if sent:
            sent.release()
        if r.status_code != 200:
            return time.perf_counter() - started, f"refused {r.status_code}"
        stream = web.get(f"/gradio_api/call/ask/{r.json()['event_id']}").text
    outcome = "error field" if '"error": "' in stream else "answered" if "event: complete" in stream else "failed"
    return time.perf_counter() - started, outcome


def under_load(url: str, heavy: list, count: int) -> tuple[float, list[tuple[float, str]]]:
    """The normal question's time while `count` heavy calls run, and how those ended."""
    results: list[tuple[float, str]] = []
    sent = threading.Semaphore(0)
    threads = [threading.Thread(target=lambda: results.append(ask(url, heavy, sent=sent))) for _ in range(count)]
    for t in threads:
        t.start()
    for _ in threads:
        sent.acquire()  # the heavy calls are in the queue first
    seconds, _ = ask(url, [QUESTION, [], None, None])
    for t in threads:
        t.join()
    return seconds, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app.py to run")
    parser.add_argument("--heavy", type=int, default=4, help="concurrent hostile calls")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "RAG_PORT": str(port), "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": f"{tmp}/index",
               "RAG_RATE_LIMIT": "0", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        app = subprocess.Popen([sys.executable, "app.py"], cwd=args.app_root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            alone = statistics.median(ask(url, [QUESTION, [], None, None])[0] for _ in range(args.repeat))
            huge = [FOLLOW_UP, [["Who? " + "Putin Istanbul talks " * 300_000, "An answer."]], None, None]
            huge_wait, huge_results = under_load(url, huge, args.heavy)
            limit = [FOLLOW_UP, [["Who? " + "Putin Istanbul talks " * 95, "y" * 19_000]] * 20, None, None]
            limit_wait, limit_results = under_load(url, limit, args.heavy)
        finally:
            app.terminate()
            app.wait(timeout=30)

    def describe(results: list[tuple[float, str]]) -> str:
        kinds = sorted({kind for _, kind in results})
        return f"{', '.join(kinds)} after a median {statistics.median(s for s, _ in results):.2f} s"

    print(f"app: {args.app_root}; load average {os.getloadavg()[0]:.1f}")
    print(f"normal question alone (median of {args.repeat})       {alone:7.2f} s")
    print(f"... while {args.heavy} calls carry a 6 MB question        {huge_wait:7.2f} s   (those: {describe(huge_results)})")
    print(f"... while {args.heavy} calls carry the largest history    {limit_wait:7.2f} s   (those: {describe(limit_results)})")


if __name__ == "__main__":
    main()
