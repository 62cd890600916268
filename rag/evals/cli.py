"""`python -m rag eval` and `python -m rag bench`: run, print, write the results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rag.evals.bench import run_bench
from rag.evals.gold import DEFAULT_GOLD, ItemResult, evaluate, load_gold
from rag.evals.report import CHART_NAME, failure_lines, format_table, write_report

if TYPE_CHECKING:
    from rag.service import Service


def run_eval_cli(args, service: "Service") -> int:
    """`python -m rag eval`: evaluate, print the table, write the report folder."""
    gold_path = Path(args.gold) if getattr(args, "gold", None) else DEFAULT_GOLD
    items = load_gold(gold_path)
    k = getattr(args, "k", None) or service.config.retrieval.top_k

    interactive = sys.stdout.isatty()

    def progress(done: int, total: int, result: ItemResult) -> None:
        if interactive:
            print(f"\r{done}/{total} {result.id:<20}", end="", flush=True)

    report = evaluate(service, items, k=k, progress=progress)
    report.gold_path = str(gold_path)
    if interactive:
        print("\r" + " " * 40 + "\r", end="")
    print(format_table(report))
    print()
    print(report.judges + ".")
    failures = failure_lines(report)
    if failures:
        print(f"\n{len(failures)} items did not pass all checks:")
        print("\n".join(failures))
    folder = write_report(report, getattr(args, "report", None) or "reports/eval")
    print(f"\nReport: {folder / 'index.html'} (also summary.md, {CHART_NAME}, results.json); {report.seconds:.1f} s")
    return 0


def run_bench_cli(args) -> int:
    """`python -m rag bench`."""
    run_bench(args.documents, args.questions, limit=args.limit, index_dir=args.index, out=args.out or "benchmarks/results",
              skip=args.skip, use_as_of=not getattr(args, "without_as_of", False), split=getattr(args, "split", None),
              split_file=getattr(args, "split_file", "benchmarks/split.json"), baselines=not getattr(args, "no_baselines", False),
              as_indexed=getattr(args, "as_indexed", None))
    return 0
