"""`python -m rag bench-scale` on a toy synthetic corpus (fake embedder, child processes), and the
CLI's progress bar, whose total the indexer revises as it reads."""

from __future__ import annotations

import json

import pytest

from rag.cli import progress_bar
from rag.errors import RagError
from rag.evals.scale import COLUMNS, markdown, parse_sizes, run_scale


def test_a_toy_synthetic_run_writes_a_table_a_plot_and_json(tmp_path):
    out = tmp_path / "out"
    results = run_scale([], [300], None, None, 4, out, "toy", None, None, tmp_path / "work", log=lambda line: None)

    run = results["runs"][0]
    assert run["series"] == "synthetic" and run["articles"] > 1
    assert run["index"]["embedded"] == run["index"]["chunks"] == run["index"]["raw_chunks"] > 200
    assert run["reindex"]["embedded"] == 0 and run["reindex"]["unchanged"] == run["articles"]
    assert run["reindex"]["store_seconds"] == {}  # an unchanged corpus opens no store (rag/ingest/settled.py)
    assert run["serve"]["asks"] == 4 and 0 < run["serve"]["p50_ms"] <= run["serve"]["p95_ms"]
    assert run["serve"]["open_seconds"] > 0 and run["serve"]["rss_mb"] > 0
    assert json.loads((out / "toy.json").read_text()) == results
    assert (out / "toy.png").read_bytes()[:4] == b"\x89PNG"

    table = [line for line in (out / "toy.md").read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["target chunks"] + [name for name, _, _ in COLUMNS]
    assert len(table) == 3 and len(table[2].strip("|").split("|")) == len(header)

    compared = markdown(results, baseline=results)
    assert "before → now" in compared and f"{run['index']['chunks']:,} → {run['index']['chunks']:,}" in compared


def test_sizes_are_parsed_or_refused():
    assert parse_sizes("1000, 300,300") == [300, 1000] and parse_sizes("") == [] and parse_sizes("20_000") == [20000]
    with pytest.raises(RagError):
        parse_sizes("ten")
    with pytest.raises(RagError):
        parse_sizes("0")


def test_the_progress_bar_follows_a_revised_total(capsys):
    update, close = progress_bar()
    update(0, 0)
    assert capsys.readouterr().err == ""  # nothing to embed, no bar
    for done, total in [(0, 40), (10, 40), (30, 90), (90, 90)]:
        update(done, total)
    close()
    shown = capsys.readouterr().err
    assert "30/90" in shown and "chunk/s" in shown
