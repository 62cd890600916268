"""`python -m rag users ...` and `python -m rag eval --from-feedback`, through the CLI's `main`."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from rag.cli import main
from rag.config import Config
from rag.evals.gold import load_gold
from rag.team.accounts import Accounts
from rag.team.conversations import Conversations
from rag.team.db import open_database
from rag.team.feedback import FeedbackStore, correction_facts
from rag.types import Answer, Citation


@pytest.fixture
def index_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.delenv("RAG_DATABASE_URL", raising=False)
    monkeypatch.delenv("RAG_AUTH", raising=False)
    return tmp_path / "index"


def run(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_commands_manage_accounts_in_the_index_folder(index_dir, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "users", "add", "alice", "--role", "editor", stdin="first-password\n")
    assert code == 0 and "until it is restarted" in out
    assert (index_dir / "team.sqlite3").is_file()
    code, _, err = run(monkeypatch, capsys, "users", "add", "bob", stdin="short\n")
    assert code == 1 and err.strip() == "error: A password needs at least 8 characters."
    code, out, _ = run(monkeypatch, capsys, "users", "list")
    assert out.split()[:2] == ["alice", "editor"] and "bob" not in out
    code, out, _ = run(monkeypatch, capsys, "users", "add", "carol", stdin="carols-password\n")
    assert code == 0 and out.strip() == "Added carol (reader)."
    assert run(monkeypatch, capsys, "users", "passwd", "alice", "--password-stdin", stdin="second-password\n")[0] == 0
    code, _, err = run(monkeypatch, capsys, "users", "passwd", "nobody", stdin="third-password\n")
    assert code == 1 and "No account named 'nobody'" in err
    assert run(monkeypatch, capsys, "users", "role", "alice", "admin")[0] == 0
    database = open_database(Config.from_env())
    accounts = Accounts(database)
    assert accounts.check("alice", "second-password").role.value == "admin"
    assert accounts.check("alice", "first-password") is None
    database.close()
    code, _, err = run(monkeypatch, capsys, "users", "remove", "alice")
    assert code == 1 and "last admin" in err
    monkeypatch.setenv("RAG_AUTH", "root:pw")
    assert run(monkeypatch, capsys, "users", "remove", "alice")[0] == 0
    assert run(monkeypatch, capsys, "users", "remove", "carol")[0] == 0
    assert run(monkeypatch, capsys, "users", "list")[1].split() == ["root", "admin", "RAG_AUTH"]


def test_bad_database_urls_are_one_line_errors(index_dir, monkeypatch, capsys):
    for url, expected in (("not a url", "is not a database URL"), ("postgresql+psycopg://u:secret@127.0.0.1:1/db",
                                                                    "Cannot open the team database")):
        monkeypatch.setenv("RAG_DATABASE_URL", url)
        code, _, err = run(monkeypatch, capsys, "users", "list")
        assert code == 1 and expected in err and len(err.strip().splitlines()) == 1 and "secret" not in err


def test_eval_from_feedback_writes_gold_items_for_review(index_dir, monkeypatch, capsys, tmp_path):
    database = open_database(Config.from_env())
    cite = Citation(1, "doc-a", "Headline", "Medinsky led it.", "https://example.org", "Reuters")
    alice = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add("alice", "password-1").id
    saved = Conversations(database).save_turn(alice, None, Answer("Who led it?", "Lavrov [1].", [cite], True, "extractive"))
    FeedbackStore(database).rate(alice, saved.turn_id, "down", "wrong man", "Vladimir Medinsky led it.")
    database.close()
    target = tmp_path / "review" / "feedback.yaml"
    code, out, _ = run(monkeypatch, capsys, "eval", "--from-feedback", str(target))
    assert code == 0 and "Wrote 1 items" in out
    (item,) = load_gold(target)
    assert (item.question, item.category, item.facts) == ("Who led it?", "fact", [[r"\bvladimir\W+medinsky\b", r"\bmedinsky\b"]])
    assert run(monkeypatch, capsys, "eval", "--from-feedback", str(target), "--rating", "up")[1].startswith("Wrote 0 items")


def test_a_thumbs_up_item_keeps_only_facts_its_answer_holds(index_dir, monkeypatch, capsys, tmp_path):
    database = open_database(Config.from_env())
    cite = Citation(1, "doc-a", "Headline", "Medinsky led it.", "https://example.org", "Reuters")
    text = "**Vladimir Medinsky** — Despite the rain, Medinsky led it [1].\n\nMore [1]."
    alice = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add("alice", "password-1").id
    saved = Conversations(database).save_turn(alice, None, Answer("Who led it?", text, [cite], True, "extractive"))
    FeedbackStore(database).rate(alice, saved.turn_id, "up")
    database.close()
    target = tmp_path / "up.yaml"
    assert run(monkeypatch, capsys, "eval", "--from-feedback", str(target))[0] == 0
    (item,) = load_gold(target)
    assert item.facts == [[r"\bvladimir\W+medinsky\b", r"\bmedinsky\b"]] and item.docs == ["doc-a"]


@pytest.mark.parametrize("correction, question, expected", [
    ("It was Vladimir Medinsky.", "Who led it?", [[r"\bvladimir\W+medinsky\b", r"\bmedinsky\b"]]),
    ("The talks were on 16 May 2025 in Istanbul.", "When were the talks?", [[r"\b16\W+may\W+2025\b"], [r"\bistanbul\b"]]),
    ("About 12% of them, roughly 3 million people.", "How many?", [[r"\b12\b"], [r"\b3\W+million\b"]]),
    ("Merz met Macron.", "What did Merz say?", [[r"\bmacron\b"]]),  # the question's name is no fact
    ("The talks were postponed indefinitely", "What happened to the talks?", [[r"\bindefinitely\b"], [r"\bpostponed\b"]]),
    # no fact from a citation marker, a function word opening a sentence, or a name the text denies
    ("Despite the talks, Putin did not come to Istanbul [1].", "Who came?", [[r"\bistanbul\b"]]),
    ("Putin did not come; Lavrov led it [2].", "Who led it?", [[r"\blavrov\b"]]),
    ("It was not Lavrov but Vladimir Medinsky.", "Who led it?", [[r"\bvladimir\W+medinsky\b", r"\bmedinsky\b"]]),
    ("Putin never came, so the talks were postponed.", "What happened?", [[r"\bpostponed\b"], [r"\btalks\b"]]),
])
def test_facts_come_from_the_correction_minus_the_question(correction, question, expected):
    assert correction_facts(correction, question) == expected
