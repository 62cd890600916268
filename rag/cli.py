"""Command line: `rag index | ask | sources | show | add | remove | feeds | serve | settings | eval | bench |
bench-scale | users | tokens | mcp | follow` (the `rag` script of the installed package, or `python -m rag`).

Output meant for programs: `--json` prints one JSON document (an error too: `{"error": "..."}`,
with a non-zero exit), `--jsonl` one JSON object a line for listings."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rag.errors import RagError


def _config(args):
    from rag.config import Config

    config = Config.from_env()
    if getattr(args, "corpus", None):
        config = config.with_(corpus_dir=Path(args.corpus))
    if getattr(args, "index", None):
        config = config.with_(index_dir=Path(args.index))
    return config


def _service(args):
    from rag.service import Service

    return Service(_config(args))


def progress_bar(label: str = "Embedding") -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar (chunks, rate, time left) driven by (done, total) callbacks. The total may change:
    the indexer estimates it until it has read the whole corpus."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if not total:
                return  # nothing to embed: no bar
            bar = tqdm(total=total, unit="chunk", desc=label, leave=False, dynamic_ncols=True)
        revised = total != bar.total
        bar.total = total
        bar.update(done - bar.n)
        if revised:
            bar.refresh()  # update() redraws at most ten times a second; a new total shows at once

    def close() -> None:
        if bar is not None:
            bar.close()

    return update, close


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _handed_index(config):
    """The indexing of a command run beside the app: its own when no app serves this embedded
    index, else handed to the app (rag/ingest/handoff.py), which says so on stderr."""
    from rag.ingest.handoff import hand_to_app
    from rag.ingest.locks import served_by_app

    if not served_by_app(config):
        return None
    return lambda rebuild=False, progress=None, allow_empty=False: hand_to_app(config, rebuild, allow_empty, say=_say)


def _unchanged(config):
    """The summary of an unchanged corpus, found before the service (and the answering code it
    imports) is loaded: the check itself opens no store (rag/ingest/settled.py). None otherwise."""
    from rag.ingest.corpus import load_corpus
    from rag.ingest.locks import IndexBusy, index_lock
    from rag.ingest.settled import unchanged
    from rag.types import IndexSummary

    if not config.paths.corpus_dir.is_dir():
        return None
    corpus, skipped, duplicates = load_corpus(config.paths.corpus_dir, config.ingest.max_file_bytes, config=config)
    summary = IndexSummary(skipped=skipped, duplicates=duplicates)
    try:
        with index_lock(config):
            return summary if unchanged(config, corpus, summary) else None
    except IndexBusy:
        return None  # another run (perhaps the app's) is indexing: the whole path says what to do


def cmd_index(args) -> int:
    import time

    from rag.follows.cli import keep_follows_current

    started = time.perf_counter()
    config = _config(args)
    if not args.rebuild and (summary := _unchanged(config)):
        summary.seconds = time.perf_counter() - started
        print("\n".join(summary.lines()))
        return 0
    if handed := _handed_index(config):
        print("\n".join(handed(rebuild=args.rebuild).lines()))
        return 0
    from rag.service import Service

    service = Service(config)
    keep_follows_current(service)
    update, close = progress_bar()
    try:
        summary = service.index(rebuild=args.rebuild, progress=update)
    finally:
        close()
    print("\n".join(summary.lines()))
    return 0


def _rows(rows: list, args) -> bool:
    """Print a listing for programs when asked (`--json`: one array, `--jsonl`: an object a line)."""
    if getattr(args, "jsonl", False):
        for row in rows:
            print(json.dumps(row.__dict__, ensure_ascii=False))
        return True
    if getattr(args, "json", False):
        print(json.dumps([row.__dict__ for row in rows], ensure_ascii=False, indent=2))
        return True
    return False


def _app_answers(app_url: str) -> bool:
    """Whether the app answers at `app_url` now (its /health), so its passage links open."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{app_url}/health", timeout=0.5) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def _citation_links(answer, app_url: str) -> dict[int, str | None]:
    """Each citation's link as printed: its article's own URL, or the app's passage view when the
    app answers there; otherwise none (the CLI shows `rag show DOC_ID --start S --end E`)."""
    passages = f"{app_url}/passage/"
    served = None
    links = {}
    for c in answer.citations:
        if c.url and c.url.startswith(passages):
            served = _app_answers(app_url) if served is None else served
            links[c.number] = c.url if served else None
        else:
            links[c.number] = c.url
    return links


