"""Keyword engines compared on the news-QA benchmark's chunks: recall, latency, memory, open and update cost.

    .venv/bin/python benchmarks/sparse.py --documents /work/shared/bench/realtimeqa-2022/documents.jsonl.gz \
        --questions /work/shared/bench/realtimeqa-2022/questions.jsonl [--limit N] [--skip M]

The chunks are the product's own (cleaned and chunked as `rag index` does them; nothing is
embedded), of the same slice `rag bench` uses (without --limit/--skip: every document and every
question). Engines:

- `bm25s`: llama-index's `BM25Retriever` in memory, as `SearchIndex` built it at every start;
- `sqlite`: the product's index (rag/backends/sparse.py): bm25s's tokens and Lucene BM25 over
  postings kept in SQLite, scored with numpy (after `compact`, as an indexing run leaves it);
- `fts5`: an SQLite FTS5 table over the same tokens, ranked by FTS5's `bm25()`;
- `fts5-porter`: FTS5 over the raw chunk text with its own `porter unicode61` tokenizer (query words
  without English stopwords).

Recall: the share of questions with a gold answer (whole words, `rag bench`'s matching) in one of
the k best chunks, the chunk alone (no neighbours, no date filter): the engine, not the product.
Each engine builds, and then serves, in a fresh child process, so open time and RSS are its own.
Update: one article added and one removed (bm25s can only be built again).
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENGINES = ("bm25s", "sqlite", "fts5", "fts5-porter")
KS = (5, 20)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def prepare(args, workdir: Path) -> Path:
    """The slice's documents, cleaned and chunked by the product, pickled for the child processes."""
    from rag.config import Config
    from rag.evals.bench import read_jsonl, select_slice
    from rag.ingest.chunking import Chunker
    from rag.ingest.corpus import load_corpus

    questions = [q for q in read_jsonl(args.questions) if q.get("question") and q.get("answers")][args.skip :]
    if args.limit:
        questions = questions[: args.limit]
    documents = [d for d in read_jsonl(args.documents) if d.get("id") and (d.get("text") or "").strip()]
    if args.limit or args.skip:
        documents, _ = select_slice(documents, questions)
    corpus = workdir / "corpus"
    corpus.mkdir()
    for part in range(0, len(documents), 200):  # files stay under the loader's 20 MB limit
        with (corpus / f"slice-{part // 200:03d}.jsonl").open("w", encoding="utf-8") as handle:
            for d in documents[part : part + 200]:
                handle.write(json.dumps({k: d.get(k) for k in ("id", "title", "url", "published", "text") if d.get(k)}) + "\n")
    config = Config.from_env().with_(corpus_dir=corpus)
    started = time.perf_counter()
    docs, _, _ = load_corpus(corpus, config=config)
    chunker = Chunker(config)
    chunks = [(doc, chunker.split(doc)) for doc in docs]
    print(f"{len(questions)} questions; {len(docs)} documents, {sum(len(c) for _, c in chunks):,} chunks "
          f"(cleaned and chunked in {time.perf_counter() - started:.0f} s)", flush=True)
    path = workdir / "chunks.pickle"  # what every child process reads
    with path.open("wb") as handle:
        pickle.dump({"questions": questions, "chunks": chunks}, handle)
    return path


# Engines: build(data, folder) -> None; open(folder, data) -> search(query, k) -> [chunk texts]; update(...)


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class Bm25s:
    def build(self, data: dict, folder: Path) -> None:
        self.retriever, self.texts = self._make(data)

    @staticmethod
    def _make(data: dict):
        import logging

        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        nodes = [TextNode(id_=c.chunk_id, text=c.text) for _, pieces in data["chunks"] for c in pieces]
        retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=max(KS), language="en")
        return retriever, {n.node_id: n.text for n in nodes}

    def open(self, folder: Path, data: dict):
        self.build(data, folder)  # held in memory only: every process builds it again
        return lambda query, k: [self.texts[h.node.node_id] for h in self.retriever.retrieve(query)[:k] if (h.score or 0) > 0]

    def update(self, folder: Path, data: dict, added, removed) -> None:
        kept = {"chunks": [(d, p) for d, p in data["chunks"] if d.doc_id != removed.doc_id] + [added]}
        self._make(kept)


