"""What one hostile feed costs the process that polls it (issue 28's HIGH bug).

    .venv/bin/python benchmarks/hostile_feed.py [--comments 24] [--timeout 120]

1. The reported body (`<!---->` times --comments, no root element): seconds to read it with the
   prolog regex this project used before issue 28 (run in a subprocess with --timeout, as it
   may not end), and with `parse_listing` in the loader's worker now.
2. HTTP latency of a server in the polling process (the news server of tests/fetching, standing
   in for the app's /health) while that process (a) runs the old regex on the body in a thread,
   as the old poll did, and (b) polls a feed of 40 empty comments with `Feeds.poll`. Median and
   worst of GET requests made one after another while it runs.
Only loopback is used. The machine's load average is printed beside the numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# rag/ingest/listings.py before issue 28: nested optional groups over comments backtrack
# exponentially when no root element follows.
OLD_XML_START = (
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<\?[^>]*>\s*)*(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<([A-Za-z_][\w.:-]*)"
)


def old_regex_seconds(body: bytes, timeout: float) -> str:
    code = ("import re, sys, time; p = re.compile(%r, re.S | re.I); b = %r; t = time.perf_counter(); "
            "p.match(b[:4096]); print(time.perf_counter() - t)" % (OLD_XML_START, body))
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
        return f"{float(out.stdout):.2f} s"
    except subprocess.TimeoutExpired:
        return f"> {timeout:g} s (stopped)"


def new_parse_seconds(body: bytes) -> str:
    from rag.config import Config
    from rag.ingest.fetching import Fetched
    from rag.ingest.isolation import LoaderWorker
    from rag.ingest.listings import ListingError, parse_listing

    fetched = Fetched("u", "u", 200, "application/xml", None, body)
    with LoaderWorker(Config()) as worker:
        worker.call(len, b"")  # started: the start-up is not the parse
        seconds = []
        for _ in range(5):  # the first imports feedparser's encodings
            started = time.perf_counter()
            try:
                worker.call(parse_listing, fetched, 10**6, error=ListingError)
            except ListingError as exc:
                outcome = str(exc)
            seconds.append(time.perf_counter() - started)
        return f"{seconds[0] * 1000:.0f} ms the first time, then a median {statistics.median(seconds[1:]) * 1000:.1f} ms ({outcome})"


CLIENT = """
import statistics, sys, time, httpx, pathlib
url, stop = sys.argv[1], pathlib.Path(sys.argv[2])
times = []
with httpx.Client(timeout=600) as web:
    while not stop.exists():
        started = time.perf_counter()
        web.get(url)
        times.append(time.perf_counter() - started)
print(statistics.median(times), max(times), len(times))
"""


def latency_while(url: str, work, folder: str) -> tuple[float, float, int]:
    """(median, worst, count) of GET times against `url`, from another process, while `work()`
    runs in this one (the server's process)."""
    stop = Path(folder) / "stop"
    client = subprocess.Popen([sys.executable, "-c", CLIENT, url, str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)  # the client is asking
    work()
    stop.touch()
    median, worst, count = client.communicate()[0].split()
    return float(median), float(worst), int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=24)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    body = b"<!---->" * args.comments

    from rag.config import Config
    from rag.ingest.feeds import Feeds
    from rag.ingest.webstate import WebState
    from tests.fetching.conftest import loopback_is_public
    from tests.fetching.newsserver import NewsServer

    print(f"load average {os.getloadavg()[0]:.1f}; body: {args.comments} empty comments ({len(body)} bytes)")
    print(f"old prolog regex, in a subprocess:        {old_regex_seconds(body, args.timeout)}")
    print(f"parse_listing in the loader's worker:     {new_parse_seconds(body)}")

    with NewsServer() as site, tempfile.TemporaryDirectory() as tmp:
        probe = site.url("/robots.txt")
        pattern = re.compile(OLD_XML_START, re.S | re.I)
        if args.comments <= 26:  # more would hold this process for many minutes
            median, worst, n = latency_while(probe, lambda: pattern.match(body[:4096]), tmp)
            print(f"HTTP latency while the old regex runs:    median {median * 1000:.1f} ms, worst {worst:.2f} s ({n} requests)")
        Path(tmp, "stop").unlink(missing_ok=True)
        config = Config().with_(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", host_delay=0.0)
        config.paths.corpus_dir.mkdir()
        state = WebState(config)
        state.add_feed(site.url("/hostile/comments.xml"), "rss", None, "2025-01-01T00:00:00+00:00")
        state.close()
        feeds = Feeds(config, index=lambda: None, refuse=loopback_is_public)
        median, worst, n = latency_while(probe, feeds.poll, tmp)
        print(f"HTTP latency while Feeds.poll reads it:   median {median * 1000:.1f} ms, worst {worst * 1000:.0f} ms "
              f"({n} requests); the feed's error: {feeds.list()[0].last_error}")


if __name__ == "__main__":
    main()
