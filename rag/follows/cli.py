"""`python -m rag follow add | list | remove | feed | counts`, and the command line's re-answering of
follows after the commands that index."""

from __future__ import annotations

import json
import sys

from rag.errors import RagError


def run_follow(args, service) -> int:
    from rag.follows.api import Follows
    from rag.follows.owners import named_owner
    from rag.team.accounts import Accounts, reserved_name
    from rag.team.db import open_database

    database = open_database(service.config)
    try:
        follows = Follows(service, database)
        if args.action == "counts":  # what an admin sees: how many each user follows, never the questions
            accounts = Accounts(database, service.config.web.auth_pair)
            for owner, count in sorted(follows.store.counts().items()):
                account = accounts.by_id(owner)
                print(f"{account.username if account else reserved_name(owner):32} {count}")
            return 0
        owner = named_owner(database, service.config, args.user)
        if args.action == "add":
            follow = follows.add(owner, args.question, args.publisher, args.since, args.until)
            print(f"Following #{follow.follow_id}: {follow.question}")
            print(_answer_line(follow.answer))
        elif args.action == "list":
            rows = follows.list(owner)
            if args.json:
                out = [f.to_dict() | {"gone": follows.gone(f)} for f in rows]
                print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
                return 0
            for f in rows:
                _print_follow(f, follows.gone(f))
            print(f"{len(rows)} followed questions")
        elif args.action == "remove":
            follows.remove(owner, args.id)
            print(f"No longer following #{args.id}.")
        elif args.action == "feed":
            if args.revoke:
                done = follows.store.revoke_feed(owner)
                print("The feed address no longer works." if done else "There was no feed address.")
            else:
                token = follows.store.new_feed_token(owner)
                print(f"{service.config.web.app_url}/feeds/follows/{token}")
                print("Any earlier address of this feed no longer works. Keep this one private: it needs no login.",
                      file=sys.stderr)
    finally:
        database.close()
    return 0


def _answer_line(answer: dict) -> str:
    if not answer.get("answerable"):
        return "  now: no answer in the articles"
    first = (answer.get("text") or "").splitlines()[0] if answer.get("text") else ""
    dates = ", ".join(sorted({c.get("published") or "undated" for c in answer.get("citations") or []}))
    return f"  now: {first[:200]}  (sources dated {dates})"


def _print_follow(f, gone: list[dict]) -> None:
    filters = ", ".join(f"{k}={v}" for k, v in f.filters.items())
    print(f"#{f.follow_id}  {f.question}" + (f"  [{filters}]" if filters else "") + f"  ({f.unread} unread)")
    print(_answer_line(f.answer))
    if gone:
        print(f"  {len(gone)} of its sources have left the corpus")
    for u in f.updates:
        a = u.article
        print(f"  update {u.created_at:%Y-%m-%d %H:%M} UTC{'' if u.read_at else ' (unread)'}: {u.reason}")
        if a:
            print(f"    changed by: {a.get('title')} ({a.get('publisher') or '-'}, {a.get('published') or 'undated'})")


def keep_follows_current(service) -> None:
    """After this command's indexing run changes articles, re-answer the follows they could
    affect, before the command exits (the app does it in the background)."""

    def changed(summary) -> None:
        from rag.follows.api import watch
        from rag.team.db import open_database

        config = service.config
        if config.team.database_url is None and not (config.paths.index_dir / "team.sqlite3").exists():
            return  # no team database yet, so no follows: indexing must not create one
        try:
            database = open_database(service.config)
        except RagError as exc:
            print(f"warning: followed questions not re-answered: {exc}", file=sys.stderr)
            return
        try:
            watcher = watch(service, database, background=False)
            service.index_listeners.remove(watcher.changed)  # this run only: it is called here
            watcher.changed(summary)
            if watcher.last.checked:
                print(f"Followed questions: {watcher.last.checked} checked ({watcher.last.asked} asked again), "
                      f"{watcher.last.updates} updated.")
        finally:
            database.close()

    service.index_listeners.append(changed)


def add_parser(sub) -> None:
    """The `follow` subcommand's arguments (the caller sets its function)."""
    p = sub.add_parser("follow", help="followed questions: add, list, remove; your private feed of their updates")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="follow a question: answered now, re-asked whenever the news changes")
    a.add_argument("question")
    a.add_argument("--publisher", help="only this outlet")
    a.add_argument("--since", help="only articles from this date (YYYY-MM-DD)")
    a.add_argument("--until", help="only articles up to this date (YYYY-MM-DD)")
    a = actions.add_parser("list", help="your followed questions, each with its updates")
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("remove", help="stop following a question")
    a.add_argument("id", type=int)
    a = actions.add_parser("feed", help="a new private Atom feed address of your updates (the old one stops)")
    a.add_argument("--revoke", action="store_true", help="stop the feed address, make none")
    a = actions.add_parser("counts", help="how many questions each user follows (not which)")
    a.add_argument("--index", help="index folder, where the default SQLite database lives")
    for name, a in actions.choices.items():
        if name != "counts":
            a.add_argument("--user", help="whose follows (an account name; default: the local user of an app without accounts)")
            a.add_argument("--index", help="index folder, where the default SQLite database lives")
