"""Feed polling benchmark: a poll of many new articles from a local news site against the
embedder-bound indexing rate of the same articles as files, a re-poll of the unchanged feed, and
peak memory as the number of items grows.

    .venv/bin/python benchmarks/feeds.py [--items 500] [--small 100] [--repeat 3] [--out benchmarks/feeds.json]

The site is tests/fetching/newsserver.py on 127.0.0.1 (`/bulk-feed.xml`, generated articles of
about 320 words, two or three chunks each). Every measurement runs in a fresh child process with the default settings and
the real MiniLM embedder, except the two a local site needs: `RAG_FETCH_ALLOW_PRIVATE=1` (it is on
loopback) and `RAG_FETCH_HOST_DELAY=0` (a politeness delay would measure the delay). Steps:
1. poll: a new feed of `--items` items into an empty corpus and index (fetch, extract, write, index);
2. files: the same articles, copied as files into another empty corpus, indexed (`rag index`):
   the embedder-bound rate the poll is compared with;
3. re-poll: the unchanged feed again (conditional GET: nothing downloaded or embedded);
4. small: a poll of `--small` items, for the peak memory of the poll process against step 1.
Steps 1 and 2 are repeated (`--repeat`, each pair in fresh folders, every other pair in the
other order): the machine is shared and noisy, so the ratio reported is the median of the pairs'.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(step: str, corpus: Path, index: Path, url: str, items: int) -> dict:
    """One step in this process (run by the parent as a child process); returns its figures."""
    from rag.config import Config
    from rag.service import Service

    config = Config.from_env().with_(corpus_dir=corpus, index_dir=index, allow_private=True, host_delay=0.0,
                                     feed_max_items=items)
    service = Service(config)
    started = time.perf_counter()
    if step == "files":
        summary = service.index()
        figures = {"documents": summary.documents, "embedded_chunks": summary.embedded_chunks}
    elif step == "repoll":
        report = service.feeds.poll()
        figures = {"added": len(report.added), "unchanged": report.unchanged,
                   "embedded_chunks": report.index.embedded_chunks if report.index else 0}
    else:
        _, report = service.feeds.add(url)
        figures = {"added": len(report.added), "skipped": len(report.skipped),
                   "embedded_chunks": report.index.embedded_chunks if report.index else 0,
                   "index_seconds": report.index.seconds if report.index else 0.0}
    figures["seconds"] = time.perf_counter() - started
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def run_child(step: str, corpus: Path, index: Path, url: str, items: int) -> dict:
    command = [sys.executable, __file__, "--child", step, "--corpus", str(corpus), "--index", str(index),
               "--url", url, "--items", str(items)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "feeds.json"))
    parser.add_argument("--child")
    parser.add_argument("--corpus")
    parser.add_argument("--index")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.corpus), Path(args.index), args.url, args.items)))
        return

    from tests.fetching.newsserver import NewsServer

    pairs = []
    with tempfile.TemporaryDirectory() as tmp, NewsServer(bulk=args.items) as site:
        work = Path(tmp)
        url = site.url("/bulk-feed.xml")
        for run in range(args.repeat):
            polled, files = work / f"polled-{run}", work / f"files-{run}"
            polled.mkdir()
            pages = sum(n for path, n in site.hits.items() if path.startswith("/bulk/"))
            if run % 2:  # every other pair indexes the files first: the load on a shared machine drifts
                shutil.copytree(work / "polled-0" / "web", files / "web")
                indexed = run_child("files", files, work / f"files-index-{run}", url, args.items)
            poll = run_child("poll", polled, work / f"polled-index-{run}", url, args.items)
            poll["pages_fetched"] = sum(n for path, n in site.hits.items() if path.startswith("/bulk/")) - pages
            if not run % 2:
                shutil.copytree(polled / "web", files / "web")
                indexed = run_child("files", files, work / f"files-index-{run}", url, args.items)
            pairs.append({"poll": poll, "files": indexed, "ratio": indexed["seconds"] / poll["seconds"]})
            print(f"run {run + 1}: poll {poll['seconds']:.1f} s, files {indexed['seconds']:.1f} s, "
                  f"ratio {pairs[-1]['ratio']:.2f}", flush=True)
        before = dict(site.hits)
        repoll = run_child("repoll", work / "polled-0", work / "polled-index-0", url, args.items)
        repoll["pages_fetched"] = sum(n - before.get(path, 0) for path, n in site.hits.items() if path.startswith("/bulk/"))
        repoll["feed_answered_304"] = site.not_modified["/bulk-feed.xml"]
        (work / "small").mkdir()
        small = run_child("poll", work / "small", work / "small-index", url, args.small)

    median = statistics.median
    poll_s, files_s = median(p["poll"]["seconds"] for p in pairs), median(p["files"]["seconds"] for p in pairs)
    result = {
        "items": args.items, "small": args.small, "runs": pairs, "repoll": repoll, "small_poll": small,
        "poll_seconds": poll_s, "files_seconds": files_s, "ratio": median(p["ratio"] for p in pairs),
        "peak_rss_mb": {str(args.small): small["peak_rss_mb"], str(args.items): median(p["poll"]["peak_rss_mb"] for p in pairs)},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    chunks = pairs[0]["poll"]["embedded_chunks"]
    print(f"poll of {args.items} new items ({chunks} chunks): median {poll_s:.1f} s ({args.items / poll_s:.1f} articles/s)")
    print(f"indexing the same articles as files: median {files_s:.1f} s ({args.items / files_s:.1f} articles/s)")
    print(f"poll rate / indexing rate: median {result['ratio']:.2f} over {args.repeat} pairs (target >= 0.8)")
    print(f"re-poll of the unchanged feed: {repoll['seconds']:.2f} s, {repoll['pages_fetched']} pages fetched, "
          f"{repoll['embedded_chunks']} chunks embedded (target < 2 s, nothing embedded)")
    print(f"peak memory of the poll process: {small['peak_rss_mb']:.0f} MB for {args.small} items, "
          f"{result['peak_rss_mb'][str(args.items)]:.0f} MB for {args.items}")


if __name__ == "__main__":
    main()
