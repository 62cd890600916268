"""The scale benchmark (`python -m rag bench-scale`): indexing speed against the raw embedder,
unchanged re-index, index open, serve memory and ask latency as the corpus grows.

Two series:
- real: the first N articles of a JSONL(.gz) news set (the RealTime QA 2022 slice), one Markdown
  file each, indexed with the configured embedder (all-MiniLM-L6-v2 by default);
- synthetic: generated articles up to a number of chunks, indexed with the hashing embedder
  (`fake:hashing`), for serving figures at sizes the real embedder would take hours to index.

Every figure comes from a fresh child process, so one measurement's caches do not flatter the next:
1. index: the raw embedder over the very chunks the index will hold (half of them before indexing,
   half after, so a machine that gets busier or quieter during the run weighs on both), and
   `Service.index()` on a new index, with the growth of its memory sampled meanwhile;
2. re-index: `Service.index()` again on the unchanged corpus, with the time its store operations took;
3. serve: `Service.search_index` (the index open, to the first answer-ready state), a few warm-up
   questions, then `rag.ask` per question (extractive, offline), and the process's memory after.
`--code DIR` runs the children on the `rag` package in DIR (say, `git archive` of an older commit
unpacked there), so one harness gives before/after figures; `--baseline` puts an earlier run's
JSON beside this one in the table and the plot.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from rag.errors import RagError

ROOT = Path(__file__).resolve().parents[2]
WARM_UP_ASKS = 3
SYNTHETIC_MODEL = "fake:hashing"

# Runs in a fresh interpreter on the measured code (cwd and PYTHONPATH: --code): one mode per
# call, one JSON line out. Only APIs that every version since the first benchmark has are used.
CHILD = r'''
import json, os, resource, statistics, sys, threading, time

def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0

def cpu_seconds():
    """This process's CPU time and its finished children's (the file loader)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime

task = json.loads(sys.argv[1])
mode = task["mode"]
from rag.config import Config
config = Config.from_env()
out = {}

if mode == "index":
    from rag.backends.registry import make_embedder
    from rag.ingest.chunking import Chunker
    from rag.ingest.corpus import load_corpus
    from rag.service import Service

    documents = load_corpus(config.paths.corpus_dir, config=config)[0]
    chunker = Chunker(config)
    texts = [Chunker.embedding_text(d, c) for d in documents for c in chunker.split(d)]
    raw = make_embedder(config)
    raw.embed(texts[:8])  # loads the model: not part of the rate
    started, cpu = time.perf_counter(), time.process_time()
    raw.embed(texts[0::2])
    raw_before, raw_cpu = time.perf_counter() - started, time.process_time() - cpu

    baseline, peak, sampling = rss_mb(), [0.0], [True]
    def sample():
        while sampling[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu = time.perf_counter(), cpu_seconds()
    summary = Service(config).index()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    sampling[0] = False
    sampler.join()

    started, cpu_after = time.perf_counter(), time.process_time()
    raw.embed(texts[1::2])
    raw_after, raw_cpu = time.perf_counter() - started, raw_cpu + time.process_time() - cpu_after
    out = {
        "documents": summary.documents, "chunks": summary.chunks, "embedded": summary.embedded_chunks,
        "seconds": seconds, "chunks_per_s": summary.embedded_chunks / seconds,
        "raw_chunks": len(texts), "raw_seconds": raw_before + raw_after,
        "raw_chunks_per_s": len(texts) / (raw_before + raw_after),
        "raw_halves_per_s": [len(texts[0::2]) / raw_before, len(texts[1::2]) / raw_after],
        "cpu_seconds": cpu, "raw_cpu_seconds": raw_cpu,
        "rss_before_mb": baseline, "rss_growth_mb": max(peak[0] - baseline, 0.0),
    }

elif mode == "reindex":
    from rag.backends import store
    from rag.service import Service

    spent = {}
    def timed(name, method):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return run
    for name, method in list(vars(store.StoredIndex).items()):
        if callable(method) and not name.startswith("_"):
            setattr(store.StoredIndex, name, timed(name, method))
    service = Service(config)
    started = time.perf_counter()
    summary = service.index()
    out = {"seconds": time.perf_counter() - started, "embedded": summary.embedded_chunks,
           "unchanged": summary.unchanged, "store_seconds": {k: round(v, 3) for k, v in sorted(spent.items())}}

elif mode == "serve":
    started = time.perf_counter()
    import rag
    imported = time.perf_counter() - started
    service = rag.get_service()
    started = time.perf_counter()
    service.search_index
    opened = time.perf_counter() - started
    for question in task["warm_up"]:
        rag.ask(question)
    latencies, answered = [], 0
    for question in task["questions"]:
        started = time.perf_counter()
        answer = rag.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
        answered += bool(answer.answerable)
    ordered = sorted(latencies)
    out = {
        "import_seconds": imported, "open_seconds": opened, "rss_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM"),
        "asks": len(latencies), "answered": answered,
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }

