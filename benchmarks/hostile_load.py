"""A normal question's wait while hostile /ask requests are in flight (issue 20, item 3; issue 28).

    .venv/bin/python benchmarks/hostile_load.py [--app-root DIR] [--heavy 4] [--repeat 3] [--flood 1500]

Starts `app.py` (of this checkout, or of another one given by --app-root, e.g. an older commit
checked out with `git worktree add`, to measure before and after in one run) over a temporary
copy of the shipped corpus, then times:
  - a normal question alone (median of --repeat);
  - the same question while --heavy concurrent /ask calls ask a follow-up in a conversation
    whose last question is 6 MB (the attack of the issue) - and how each of those calls ends;
  - the same question while --heavy calls carry the largest history the limits allow;
  - with --flood N, in a second app with RAG_RATE_LIMIT=5: a reader's question (from another
    client address, through the trusted proxy 127.0.0.1) just after one address posted N
    questions to /gradio_api/call/v2/ask as fast as it could (issue 28: that spelling had no limit).
Only loopback is used. Medians of one run; the machine's load average is printed beside them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
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


def flood_then_ask(url: str, count: int) -> tuple[float, dict[int, int], float]:
    """(the reader's seconds, status counts of the flood's posts, seconds the flood took)."""
    codes: dict[int, int] = {}
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=50)
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=120, limits=limits, headers={"X-Forwarded-For": "203.0.113.66"}) as web:

        def post(_):
            status = web.post("/gradio_api/call/v2/ask", json={"question": QUESTION}).status_code
            with lock:
                codes[status] = codes.get(status, 0) + 1

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            list(pool.map(post, range(count)))
    flooded = time.perf_counter() - started
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=600, headers={"X-Forwarded-For": "198.51.100.7"}) as reader:
        r = reader.post("/gradio_api/call/ask", json={"data": [QUESTION, [], None, None]})
        reader.get(f"/gradio_api/call/ask/{r.json()['event_id']}").text
    return time.perf_counter() - started, codes, flooded


@contextlib.contextmanager
def serving(app_root: Path, corpus: Path, index: Path, **settings: str):
    """`app_root`'s app.py over `corpus` and `index` (built at its first start) until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RAG_PORT": str(port), "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(index),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **settings}
    app = subprocess.Popen([sys.executable, "app.py"], cwd=app_root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        app.terminate()
        app.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app.py to run")
    parser.add_argument("--heavy", type=int, default=4, help="concurrent hostile calls")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flood", type=int, default=0, help="questions one address posts to call/v2/ask (0: skip)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        with serving(args.app_root, corpus, Path(tmp) / "index", RAG_RATE_LIMIT="0") as url:
            alone = statistics.median(ask(url, [QUESTION, [], None, None])[0] for _ in range(args.repeat))
            huge = [FOLLOW_UP, [["Who? " + "Putin Istanbul talks " * 300_000, "An answer."]], None, None]
            huge_wait, huge_results = under_load(url, huge, args.heavy)
            limit = [FOLLOW_UP, [["Who? " + "Putin Istanbul talks " * 95, "y" * 19_000]] * 20, None, None]
            limit_wait, limit_results = under_load(url, limit, args.heavy)
        if args.flood:
            with serving(args.app_root, corpus, Path(tmp) / "index", RAG_RATE_LIMIT="5",
                         RAG_TRUSTED_PROXIES="127.0.0.1") as url:
                flood_wait, flood_codes, flood_seconds = flood_then_ask(url, args.flood)

    def describe(results: list[tuple[float, str]]) -> str:
        kinds = sorted({kind for _, kind in results})
        return f"{', '.join(kinds)} after a median {statistics.median(s for s, _ in results):.2f} s"

    print(f"app: {args.app_root}; load average {os.getloadavg()[0]:.1f}")
    print(f"normal question alone (median of {args.repeat})       {alone:7.2f} s")
    print(f"... while {args.heavy} calls carry a 6 MB question        {huge_wait:7.2f} s   (those: {describe(huge_results)})")
    print(f"... while {args.heavy} calls carry the largest history    {limit_wait:7.2f} s   (those: {describe(limit_results)})")
    if args.flood:
        codes = ", ".join(f"{n} x {code}" for code, n in sorted(flood_codes.items()))
        print(f"... just after {args.flood} call/v2/ask posts from one address {flood_wait:7.2f} s   "
              f"(those: {codes}, sent in {flood_seconds:.1f} s)")


if __name__ == "__main__":
    main()