class Sqlite:
    def build(self, data: dict, folder: Path) -> None:
        from rag.backends.sparse import SparseIndex

        sparse = SparseIndex(folder / "sparse.sqlite3")
        for doc, pieces in data["chunks"]:
            self._add(sparse, doc, pieces)
        sparse.compact()
        sparse.close()

    @staticmethod
    def _add(sparse, doc, pieces) -> None:
        meta = {"doc_id": doc.doc_id, "version": doc.content_hash}
        sparse.put_chunks([c.chunk_id for c in pieces], [c.text for c in pieces],
                          [{**meta, "start": c.start, "end": c.end} for c in pieces])
        sparse.commit_document(doc.doc_id, doc.text, {"title": doc.title, "source": doc.source, "version": doc.content_hash,
                                                       "published": doc.published, "publisher": doc.publisher})

    def open(self, folder: Path, data: dict):
        from rag.backends.sparse import SparseIndex

        sparse = SparseIndex(folder / "sparse.sqlite3")

        def search(query: str, k: int) -> list[str]:
            ids = sparse.keyword(query, k)
            found = sparse.chunks(ids)
            return [found[i][0].text for i in ids]

        return search

    def update(self, folder: Path, data: dict, added, removed) -> None:
        from rag.backends.sparse import SparseIndex

        sparse = SparseIndex(folder / "sparse.sqlite3")
        self._add(sparse, *added)
        sparse.remove_documents([removed.doc_id])
        live = {doc.doc_id: doc.content_hash for doc, _ in data["chunks"] if doc.doc_id != removed.doc_id}
        sparse.remove_chunks(sparse.stale_chunks({**live, added[0].doc_id: added[0].content_hash}))


class Fts5:
    def build(self, data: dict, folder: Path) -> None:
        from rag.backends.sparse import keyword_tokens

        db = sqlite3.connect(folder / "fts5.sqlite3")
        db.execute("CREATE VIRTUAL TABLE chunks USING fts5(tokens, text UNINDEXED, doc_id UNINDEXED, "
                   "tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")")
        db.executemany("INSERT INTO chunks(tokens, text, doc_id) VALUES (?, ?, ?)",
                       [(" ".join(keyword_tokens(c.text)), c.text, doc.doc_id) for doc, pieces in data["chunks"] for c in pieces])
        db.commit()

    def open(self, folder: Path, data: dict):
        from rag.backends.sparse import keyword_tokens

        db = sqlite3.connect(folder / "fts5.sqlite3")

        def search(query: str, k: int) -> list[str]:
            tokens = keyword_tokens(query)
            if not tokens:
                return []
            expression = " OR ".join(f'"{t}"' for t in tokens)
            return [t for (t,) in db.execute("SELECT text FROM chunks WHERE chunks MATCH ? ORDER BY rank LIMIT ?", (expression, k))]

        return search

    def update(self, folder: Path, data: dict, added, removed) -> None:
        from rag.backends.sparse import keyword_tokens

        db = sqlite3.connect(folder / "fts5.sqlite3")
        doc, pieces = added
        db.executemany("INSERT INTO chunks(tokens, text, doc_id) VALUES (?, ?, ?)",
                       [(" ".join(keyword_tokens(c.text)), c.text, doc.doc_id) for c in pieces])
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (removed.doc_id,))
        db.commit()


class Fts5Porter:
    def build(self, data: dict, folder: Path) -> None:
        db = sqlite3.connect(folder / "porter.sqlite3")
        db.execute("CREATE VIRTUAL TABLE chunks USING fts5(text, doc_id UNINDEXED, tokenize='porter unicode61')")
        db.executemany("INSERT INTO chunks(text, doc_id) VALUES (?, ?)",
                       [(c.text, doc.doc_id) for doc, pieces in data["chunks"] for c in pieces])
        db.commit()

    def open(self, folder: Path, data: dict):
        import re

        db = sqlite3.connect(folder / "porter.sqlite3")
        stop = _stopwords()

        def search(query: str, k: int) -> list[str]:
            words = [w for w in re.findall(r"(?u)\b\w\w+\b", query.lower()) if w not in stop]
            if not words:
                return []
            expression = " OR ".join(f'"{w}"' for w in words)
            return [t for (t,) in db.execute("SELECT text FROM chunks WHERE chunks MATCH ? ORDER BY rank LIMIT ?", (expression, k))]

        return search

    def update(self, folder: Path, data: dict, added, removed) -> None:
        db = sqlite3.connect(folder / "porter.sqlite3")
        doc, pieces = added
        db.executemany("INSERT INTO chunks(text, doc_id) VALUES (?, ?)", [(c.text, doc.doc_id) for c in pieces])
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (removed.doc_id,))
        db.commit()


