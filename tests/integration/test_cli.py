"""The command line and `from rag import ask`, run as a user would, in fresh processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env_extra=None, cwd=ROOT):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_index_ask_json_and_sources(corpus_copy, tmp_path):
    env = {"RAG_CORPUS_DIR": str(corpus_copy), "RAG_INDEX_DIR": str(tmp_path / "index")}
    built = run("index", env_extra=env)
    assert built.returncode == 0, built.stderr
    assert "5 documents" in built.stdout and "5 added" in built.stdout

    again = run("index", env_extra=env)
    assert "0 chunks embedded" in again.stdout

    asked = run("ask", "--json", "what did Rubio say about Istanbul", env_extra=env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answerable"] is True and answer["mode"] == "extractive"
    assert {"number", "doc_id", "title", "publisher", "author", "published", "url", "quote"} <= set(answer["citations"][0])

    plain = run("ask", "Who led the Russian delegation?", env_extra=env)
    assert plain.returncode == 0 and "Medinsky" in plain.stdout and "[1]" in plain.stdout

    listed = run("sources", "--json", env_extra=env)
    rows = json.loads(listed.stdout)
    assert len(rows) == 5 and all(r["chunks"] > 0 and r["title"] for r in rows)


def test_index_flags_override_the_environment(corpus_copy, tmp_path):
    result = run("index", "--corpus", str(corpus_copy), "--index", str(tmp_path / "idx"))
    assert result.returncode == 0 and (tmp_path / "idx" / "chroma").is_dir()


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (("ask", ""), {}, "Please type a question"),
        (("index",), {"RAG_CORPUS_DIR": str(empty), "RAG_INDEX_DIR": str(tmp_path / "i")}, "No usable documents"),
        (("ask", "hello"), {"RAG_CORPUS_DIR": str(tmp_path / "missing"), "RAG_INDEX_DIR": str(tmp_path / "j")}, "Corpus folder not found"),
        (("ask", "hello"), {"RAG_TOP_K": "abc"}, "RAG_TOP_K must be a whole number"),
        (("ask", "hello"), {"RAG_CHUNK_TOKENS": "-5"}, "RAG_CHUNK_TOKENS must be between"),
        (("ask", "hello"), {"RAG_LLM_TIMEOUT": "soon"}, "RAG_LLM_TIMEOUT must be a number"),
        (("ask", "--top-k", "-3", "hello"), {}, "top_k must be a whole number"),
        (("ask", "--since", "last week", "hello"), {}, "since must be a date"),
        (("ask", "who said \udcff\udcfe"), {}, "not valid UTF-8"),
    ]
    for args, env, message in cases:
        result = run(*args, env_extra=env)
        assert result.returncode != 0
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    bad_args = run("ask")
    assert bad_args.returncode == 2 and "usage" in bad_args.stderr


def test_python_api_reads_its_folders_from_the_environment(corpus_copy, tmp_path):
    code = (
        "from rag import ask; a = ask('what did Rubio say about Istanbul'); "
        "print(a.answerable, len(a.citations) > 1, a.mode)"
    )
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus_copy), "RAG_INDEX_DIR": str(tmp_path / "index")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "extractive"]


def test_bench_scale_measures_the_real_series_from_a_jsonl_file(tmp_path):
    articles = tmp_path / "articles.jsonl"
    with articles.open("w", encoding="utf-8") as handle:
        for path in sorted((ROOT / "corpus").glob("*.txt"))[:4]:
            title, _, text = path.read_text(encoding="utf-8").partition("\n")
            handle.write(json.dumps({"id": path.stem, "title": title, "text": text}) + "\n")
    out = tmp_path / "out"
    done = run("bench-scale", "--documents", str(articles), "--articles", "2,4", "--synthetic", "", "--asks", "2",
               "--out", str(out), "--name", "toy")
    assert done.returncode == 0, done.stderr
    runs = json.loads((out / "toy.json").read_text())["runs"]
    assert [(r["series"], r["articles"]) for r in runs] == [("real", 2), ("real", 4)]
    for r in runs:
        assert r["index"]["embedded"] == r["index"]["raw_chunks"] == r["index"]["chunks"] > 0
        assert r["index"]["chunks_per_s"] > 0 and r["index"]["raw_chunks_per_s"] > 0
        assert r["reindex"]["embedded"] == 0 and r["serve"]["asks"] == 2
    table = (out / "toy.md").read_text()
    assert "real articles" in table and "From 2 to 4 articles" in table