print("RESULT " + json.dumps(out))
'''


@dataclass
class BenchCorpus:
    """A corpus folder written for one size, and questions to ask of it."""

    series: str  # "real" or "synthetic"
    size: int  # articles (real) or target chunks (synthetic)
    folder: Path
    articles: int
    questions: list[str]


def parse_sizes(text: str) -> list[int]:
    """'300,1000' -> [300, 1000]; '' -> []."""
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RagError(f"Sizes are whole numbers separated by commas, got {text!r}.") from None
    if any(size <= 0 for size in sizes):
        raise RagError(f"Sizes must be positive, got {text!r}.")
    return sorted(set(sizes))


# Corpora ------------------------------------------------------------------------------------


def _write_article(folder: Path, name: str, front: dict, text: str) -> None:
    header = yaml.safe_dump({k: v for k, v in front.items() if v}, allow_unicode=True, sort_keys=False)
    (folder / f"{name}.md").write_text(f"---\n{header}---\n{text}", encoding="utf-8")


def _read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def real_corpus(documents: Path, questions: list[str], articles: int, folder: Path) -> BenchCorpus:
    """The first `articles` usable articles of `documents`, one Markdown file each."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    titles = []
    for record in _read_jsonl(documents):
        if not record.get("id") or not str(record.get("text") or "").strip():
            continue
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(record["id"]))
        _write_article(folder, name, {k: record.get(k) for k in ("title", "url", "published")}, record["text"])
        titles.append(record.get("title") or "")
        written += 1
        if written == articles:
            break
    if written < articles:
        raise RagError(f"{documents} has {written} usable articles, fewer than {articles}.")
    asked = questions or [f"What happened in {title}?" for title in titles if title]
    return BenchCorpus("real", articles, folder, written, asked)


class SyntheticNews:
    """Deterministic made-up articles: Zipf-distributed pseudo-words, named speakers with quotes,
    outlets and dates, so BM25, the answer support scores and the quote handling all have work to do."""

    SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]

    def __init__(self, seed: int = 13, vocabulary: int = 30_000, names: int = 2_000):
        self.rng = random.Random(seed)
        self.words = self._words(vocabulary)
        self.cum_weights = list(_accumulate(1 / (rank + 1) ** 1.07 for rank in range(len(self.words))))
        self.names = [f"{a.title()} {b.title()}" for a, b in zip(self._words(names), self._words(names))]
        self.outlets = [f"The {w.title()} Herald" for w in self._words(12)]

    def _words(self, n: int) -> list[str]:
        found: dict[str, None] = {}
        while len(found) < n:
            found["".join(self.rng.choices(self.SYLLABLES, k=self.rng.choice((2, 2, 3, 3, 4))))] = None
        return list(found)

    def _sentence(self) -> tuple[str, str | None]:
        words = self.rng.choices(self.words, cum_weights=self.cum_weights, k=self.rng.randint(8, 24))
        if self.rng.random() < 0.25:
            speaker = self.rng.choice(self.names)
            return f"“{' '.join(words).capitalize()},” said {speaker}.", speaker
        if self.rng.random() < 0.3:
            words.insert(self.rng.randrange(len(words)), self.rng.choice(self.names))
        return " ".join(words).capitalize() + ".", None

    def article(self, paragraphs: int) -> tuple[dict, str, str]:
        """(front matter, text, a question about it)."""
        title = " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=self.rng.randint(5, 9))).title()
        body, question = [], None
        for _ in range(paragraphs):
            sentences = [self._sentence() for _ in range(self.rng.randint(3, 6))]
            body.append(" ".join(text for text, _ in sentences))
            for text, speaker in sentences:
                if speaker and question is None:
                    topic = [w for w in text.split() if len(w) > 6][:2]
                    question = f"What did {speaker} say about {' '.join(topic).strip('“”,.')}?"
        day = dt.date(2024, 1, 1) + dt.timedelta(days=self.rng.randrange(366))
        front = {"title": title, "publisher": self.rng.choice(self.outlets), "published": day.isoformat()}
        return front, f"{title}\n\n" + "\n\n".join(body), question or f"What happened in {title}?"


def _accumulate(values: Iterator[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def synthetic_corpus(chunks: int, folder: Path, asks: int, paragraphs: int = 24) -> BenchCorpus:
    """Made-up articles adding up to about `chunks` chunks (the chunk count per article is
    measured on a sample with the real splitter)."""
    from rag.config import Config
    from rag.ingest.chunking import Chunker
    from rag.types import Document

    news = SyntheticNews()
    chunker = Chunker(Config.from_env())
    sample = [news.article(paragraphs) for _ in range(20)]
    per_article = statistics.mean(len(chunker.split(Document("s", text, "s", "s", "h"))) for _, text, _ in sample)
    articles = max(1, round(chunks / per_article))
    folder.mkdir(parents=True, exist_ok=True)
    news = SyntheticNews()  # the sample again as the first articles: the same corpus at every size
    questions = []
    for number in range(articles):
        front, text, question = news.article(paragraphs)
        _write_article(folder, f"article-{number:06d}", front, text)
        questions.append(question)
    step = max(1, len(questions) // max(asks + WARM_UP_ASKS, 1))
    return BenchCorpus("synthetic", chunks, folder, articles, questions[::step])


# Measuring ----------------------------------------------------------------------------------


def _child(mode: str, corpus: BenchCorpus, index_dir: Path, code: Path, **task) -> dict:
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")])),
        "RAG_CORPUS_DIR": str(corpus.folder), "RAG_INDEX_DIR": str(index_dir), "RAG_LLM_BACKEND": "none",
        "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TQDM_DISABLE": "1",
    })
    if corpus.series == "synthetic":
        env["RAG_EMBED_MODEL"] = SYNTHETIC_MODEL
    run = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"mode": mode, **task})],
        cwd=code, env=env, capture_output=True, text=True,
    )
    for line in reversed(run.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RagError(f"The {mode} step failed ({corpus.series}, {corpus.size}): {run.stderr.strip()[-2000:]}")


def measure(corpus: BenchCorpus, index_dir: Path, code: Path, asks: int, log) -> dict:
    """Index, re-index and serve one corpus, each in a fresh process."""
    if index_dir.exists():
        shutil.rmtree(index_dir)
    load = os.getloadavg()[0]
    log(f"{corpus.series} {corpus.size}: indexing {corpus.articles} articles")
    indexed = _child("index", corpus, index_dir, code)
    rates = f"{indexed['chunks_per_s']:.1f} chunks/s, raw embedder {indexed['raw_chunks_per_s']:.1f}"
    log(f"  {indexed['chunks']} chunks: {rates}")
    reindexed = _child("reindex", corpus, index_dir, code)
    log(f"  unchanged re-index {reindexed['seconds']:.2f} s")
    needed = WARM_UP_ASKS + asks
    pool = (corpus.questions or ["What happened?"]) * needed  # a small corpus asks its questions again
    warm_up, questions = pool[:WARM_UP_ASKS], pool[WARM_UP_ASKS:needed]
    served = _child("serve", corpus, index_dir, code, warm_up=warm_up, questions=questions)
    log(f"  open {served['open_seconds']:.2f} s, RSS {served['rss_mb']:.0f} MB, p50 {served['p50_ms']:.0f} ms")
    return {"series": corpus.series, "size": corpus.size, "articles": corpus.articles,
            "load": [load, os.getloadavg()[0]], "index": indexed, "reindex": reindexed, "serve": served}


# Reporting ----------------------------------------------------------------------------------

COLUMNS = [
    ("chunks", lambda r: r["index"]["chunks"], "{:,.0f}"),
    ("indexing chunks/s", lambda r: r["index"]["chunks_per_s"], "{:.1f}"),
    ("raw embedder chunks/s", lambda r: r["index"]["raw_chunks_per_s"], "{:.1f}"),
    ("ratio", lambda r: r["index"]["chunks_per_s"] / r["index"]["raw_chunks_per_s"], "{:.2f}"),
    ("ratio in CPU time", lambda r: r["index"]["embedded"] / r["index"]["cpu_seconds"]
     / (r["index"]["raw_chunks"] / r["index"]["raw_cpu_seconds"]), "{:.2f}"),
    ("indexing RSS growth MB", lambda r: r["index"]["rss_growth_mb"], "{:.0f}"),
    ("unchanged re-index s", lambda r: r["reindex"]["seconds"], "{:.2f}"),
    ("index open s", lambda r: r["serve"]["open_seconds"], "{:.2f}"),
    ("serve RSS MB", lambda r: r["serve"]["rss_mb"], "{:.0f}"),
    ("ask p50 ms", lambda r: r["serve"]["p50_ms"], "{:.0f}"),
    ("ask p95 ms", lambda r: r["serve"]["p95_ms"], "{:.0f}"),
]
GROWTH = ["unchanged re-index s", "index open s", "serve RSS MB", "ask p50 ms", "ask p95 ms", "indexing RSS growth MB"]
SERIES = {"real": ("articles", "real articles, embedder: the configured one"),
          "synthetic": ("target chunks", f"synthetic articles, embedder: {SYNTHETIC_MODEL} (nearly free, so the "
                                         "indexing rate is the pipeline's own cost: reading, chunking, writing)")}


def _value(run: dict, column: str) -> float:
    return next(get(run) for name, get, _ in COLUMNS if name == column)


def markdown(results: dict, baseline: dict | None) -> str:
    """One table per series; a cell reads `before → now` when the baseline measured that size."""
    before = {(r["series"], r["size"]): r for r in (baseline or {}).get("runs", [])}
    lines = [f"Measured {results['date']} on {results['machine']} (code: {results['code']})."]
    if baseline:
        lines.append(f"Cells read `before → now`; before: {baseline['date']} (code: {baseline['code']}).")
    for series, (size_label, title) in SERIES.items():
        runs = [r for r in results["runs"] if r["series"] == series]
        if not runs:
            continue
        lines += ["", f"**{title}**", "", "| " + " | ".join([size_label] + [c for c, _, _ in COLUMNS]) + " |",
                  "|" + "---:|" * (len(COLUMNS) + 1)]
        for run in runs:
            cells = [f"{run['size']:,}"]
            old = before.get((series, run["size"]))
            for _, get, fmt in COLUMNS:
                cell = fmt.format(get(run))
                cells.append(f"{fmt.format(get(old))} → {cell}" if old else cell)
            lines.append("| " + " | ".join(cells) + " |")
        loads = ", ".join(f"{r['size']:,}: {r['load'][0]:.1f}/{r['load'][1]:.1f}" for r in runs if "load" in r)
        if loads:
            lines.append(f"\nMachine load (1-minute average, other work included) as each size started/ended: {loads}.")
        if len(runs) > 1:
            first, last = runs[0], runs[-1]
            factor = _value(last, "chunks") / _value(first, "chunks")
            growth = ", ".join(
                f"{name} ×{_value(last, name) / _value(first, name):.2f}" for name in GROWTH if _value(first, name) > 0
            )
            span = f"From {first['size']:,} to {last['size']:,} {size_label} (chunks ×{factor:.1f})"
            lines.append(f"\n{span}: {growth}.")
    return "\n".join(lines) + "\n"


PANELS = [
    ("indexing / raw embedder (MiniLM)", "ratio", 0.9),
    ("unchanged re-index (s)", "unchanged re-index s", 1.0),
    ("index open (s)", "index open s", 2.0),
    ("serve RSS (MB)", "serve RSS MB", 1024.0),
    ("ask p50 and p95 (ms)", "ask p50 ms", 100.0),
    ("indexing RSS growth (MB)", "indexing RSS growth MB", None),
]


def plot(results: dict, baseline: dict | None, path: Path) -> None:
    """Each figure against chunks (log scale): this run solid, the baseline dashed, targets grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(14, 8))
    styles = {"real": ("tab:blue", "o"), "synthetic": ("tab:orange", "s")}
    for ax, (title, column, target) in zip(axes.flat, PANELS):
        for data, line, label in ((results, "-", "now"), (baseline, "--", "before")):
            for series, (colour, marker) in styles.items():
                runs = [r for r in (data or {}).get("runs", []) if r["series"] == series]
                if not runs or (column == "ratio" and series == "synthetic"):  # the hashing embedder costs nothing
                    continue
                x = [_value(r, "chunks") for r in runs]
                y = [_value(r, column) for r in runs]
                ax.plot(x, y, line, color=colour, marker=marker, label=f"{series}, {label}")
                if column == "ask p50 ms":
                    ax.plot(x, [_value(r, "ask p95 ms") for r in runs], line, color=colour, marker=marker, alpha=0.45)
        if target is not None:
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("chunks")
        ax.grid(alpha=0.3)
    axes.flat[2].legend(fontsize=8)  # the open time panel has every series; the ratio panel only real ones
    figure.suptitle(f"newsrag at scale ({results['date']}; dotted: targets)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# The command ------------------------------------------------------------------------------


def run_scale(
    articles: list[int], synthetic: list[int], documents: Path | None, questions: Path | None, asks: int,
    out: Path, name: str, baseline: Path | None, code: Path | None, work: Path | None, log=print,
) -> dict:
    """Measure every size, write `<out>/<name>.json`, `.md` and `.png`, and return the results."""
    if asks < 1:
        raise RagError("--asks must be at least 1.")
    if articles and documents is None:
        raise RagError("The real series needs --documents (a JSONL or .jsonl.gz of articles), or --articles ''.")
    code = (code or ROOT).resolve()
    if not (code / "rag" / "__init__.py").exists():
        raise RagError(f"No rag package in {code}.")
    old = json.loads(baseline.read_text(encoding="utf-8")) if baseline else None
    asked = []
    if articles:
        questions = questions or documents.with_name("questions.jsonl")
        if questions.exists():
            asked = [r["question"] for r in _read_jsonl(questions) if r.get("question")]

    results = {
        "date": dt.date.today().isoformat(), "code": str(code) if code != ROOT else "this tree",
        "machine": f"{os.cpu_count()} cores", "runs": [],
    }
    workdir = work or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    try:
        for size in articles:
            corpus = real_corpus(documents, asked, size, workdir / f"real-{size}" / "corpus")
            results["runs"].append(measure(corpus, workdir / f"real-{size}" / "index", code, asks, log))
        for size in synthetic:
            log(f"synthetic {size}: writing the corpus")
            corpus = synthetic_corpus(size, workdir / f"synthetic-{size}" / "corpus", asks)
            results["runs"].append(measure(corpus, workdir / f"synthetic-{size}" / "index", code, asks, log))
    finally:
        if work is None:
            shutil.rmtree(workdir, ignore_errors=True)

    log(write_report(results, old, out, name))
    return results


def write_report(results: dict, baseline: dict | None, out: Path, name: str) -> str:
    """`<out>/<name>.json`, `.md` and `.png`; returns the markdown tables."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = markdown(results, baseline)
    (out / f"{name}.md").write_text(f"# Scale benchmark\n\n{table}\n![scale]({name}.png)\n", encoding="utf-8")
    plot(results, baseline, out / f"{name}.png")
    return table
