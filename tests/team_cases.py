"""The team database's tests, run twice: against SQLite (tests/unit/test_team_sqlite.py) and a
real PostgreSQL server (tests/servers/test_team_postgres.py). Each module defines `database_url`
(a fresh, empty database per test); the tests here only use domain operations and SQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import text

from rag.evals.gold import load_gold
from rag.team.accounts import AccountError, Accounts, Role
from rag.team.conversations import Conversations, NotFound, citation_notes
from rag.team.db import MIGRATIONS, current_revision, open_url
from rag.team.sessions import LoginSessions
from rag.team.feedback import FeedbackError, FeedbackStore, gold_items
from rag.team.quality import quality_report
from rag.types import Answer, Citation, Document

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


@pytest.fixture
def database(database_url):
    db = open_url(database_url)
    yield db
    db.close()


def answer(question: str, text: str = "Medinsky led it [1].", citations=None, answerable: bool = True,
           latency_ms: float = 100.0) -> Answer:
    if citations is None:
        citations = [citation(1, "istanbul-talks", "Reuters")]
    return Answer(question, text, citations, answerable, "extractive", latency_ms=latency_ms)


def citation(number: int, doc_id: str, publisher: str | None, quote: str = "Vladimir Medinsky led the delegation.") -> Citation:
    return Citation(number, doc_id, f"Headline of {doc_id}", quote, f"https://example.org/{doc_id}", publisher,
                    "A. Writer", "2025-05-16", 10, 10 + len(quote))


# Accounts ---------------------------------------------------------------------------------------


def test_passwords_are_salted_slow_hashes_and_logins_check_them(database):
    accounts = Accounts(database)
    assert not accounts.login_required()
    accounts.add("alice", "correct horse", "editor")
    accounts.add("bob", "correct horse", "reader")
    assert accounts.login_required()
    with database.reading() as session:
        hashes = dict(session.execute(text("SELECT username, password_hash FROM users")).all())
    assert all(h.startswith("$argon2id$") and "correct horse" not in h for h in hashes.values())
    assert hashes["alice"] != hashes["bob"]  # salted: the same password hashes differently
    assert accounts.check("alice", "correct horse").role is Role.EDITOR
    assert accounts.check("alice", "wrong horse") is None
    assert accounts.check("nobody", "correct horse") is None
    assert accounts.check("alice", "x" * 100_000) is None
    assert accounts.check(None, "correct horse") is None
    accounts.set_password("alice", "battery staple")
    assert accounts.check("alice", "correct horse") is None
    assert accounts.check("alice", "battery staple") is not None


def test_roles_and_account_rules(database):
    accounts = Accounts(database)
    accounts.add("boss", "password-1", "admin")
    accounts.add("carol", "password-2")
    assert [(a.username, a.role) for a in accounts.list()] == [("boss", Role.ADMIN), ("carol", Role.READER)]
    assert not Role.READER.can_upload and Role.EDITOR.can_upload and not Role.EDITOR.can_manage and Role.ADMIN.can_manage
    with pytest.raises(AccountError, match="already"):
        accounts.add("carol", "password-3")
    with pytest.raises(AccountError, match="at least 8"):
        accounts.add("dave", "short")
    for bad in ("", "two words", "x" * 65, "<script>", "-dash"):
        with pytest.raises(AccountError, match="user name"):
            accounts.add(bad, "password-4")
    with pytest.raises(AccountError, match="Unknown role"):
        accounts.add("erin", "password-5", "owner")
    with pytest.raises(AccountError, match="last admin"):
        accounts.remove("boss")
    with pytest.raises(AccountError, match="last admin"):
        accounts.set_role("boss", "reader")
    accounts.set_role("carol", "admin")
    accounts.set_role("boss", "reader")  # carol is an admin now
    assert accounts.get("boss").role is Role.READER
    accounts.remove("boss")
    assert accounts.get("boss") is None and accounts.check("boss", "password-1") is None
    with pytest.raises(AccountError, match="No account"):
        accounts.remove("boss")


def test_the_rag_auth_admin_is_an_account_from_the_settings(database):
    accounts = Accounts(database, settings_admin=("root", "pw"))
    assert accounts.login_required()
    assert accounts.check("root", "pw").role is Role.ADMIN and accounts.check("root", "px") is None
    assert accounts.get("root").from_settings
    accounts.add("zed", "password-1", "admin")
    accounts.remove("zed")  # RAG_AUTH stays an admin, so the last stored one may go
    for change in (lambda: accounts.add("root", "password-2"), lambda: accounts.set_password("root", "password-2"),
                   lambda: accounts.remove("root")):
        with pytest.raises(AccountError, match="RAG_AUTH"):
            change()
    assert [a.username for a in accounts.list()] == ["root"]


def test_login_sessions_are_shared_hashed_expire_and_end_with_the_account(database):
    accounts = Accounts(database)
    accounts.add("alice", "password-1", "editor")
    accounts.add("bob", "password-2", "admin")
    here, there = LoginSessions(database, dt.timedelta(days=1)), LoginSessions(database, dt.timedelta(days=1))
    here["token-a1"] = "alice"
    here["token-a2"] = "alice"
    here["token-b"] = "bob"
    assert there.get("token-a1") == "alice" and "token-b" in there  # another process knows them
    assert there.get("nope") is None and there.get(None) is None and list(there) == [] and len(there) == 3
    with database.reading() as session:
        stored = session.execute(text("SELECT token_hash FROM sessions")).scalars().all()
    assert not any(t.startswith("token") for t in stored)  # only hashes are kept
    del here["token-a2"]
    with pytest.raises(KeyError):
        del here["token-a2"]
    accounts.set_password("alice", "password-3")  # a new password ends alice's logins
    assert LoginSessions(database, dt.timedelta(days=1)).get("token-a1") is None
    here.end_all("bob")
    assert here.get("token-b") is None
    here["token-b2"] = "bob"
    accounts.set_role("alice", "admin")
    accounts.remove("bob")
    assert LoginSessions(database, dt.timedelta(days=1)).get("token-b2") is None
    short = LoginSessions(database, dt.timedelta(seconds=0.5))
    short["token-c"] = "alice"
    assert short.get("token-c") == "alice"
    time.sleep(0.6)
    assert LoginSessions(database, dt.timedelta(seconds=0.5)).get("token-c") is None  # expired


# Conversations ----------------------------------------------------------------------------------


def test_conversations_are_saved_titled_listed_newest_first_and_resumed(database):
    store = Conversations(database)
    first = store.save_turn("alice", None, answer("Who led the Russian delegation in Istanbul?"),
                            {"top_k": 5}, "gen-1", {"istanbul-talks": "hash-1"})
    second = store.save_turn("alice", None, answer("What did Rubio say?\nabout the talks " + "very " * 30))
    follow = store.save_turn("alice", first.conversation_id, answer("What did he warn?", "He warned [1]."))
    assert (first.position, follow.position, follow.conversation_id) == (0, 1, first.conversation_id)
    listed = store.list("alice")
    assert [c.conversation_id for c in listed] == [first.conversation_id, second.conversation_id]  # used last first
    assert listed[0].title == "Who led the Russian delegation in Istanbul?" and listed[0].turns == 2
    assert listed[1].title.startswith("What did Rubio say? about the talks") and listed[1].title.endswith("…")
    assert len(listed[1].title) <= 82
    view = store.open("alice", first.conversation_id)
    assert view.history() == [("Who led the Russian delegation in Istanbul?", "Medinsky led it [1]."),
                              ("What did he warn?", "He warned [1].")]
    kept = view.turns[0]
    assert (kept.settings, kept.index_generation, kept.mode, kept.latency_ms) == ({"top_k": 5}, "gen-1", "extractive", 100.0)
    c = kept.citations[0]
    assert (c.quote, c.title, c.publisher, c.published, c.start, c.content_hash) == (
        "Vladimir Medinsky led the delegation.", "Headline of istanbul-talks", "Reuters", "2025-05-16", 10, "hash-1")


def test_each_user_sees_and_changes_only_their_own_conversations(database):
    store = Conversations(database)
    mine = store.save_turn("alice", None, answer("Alice's question"))
    store.save_turn("bob", None, answer("Bob's question"))
    assert [c.title for c in store.list("bob")] == ["Bob's question"]
    for trespass in (
        lambda: store.open("bob", mine.conversation_id),
        lambda: store.rename("bob", mine.conversation_id, "mine now"),
        lambda: store.delete("bob", mine.conversation_id),
        lambda: store.save_turn("bob", mine.conversation_id, answer("sneaky")),
        lambda: store.share("bob", mine.turn_id),
        lambda: store.turn("bob", mine.turn_id),
    ):
        with pytest.raises(NotFound):
            trespass()
    assert store.open("alice", mine.conversation_id).title == "Alice's question"
    assert len(store.open("alice", mine.conversation_id).turns) == 1


def test_rename_delete_and_search(database):
    store = Conversations(database)
    a = store.save_turn("alice", None, answer("Who led the delegation?", "Vladimir Medinsky [1]."))
    b = store.save_turn("alice", None, answer("What is 100% certain?", "Nothing [1]."))
    store.rename("alice", a.conversation_id, "  Istanbul   talks ")
    assert store.open("alice", a.conversation_id).title == "Istanbul talks"
    with pytest.raises(Exception, match="empty"):
        store.rename("alice", a.conversation_id, "   ")
    assert [c.conversation_id for c in store.list("alice", "istanbul")] == [a.conversation_id]  # title, any case
    assert [c.conversation_id for c in store.list("alice", "MEDINSKY")] == [a.conversation_id]  # answer text
    assert [c.conversation_id for c in store.list("alice", "100%")] == [b.conversation_id]  # % is literal
    assert store.list("alice", "_") == [] and store.list("bob", "medinsky") == []
    token = store.share("alice", a.turn_id)
    FeedbackStore(database).rate("alice", a.turn_id, "up")
    store.delete("alice", a.conversation_id)
    assert [c.conversation_id for c in store.list("alice")] == [b.conversation_id]
    with pytest.raises(NotFound):
        store.shared(token)  # its answers' links go with it
    assert FeedbackStore(database).rated()[0].question == "Who led the delegation?"  # feedback stays


def test_kept_citations_say_when_the_article_changed_or_left(database):
    store = Conversations(database)
    saved = store.save_turn(
        "alice", None, answer("Q?", citations=[citation(1, "same", "A"), citation(2, "edited", "B"), citation(3, "gone", "C")]),
        content_hashes={"same": "h1", "edited": "h2", "gone": "h3"},
    )
    now = {"same": Document("same", "t", "T", "s", "h1"), "edited": Document("edited", "t", "T", "s", "h2-new")}
    notes = citation_notes(store.open("alice", saved.conversation_id).turns[0].citations, now.get)
    assert set(notes) == {2, 3}
    assert "changed" in notes[2] and "no longer in the corpus" in notes[3]


def test_permalinks_open_until_revoked_by_their_owner(database):
    store = Conversations(database)
    saved = store.save_turn("alice", None, answer("Who led the delegation?"))
    token = store.share("alice", saved.turn_id)
    shared = store.shared(token)
    assert (shared.owner, shared.turn.question, shared.turn.citations[0].publisher) == ("alice", "Who led the delegation?", "Reuters")
    assert [s.token for s in store.shares("alice")] == [token] and store.shares("bob") == []
    with pytest.raises(NotFound):
        store.revoke("bob", token)
    store.revoke("alice", token)
    for bad in (token, "nope", "", None, "x" * 500):
        with pytest.raises(NotFound):
            store.shared(bad)
    assert store.shares("alice") == []


# Feedback and quality ---------------------------------------------------------------------------


def test_feedback_keeps_what_shaped_the_answer_and_becomes_gold_items(database, tmp_path):
    store, feedback = Conversations(database), FeedbackStore(database)
    first = store.save_turn("alice", None, answer("Who led the Russian delegation?"), {"top_k": 3}, "gen-7")
    follow = store.save_turn("alice", first.conversation_id, answer("What did he say?", "He said nothing [1]."),
                             {"top_k": 3, "outlet": "Reuters"}, "gen-7")
    declined = store.save_turn("alice", None, answer("Who won the 1966 World Cup?", "The articles do not say.", [], False))
    with pytest.raises(NotFound):
        feedback.rate("bob", follow.turn_id, "down")  # only the asker rates an answer
    with pytest.raises(FeedbackError):
        feedback.rate("alice", follow.turn_id, "meh")
    feedback.rate("alice", follow.turn_id, "up")
    record = feedback.rate("alice", follow.turn_id, "down", "too vague",
                           "Vladimir Medinsky said Russia was ready for a long war, on 16 May 2025.")
    assert len(feedback.rated()) == 1  # a second rating replaces the first
    assert (record.rating, record.history, record.mode, record.settings, record.index_generation) == (
        -1, ["Who led the Russian delegation?"], "extractive", {"top_k": 3, "outlet": "Reuters"}, "gen-7")
    assert record.citations[0]["quote"] == "Vladimir Medinsky led the delegation."
    feedback.rate("alice", first.turn_id, "up")
    feedback.rate("alice", declined.turn_id, "up")
    third = store.save_turn("alice", None, answer("Where?"))
    feedback.rate("alice", third.turn_id, "down")  # no correction: nothing to learn from
    assert feedback.of_turn("alice", third.turn_id).rating == -1 and feedback.of_turn("bob", third.turn_id) is None

    items, left_out = gold_items(feedback.rated())
    assert left_out == 1
    by_question = {item["question"]: item for item in items}
    corrected = by_question["What did he say?"]
    assert corrected["category"] == "followup" and corrected["history"] == ["Who led the Russian delegation?"]
    assert [r"\bvladimir\W+medinsky\b", r"\bmedinsky\b"] in corrected["facts"] and corrected["docs"] == []
    assert "too vague" in corrected["note"] and "gen-7" in corrected["note"]
    good = by_question["Who led the Russian delegation?"]
    assert good["category"] == "fact" and good["docs"] == ["istanbul-talks"]
    assert by_question["Who won the 1966 World Cup?"]["category"] == "unanswerable"
    path = tmp_path / "from-feedback.yaml"
    path.write_text(yaml.safe_dump(items, sort_keys=False), encoding="utf-8")
    loaded = {item.question: item for item in load_gold(path)}
    import re
    assert all(any(re.search(p, record.correction, re.I) for p in fact) for fact in loaded["What did he say?"].facts)
    assert not loaded["Who won the 1966 World Cup?"].answerable


def test_quality_report_counts_questions_declines_thumbs_latency_and_outlets(database):
    store, feedback = Conversations(database), FeedbackStore(database)
    slow = store.save_turn("alice", None, answer("slow one", latency_ms=9000.0,
                                                 citations=[citation(1, "a", "Reuters"), citation(2, "b", "FT")]))
    store.save_turn("bob", None, answer("fast one", latency_ms=50.0, citations=[citation(1, "c", "Reuters")]))
    declined = store.save_turn("bob", None, answer("no idea", "Not in the articles.", [], False, latency_ms=20.0))
    feedback.rate("alice", slow.turn_id, "down", correction="Medinsky")
    feedback.rate("bob", declined.turn_id, "up")
    report = quality_report(database, days=7)
    assert len(report.per_day) == 7 and report.per_day[-1].day == dt.datetime.now(dt.timezone.utc).date()
    assert (report.questions, report.declines, report.rated, report.thumbs_down_rate) == (3, 1, 2, 0.5)
    assert (report.per_day[-1].questions, report.per_day[-1].thumbs_down) == (3, 1)
    assert [(s.question, s.user) for s in report.slowest] == [("slow one", "alice"), ("fast one", "bob"), ("no idea", "bob")]
    assert report.outlets == [("Reuters", 2), ("FT", 1)]
    later = quality_report(database, days=1, until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    assert later.questions == 0 and later.thumbs_down_rate is None and later.slowest == []


def test_quality_counts_do_not_fall_when_conversations_are_deleted(database):
    store, feedback = Conversations(database), FeedbackStore(database)
    kept = store.save_turn("alice", None, answer("kept one", citations=[citation(1, "a", "Reuters")]))
    gone = store.save_turn("bob", None, answer("deleted one", citations=[citation(1, "b", "FT"), citation(2, "c", None)]))
    store.save_turn("bob", gone.conversation_id, answer("deleted too", "Not in the articles.", [], False))
    feedback.rate("bob", gone.turn_id, "down")
    before = quality_report(database, days=7)
    store.delete("bob", gone.conversation_id)
    after = quality_report(database, days=7)
    assert (after.questions, after.declines, after.rated) == (before.questions, before.declines, before.rated) == (3, 1, 1)
    assert after.outlets == before.outlets == [("unknown outlet", 1), ("FT", 1), ("Reuters", 1)]
    assert [s.question for s in after.slowest] == ["kept one"]  # a deleted question is not shown
    assert kept.turn_id


# Migrations, concurrency, a killed process ----------------------------------------------------


def test_an_existing_database_is_upgraded_in_place(database_url):
    old = open_url(database_url, revision="0001")
    assert current_revision(old) == "0001"
    with old.writing() as session:
        session.execute(text(
            "INSERT INTO conversations (id, owner, title, created_at, updated_at) "
            "VALUES ('c1', 'alice', 'Before the upgrade', :t, :t)"), {"t": dt.datetime(2025, 5, 16, tzinfo=dt.timezone.utc)})
        session.execute(text(
            "INSERT INTO turns (conversation_id, position, question, answer, answerable, mode, settings, "
            "index_generation, latency_ms, created_at) VALUES ('c1', 0, 'Old question?', 'Old answer [1].', :yes, "
            "'extractive', '{}', '', 5.0, :t)"), {"t": dt.datetime(2025, 5, 16, tzinfo=dt.timezone.utc), "yes": True})
    old.close()
    upgraded = open_url(database_url)
    try:
        assert current_revision(upgraded) == HEAD
        store = Conversations(upgraded)
        view = store.open("alice", "c1")
        assert (view.title, view.turns[0].question) == ("Before the upgrade", "Old question?")
        token = store.share("alice", view.turns[0].turn_id)  # the new tables work on the old rows
        assert store.shared(token).turn.answer == "Old answer [1]."
        store.save_turn("alice", "c1", answer("New question?"))
        assert [t.position for t in store.open("alice", "c1").turns] == [0, 1]
        counted = quality_report(upgraded, days=1, until=dt.datetime(2025, 5, 16, 23, tzinfo=dt.timezone.utc))
        assert (counted.questions, counted.declines) == (1, 0)  # the turns saved before counted
    finally:
        upgraded.close()


def test_the_migrations_build_the_schema_the_models_describe(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from rag.team.models import Base

    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_twenty_users_saving_at_once_lose_and_mix_up_nothing(database):
    store = Conversations(database)
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def user(n: int) -> None:
        try:
            start.wait()
            conversation = None
            for k in range(5):
                saved = store.save_turn(f"user{n}", conversation, answer(f"user{n} question {k}", f"answer {n}.{k} [1]"))
                conversation = saved.conversation_id
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for n in range(20):
        (summary,) = store.list(f"user{n}")
        turns = store.open(f"user{n}", summary.conversation_id).turns
        assert [(t.position, t.question, t.answer) for t in turns] == [
            (k, f"user{n} question {k}", f"answer {n}.{k} [1]") for k in range(5)]


KILLED_CHILD = """
import sys
from rag.team.db import open_url
from rag.team.conversations import Conversations
from rag.types import Answer, Citation
store = Conversations(open_url(sys.argv[1]))
conversation = None
for k in range(100000):
    cite = Citation(1, "doc", "Headline", "quote " * 50, "https://example.org", "Outlet")
    saved = store.save_turn("alice", conversation, Answer(f"q{k}", f"a{k} [1]", [cite], True, "extractive"))
    conversation = saved.conversation_id
    print(k, flush=True)
"""


def test_a_killed_process_leaves_every_saved_turn_whole(database_url, database):
    env = {**os.environ, "PYTHONPATH": ROOT}
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, database_url], stdout=subprocess.PIPE, text=True, env=env)
    seen = -1
    deadline = time.monotonic() + 60
    while seen < 20 and time.monotonic() < deadline:
        seen = int(child.stdout.readline() or seen)
    os.kill(child.pid, signal.SIGKILL)  # in the middle of some later save
    child.wait()
    child.stdout.close()
    assert seen >= 20
    store = Conversations(database)
    (summary,) = store.list("alice")
    turns = store.open("alice", summary.conversation_id).turns
    assert len(turns) >= seen + 1  # every save it reported is there
    assert [t.position for t in turns] == list(range(len(turns)))
    assert all(t.question == f"q{t.position}" and len(t.citations) == 1 for t in turns)
    store.save_turn("alice", summary.conversation_id, answer("after the crash"))  # and it takes new ones