def make(engine: str):
    return {"bm25s": Bm25s, "sqlite": Sqlite, "fts5": Fts5, "fts5-porter": Fts5Porter}[engine]()


def child(engine: str, step: str, data_path: Path, folder: Path) -> dict:
    from rag.evals.bench import contains_answer

    base = rss_mb()
    with data_path.open("rb") as handle:
        data = pickle.load(handle)
    loaded = rss_mb()
    runner = make(engine)
    if step == "build":
        started = time.perf_counter()
        runner.build(data, folder)
        built = time.perf_counter() - started
        # One article out, another (the first one, under a new id) in, on a copy.
        doc, pieces = data["chunks"][0]
        added = (type(doc)(**{**doc.__dict__, "doc_id": doc.doc_id + "-new", "content_hash": "new"}),
                 [type(c)(**{**c.__dict__, "chunk_id": c.chunk_id + "-new", "doc_id": doc.doc_id + "-new"}) for c in pieces])
        started = time.perf_counter()
        runner.update(folder, data, added, data["chunks"][-1][0])
        return {"build_s": built, "update_s": time.perf_counter() - started,
                "disk_mb": sum(f.stat().st_size for f in folder.iterdir()) / 2**20}
    started = time.perf_counter()
    search = runner.open(folder, data)
    search("warm up", 1)
    opened = time.perf_counter() - started
    hits = {k: 0 for k in KS}
    latencies = []
    for q in data["questions"]:
        started = time.perf_counter()
        texts = search(str(q["question"]), max(KS))
        latencies.append((time.perf_counter() - started) * 1000)
        answers = [str(a) for a in q["answers"]]
        for k in KS:
            hits[k] += any(contains_answer(t, answers) for t in texts[:k])
    n = len(data["questions"])
    return {
        "open_s": opened, "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95),
        **{f"hit@{k}": hits[k] / n for k in KS},
        # RSS beyond the interpreter and the pickled chunks every child loads alike (ru_maxrss
        # would not do: Linux keeps the parent's peak across exec).
        "serve_rss_mb": rss_mb() - loaded + base,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--chunks", help="keep the cleaned chunks in this file, or read them from it if it exists")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "STEP", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, step, folder = args.child
        print(json.dumps(child(engine, step, Path(args.chunks), Path(folder))))
        return

    workdir = Path(tempfile.mkdtemp(prefix="rag-sparse-"))
    try:
        data_path = Path(args.chunks) if args.chunks and Path(args.chunks).exists() else prepare(args, workdir)
        if args.chunks and data_path != Path(args.chunks):
            shutil.copyfile(data_path, args.chunks)
        rows = []
        for engine in args.engines.split(","):
            folder = workdir / engine
            folder.mkdir()
            result = {}
            for step in ("build", "serve"):
                done = subprocess.run([sys.executable, __file__, "--documents", args.documents, "--questions", args.questions,
                                       "--chunks", str(data_path), "--child", engine, step, str(folder)],
                                      capture_output=True, text=True, check=True)
                result.update(json.loads(done.stdout.strip().splitlines()[-1]))
            rows.append((engine, result))
            print(engine, json.dumps({k: round(v, 4) for k, v in result.items()}), flush=True)
        print()
        print("| engine | hit@5 | hit@20 | query p50 / p95 ms | open s | serve RSS MB | build s | update s | disk MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for engine, r in rows:
            print(f"| {engine} | {r['hit@5']:.1%} | {r['hit@20']:.1%} | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {r['open_s']:.2f} | "
                  f"{r['serve_rss_mb']:.0f} | {r['build_s']:.1f} | {r['update_s']:.2f} | {r['disk_mb']:.0f} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
