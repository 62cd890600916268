"""Followed questions benchmark: a poll of 50 new articles with 1,000 followed questions of 20 users.

    .venv/bin/python benchmarks/follows.py [--base 200] [--new 50] [--follows 1000] [--users 20] [--out benchmarks/follows.json]

Default settings and the real models (MiniLM embedder, spaCy for short answers), in a temporary
folder. The corpus holds `--base` generated news articles (tests/fetching/newsserver.py's
`bulk_story`: about 320 words, a committee's plan in one of eight towns); `--follows` questions
spread over `--users` users ask about plans 0..2*(base+new) (costs, chairs, hearings, survey
shares), so some are about articles already there, some about the new ones, some about none yet.
Each follow starts from a declined answer (asking 1,000 questions first would only lengthen the
set-up), so every re-asked follow that finds an answer records an update: the most writing a
round can do. Steps:
1. a user asks 30 questions one after another, nothing else running: latencies "idle";
2. `--new` articles are written to the corpus and indexed; the app's watcher (a background thread)
   picks the follows they could affect and re-asks them (a question several users follow, once),
   nothing else running: the round's seconds, follows checked, questions asked;
3. `--new` more articles, while the user asks a question every 0.5 s: latencies "during", against
   the same user's right after the round (the shared machine's own noise at that time);
4. for scale, the seconds one question takes times the number of follows: re-asking them all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fetching.newsserver import bulk_story  # noqa: E402

PLACES = ["Riverton", "Eastfield", "Marlow", "Kingsbridge", "Ashford", "Northam", "Westcliff", "Oakham"]
TOPICS = ["harbour", "council", "budget", "school", "railway", "hospital", "election", "festival", "museum", "market"]


def write_story(corpus: Path, n: int) -> None:
    story = bulk_story(n)
    front = (f"---\ntitle: \"{story.title}\"\npublisher: {story.outlet}\nauthor: {story.author}\n"
             f"published: {story.published}\n---\n")
    (corpus / f"bulk-{n}.md").write_text(front + "\n\n".join(story.paragraphs) + "\n", encoding="utf-8")


def question(i: int, top: int) -> str:
    n = (i * 7919) % top
    topic, place = TOPICS[n % len(TOPICS)], PLACES[n % len(PLACES)]
    forms = [
        f"How much would plan {n} of the {place} {topic} committee cost?",
        f"Who chairs the {topic} committee of {place}?",
        f"What percentage of residents supported plan {n}?",
        f"When will the {place} {topic} committee vote on plan {n}?",
    ]
    return forms[i % len(forms)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=200)
    parser.add_argument("--new", type=int, default=50)
    parser.add_argument("--follows", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "follows.json"))
    args = parser.parse_args()

    from rag.config import Config
    from rag.follows.api import watch
    from rag.follows.store import FollowStore
    from rag.service import Service
    from rag.team.db import open_url

    with tempfile.TemporaryDirectory(prefix="follows-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        corpus.mkdir()
        for n in range(args.base):
            write_story(corpus, n)
        service = Service(Config.from_env().with_(corpus_dir=corpus, index_dir=work / "index"))
        service.index()
        database = open_url(f"sqlite:///{work / 'team.sqlite3'}")
        store = FollowStore(database)
        declined = {"short_answer": None, "text": "", "answerable": False, "citations": [], "seen_at": ""}
        top = 2 * (args.base + args.new)
        for i in range(args.follows):
            store.add(f"user{i % args.users:02d}", question(i, top), {}, declined)

        asked = [question(i, args.base) for i in range(1000, 1030)]  # the user's own questions, about indexed plans
        service.ask(asked[0])  # warm up: models load on first use
        idle = []
        for q in asked:
            started = time.perf_counter()
            service.ask(q)
            idle.append((time.perf_counter() - started) * 1000)

        watcher = watch(service, database)

        def poll(first: int) -> float:
            """`--new` articles arrive and are indexed (what a feed poll ends with); the watcher starts."""
            for n in range(first, first + args.new):
                write_story(corpus, n)
            started = time.perf_counter()
            service.index()
            return time.perf_counter() - started

        # Round 1: nothing else running - how long the re-answers take.
        indexed = poll(args.base)
        drained = watcher.drain(timeout=900)
        quiet = watcher.last
        # Round 2: 50 more articles while a user asks a question every 0.5 s.
        poll(args.base + args.new)
        during: list[float] = []
        stop = threading.Event()

        def user() -> None:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                service.ask(asked[i % len(asked)])
                during.append((time.perf_counter() - t0) * 1000)
                i += 1
                stop.wait(0.5)

        asker = threading.Thread(target=user)
        asker.start()
        drained = watcher.drain(timeout=900) and drained
        stop.set()
        asker.join()
        busy = watcher.last
        # The same user, right after, with nothing in the background: the machine's own noise then.
        measured, stop = len(during), threading.Event()
        asker = threading.Thread(target=user)
        asker.start()
        while len(during) < measured + min(measured, 100):
            time.sleep(0.2)
        stop.set()
        asker.join()
        after, during = during[measured:], during[:measured]
        per_answer = quiet.seconds / max(1, quiet.asked)
        figures = {
            "articles_before": args.base, "new_articles": args.new, "follows": args.follows, "users": args.users,
            "index_seconds": round(indexed, 1), "drained": drained,
            "round_quiet": {"follows_checked": quiet.checked, "questions_asked": quiet.asked, "updates": quiet.updates,
                            "seconds": round(quiet.seconds, 1), "cpu_seconds": round(quiet.cpu_seconds, 1)},
            "round_with_user": {"follows_checked": busy.checked, "questions_asked": busy.asked, "updates": busy.updates,
                                "seconds": round(busy.seconds, 1), "cpu_seconds": round(busy.cpu_seconds, 1)},
            "seconds_per_question": round(per_answer, 3),
            "all_follows_estimate_seconds": round(per_answer * args.follows, 1),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "user_ms_idle": {"p50": round(statistics.median(idle)), "p95": round(percentile(idle, 0.95)), "n": len(idle)},
            "user_ms_during": {"p50": round(statistics.median(during)), "p95": round(percentile(during, 0.95)),
                               "n": len(during)},
            "user_ms_right_after": {"p50": round(statistics.median(after)), "p95": round(percentile(after, 0.95)),
                                    "n": len(after)},
        }
        figures["p95_delay_ms"] = figures["user_ms_during"]["p95"] - figures["user_ms_right_after"]["p95"]
        database.close()
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