def cmd_ask(args) -> int:
    service = _service(args)
    question = " ".join(args.question)
    filters = {k: v for k, v in (("publisher", args.publisher), ("since", args.since), ("until", args.until)) if v}
    if args.json:
        answer = service.ask(question, top_k=args.top_k, as_of=args.as_of, **filters)
        data = answer.to_dict()
        links = _citation_links(answer, service.config.web.app_url)
        for cited in data["citations"]:
            cited["url"] = links[cited["number"]]
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    from rag.types import Answer

    answer = None
    streamed = False
    for event in service.stream(question, top_k=args.top_k, as_of=args.as_of, **filters):
        if isinstance(event, Answer):
            answer = event
        elif service.llm is not None and answer is None:
            streamed = True
            print(event, end="", flush=True)
    if streamed:
        print("\n")  # the checked answer below replaces the raw stream
    print(answer.text)
    if answer.notice:
        print(f"\nNote: {answer.notice}")
    if answer.citations:
        print()
    links = _citation_links(answer, service.config.web.app_url)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.publisher, c.author, c.published) if x)
        print(f"[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        if c.also_in:
            print(f"    also in: {', '.join(c.also_in)}")
        print(f"    {links[c.number] or f'rag show {c.doc_id} --start {c.start} --end {c.end}'}")
    return 0


def cmd_show(args) -> int:
    """One document's cleaned text; with --start/--end, the cited passage marked with » «."""
    from rag.errors import IndexProblem

    doc = _service(args).document(args.doc_id)
    if doc is None:
        raise IndexProblem(f"No document {args.doc_id} (see `rag sources`)")
    text = doc.text
    if args.start is not None or args.end is not None:
        start, end = args.start or 0, len(text) if args.end is None else args.end
        if not 0 <= start <= end <= len(text):
            raise IndexProblem(f"The passage {start}-{end} is outside {args.doc_id} ({len(text):,} characters)")
        text = f"{text[:start]}»{text[start:end]}«{text[end:]}"
    if args.json:
        print(json.dumps({**{k: getattr(doc, k) for k in ("doc_id", "title", "source", "publisher", "author",
                                                           "published", "url")}, "text": doc.text,
                          "start": args.start, "end": args.end}, ensure_ascii=False, indent=2))
        return 0
    meta = ", ".join(x for x in (doc.publisher, doc.author, doc.published, doc.url or doc.source) if x)
    print(f"{doc.title}\n{meta}\n\n{text}")
    return 0


def cmd_serve(args) -> int:
    import time

    from rag.web.app import main as serve

    serve(time.perf_counter())
    return 0


def cmd_sources(args) -> int:
    service = _service(args)
    rows = service.sources()
    if _rows(rows, args):
        return 0
    for r in rows:
        meta = " | ".join(x or "-" for x in (r.publisher, r.author, r.published))
        print(f"{r.doc_id}  [{r.chunks} chunks]  {r.title}  ({meta})")
    print(f"{len(rows)} documents")
    return 0


def _writing_service(args):
    """The service for a command that indexes: while the app serves this embedded index, the
    command fetches and writes the corpus itself and hands the indexing to the app (whose watcher
    then re-answers followed questions); else it indexes itself and re-answers them before exiting."""
    from rag.follows.cli import keep_follows_current
    from rag.ingest.feeds import Feeds

    service = _service(args)
    if handed := _handed_index(service.config):
        service.feeds = Feeds(service.config, index=handed)
    else:
        keep_follows_current(service)
    return service


def _print_report(report) -> int:
    print("\n".join(report.lines()))
    return 0


def cmd_add(args) -> int:
    return _print_report(_writing_service(args).add_urls(args.urls))


def cmd_remove(args) -> int:
    return _print_report(_writing_service(args).remove(args.target))


def cmd_feeds(args) -> int:
    if args.action == "list":
        rows = _service(args).feeds.list()
        if _rows(rows, args):
            return 0
        for r in rows:
            state = f"error: {r.last_error}" if r.last_error else f"{r.new_articles} new"
            print(f"{r.url}  [{r.kind}, {r.articles} articles]  {r.title or '-'}  "
                  f"(last poll {r.last_poll or 'never'}: {state})")
        print(f"{len(rows)} feeds")
        return 0
    feeds = _writing_service(args).feeds if args.action != "remove" or args.delete_articles else _service(args).feeds
    if args.action == "add":
        info, report = feeds.add(args.url)
        print(f"Following {info.url} ({info.kind}{', ' + info.title if info.title else ''})")
        return _print_report(report)
    if args.action == "remove":
        report = feeds.remove(args.url, delete_articles=args.delete_articles)
        print("\n".join(f"No longer following {url}" for url in report.feeds))
        return _print_report(report) if args.delete_articles else 0
    return _print_report(feeds.poll(args.url))


def cmd_follow(args) -> int:
    from rag.follows.cli import run_follow

    return run_follow(args, _service(args))


def cmd_settings(args) -> int:
    from dataclasses import fields

    from rag.config import SECTIONS, Config

    config = Config.from_env()
    for name in SECTIONS:
        section = getattr(config, name)
        for f in fields(section):
            value = getattr(section, f.name)
            if not f.repr and value:
                value = "(set, hidden)"
            print(f"{f.metadata.get('env') or f.name:24} {value}")
    return 0


def cmd_eval(args) -> int:
    if args.from_feedback:
        from rag.team.cli import run_feedback_export

        return run_feedback_export(args, _config(args))
    from rag.evals.cli import run_eval_cli

    return run_eval_cli(args, _service(args))


def cmd_users(args) -> int:
    from rag.team.cli import run_users

    return run_users(args, _config(args))


def cmd_tokens(args) -> int:
    from rag.team.cli import run_tokens

    return run_tokens(args, _config(args))


def cmd_mcp(args) -> int:
    from rag.api.mcp_tools import run_stdio

    run_stdio(_service(args))
    return 0


def cmd_bench(args) -> int:
    from rag.evals.cli import run_bench_cli

    return run_bench_cli(args)


def cmd_bench_scale(args) -> int:
    from rag.evals.scale import parse_sizes, run_scale

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    path = lambda value: Path(value) if value else None  # noqa: E731
    run_scale(
        parse_sizes(args.articles), parse_sizes(args.synthetic), path(args.documents), path(args.questions), args.asks,
        Path(args.out), args.name, path(args.baseline), path(args.code), path(args.work), log=log,
    )
    return 0


def _listing_flags(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="print one JSON array")
    formats.add_argument("--jsonl", action="store_true", help="print one JSON object a line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited question answering over news articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    p.add_argument("--corpus", help="corpus folder (default: RAG_CORPUS_DIR or corpus/)")
    p.add_argument("--index", help="index folder (default: RAG_INDEX_DIR or index/)")
    p.add_argument("--rebuild", action="store_true", help="build a new index beside the live one, then switch to it")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--top-k", type=int, default=None, help="number of passages to retrieve")
    p.add_argument("--publisher", help="only articles from this outlet")
    p.add_argument("--since", help="only articles published on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="only articles published on or before this date (YYYY-MM-DD)")
    p.add_argument("--as-of", help="answer as on this day (YYYY-MM-DD, default today): no later articles, "
                                   "recent ones preferred, \"this week\" read against it")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("sources", help="list indexed documents")
    _listing_flags(p)
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("show", help="print one document's text, the cited passage marked (citation links point here)")
    p.add_argument("doc_id")
    p.add_argument("--start", type=int, help="the passage's first character")
    p.add_argument("--end", type=int, help="the character after the passage")
    p.add_argument("--json", action="store_true", help="print the document as JSON")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("serve", help="serve the web app (as `python app.py`)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("add", help="fetch article pages by URL into the corpus and index them")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="remove one article (a link added, an article a feed brought, a corpus file)")
    p.add_argument("target", metavar="URL_OR_DOC_ID", help="the article's link or its document id (`sources`)")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("feeds", help="follow RSS/Atom/JSON feeds, sitemaps and sites; poll them")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="follow a feed, a (news) sitemap, or a site whose feeds are discovered; poll it")
    a.add_argument("url")
    a = actions.add_parser("list", help="the followed feeds, their last poll, new articles and last error")
    _listing_flags(a)
    a = actions.add_parser("remove", help="stop following a feed, or every feed found at an address you added")
    a.add_argument("url")
    a.add_argument("--delete-articles", action="store_true",
                   help="also delete the articles no other feed lists and no one added by link")
    a = actions.add_parser("poll", help="fetch what is new now (all feeds, or one)")
    a.add_argument("url", nargs="?")
    for a in actions.choices.values():
        a.add_argument("--corpus")
        a.add_argument("--index")
    p.set_defaults(func=cmd_feeds)

    from rag.follows.cli import add_parser as add_follow_parser

    add_follow_parser(sub)
    sub.choices["follow"].set_defaults(func=cmd_follow)

    p = sub.add_parser("settings", help="print the settings in effect (secrets hidden)")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("eval", help="evaluate answer quality on a gold question set")
    p.add_argument("--set", dest="gold", default=None, help="gold set YAML (default: tests/gold/gold.yaml)")
    p.add_argument("--k", type=int, default=5, help="passages retrieved per question")
    p.add_argument("--report", default="reports/eval", help="folder for the markdown, HTML and chart report")
    p.add_argument("--from-feedback", metavar="FILE",
                   help="instead of evaluating, write the rated answers as gold-set items to FILE, for review")
    p.add_argument("--rating", choices=["up", "down"], help="with --from-feedback: only thumbs up or only down")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("users", help="accounts: list, add, passwd, role, remove (the team database)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every account and its role")
    for action, text in (("add", "add an account"), ("passwd", "set a new password")):
        q = actions.add_parser(action, help=text)
        q.add_argument("name")
        q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if action == "add":
            q.add_argument("--role", choices=["reader", "editor", "admin"], default="reader",
                           help="reader: asks; editor: also adds articles; admin: also accounts (default reader)")
    q = actions.add_parser("role", help="change an account's role")
    q.add_argument("name")
    q.add_argument("role", choices=["reader", "editor", "admin"])
    q = actions.add_parser("remove", help="remove an account (its conversations stay in the database)")
    q.add_argument("name")
    p.add_argument("--index", help="index folder, where the default SQLite database lives")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("tokens", help="personal API tokens for the JSON API and MCP: add, list, remove")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("add", help="make a token (printed once) that acts as the user, with the user's role")
    q.add_argument("--name", help="a label, e.g. where the token is used")
    q.add_argument("--expires-days", type=int, default=None, help="days until it stops working (default: never)")
    actions.add_parser("list", help="the user's tokens: id, label, made, last used, expiry (never the token)")
    q = actions.add_parser("remove", help="revoke a token, named by its id or by the token itself")
    q.add_argument("token", metavar="ID_OR_TOKEN")
    for q in actions.choices.values():
        q.add_argument("--user", help="whose tokens (default: the RAG_AUTH admin, else the only account)")
        q.add_argument("--index", help="index folder, where the default SQLite database lives")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("mcp", help="serve the corpus as MCP tools on standard input/output (for desktop assistants)")
    p.add_argument("--corpus")
    p.add_argument("--index")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("bench", help="benchmark on a JSONL news-QA set against llama-index and BM25 baselines")
    p.add_argument("--documents", required=True, nargs="+", help="JSONL (or .jsonl.gz) documents, one or more files")
    p.add_argument("--questions", required=True, nargs="+", help="JSONL questions: {id, question, answers, date}, one or more files")
    p.add_argument("--split", default=None, help="keep only the questions dated in this split of --split-file (e.g. heldout)")
    p.add_argument("--split-file", default="benchmarks/split.json", help="JSON: split name -> [first, last] date ranges")
    p.add_argument("--no-baselines", action="store_true",
                   help="leave out the llama-index retrievers (they embed every article again); the plain peers stay")
    p.add_argument("--as-indexed", type=float, default=None, metavar="SHARE",
                   help="ask over the kept --index as it stands (no indexing): the questions holding SHARE of their articles")
    p.add_argument("--limit", type=int, default=None, help="use the first N questions (and only their articles)")
    p.add_argument("--skip", type=int, default=0, help="skip the first M questions (a held-out slice)")
    p.add_argument("--index", default=None, help="index folder to keep (default: a temporary folder)")
    p.add_argument("--out", default="benchmarks/results", help="folder for the results table and JSON")
    p.add_argument("--without-as-of", action="store_true",
                   help="ask as of today instead of each question's date (to measure what the date is worth)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("bench-scale", help="indexing speed, re-index, open, memory and latency as the corpus grows")
    p.add_argument("--documents", help="JSONL (or .jsonl.gz) articles for the real series")
    p.add_argument("--questions", help="JSONL questions asked of the real series (default: questions.jsonl beside "
                                       "--documents, else one per article title)")
    p.add_argument("--articles", default="300,1000", help="real series sizes in articles, comma-separated ('' none)")
    p.add_argument("--synthetic", default="20000,50000,200000",
                   help="synthetic series sizes in chunks, comma-separated ('' for none)")
    p.add_argument("--asks", type=int, default=40, help="timed questions per size (after 3 warm-up ones)")
    p.add_argument("--out", default="benchmarks", help="folder for <name>.md, .png and .json")
    p.add_argument("--name", default="scale", help="file name stem of the results")
    p.add_argument("--baseline", help="an earlier run's JSON, shown as `before → now` and dashed in the plot")
    p.add_argument("--code", help="folder with the rag package to measure (default: this one), e.g. an older "
                                  "commit unpacked with `git archive`")
    p.add_argument("--work", help="folder for the corpora and indexes, kept (default: a temporary one, deleted)")
    p.set_defaults(func=cmd_bench_scale)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagError as exc:
        return _error(args, str(exc), 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unforeseen input: still one line, and a non-zero exit
        return _error(args, f"unexpected {exc.__class__.__name__}: {exc}".encode("utf-8", "replace").decode(), 2)


def _error(args, message: str, code: int) -> int:
    """One line on stderr; for `--json`/`--jsonl`, also `{"error": ...}` on stdout, where the program reads."""
    if getattr(args, "json", False) or getattr(args, "jsonl", False):
        print(json.dumps({"error": message}, ensure_ascii=False))
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
