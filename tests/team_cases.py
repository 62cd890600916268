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
from argon2 import PasswordHasher
from sqlalchemy import text

from rag.evals.gold import load_gold
from rag.team.accounts import AccountError, Accounts, Role
from rag.team.conversations import Conversations, NotFound, citation_notes
from rag.team.db import MIGRATIONS, current_revision, open_url
from rag.team.sessions import LoginSessions, digest
from rag.team.feedback import FeedbackError, FeedbackStore, gold_items
from rag.team.quality import quality_report
from rag.types import Answer, Citation, Document

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALICE, BOB = 1, 2  # account ids: the stores own by id and do not look accounts up
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # for tests not about hashing
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
    accounts = Accounts(database, hasher=FAST)
    accounts.add("alice", "password-1", "editor")
    accounts.add("bob", "password-2", "admin")
    here, there = LoginSessions(database, dt.timedelta(days=1), accounts), LoginSessions(database, dt.timedelta(days=1), accounts)
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
    assert LoginSessions(database, dt.timedelta(days=1), accounts).get("token-a1") is None
    here.end_all(there["token-b"])  # what Gradio hands a handler: the name, carrying the account id
    assert here.get("token-b") is None
    here["token-b2"] = "bob"
    accounts.set_role("alice", "admin")
    accounts.remove("bob")
    assert LoginSessions(database, dt.timedelta(days=1), accounts).get("token-b2") is None
    short = LoginSessions(database, dt.timedelta(seconds=0.5), accounts)
    short["token-c"] = "alice"
    assert short.get("token-c") == "alice"
    time.sleep(0.6)
    assert LoginSessions(database, dt.timedelta(seconds=0.5), accounts).get("token-c") is None  # expired


# Accounts by id ---------------------------------------------------------------------------------


def test_removing_an_account_takes_what_it_owns_and_a_new_account_of_its_name_starts_empty(database):
    accounts, store, feedback = Accounts(database, hasher=FAST), Conversations(database), FeedbackStore(database)
    accounts.add("boss", "password-0", "admin")
    old = accounts.add("sam", "password-1", "reader")  # the highest id: SQLite would hand it out again
    saved = store.save_turn(old.id, None, answer("What did old sam ask?"))
    token = store.share(old.id, saved.turn_id)
    feedback.rate(old.id, saved.turn_id, "down", correction="Vladimir Medinsky led it.")
    here, there = (LoginSessions(database, dt.timedelta(days=1), accounts) for _ in range(2))
    here["old-login"] = "sam"  # Gradio's login form stores the name it checked
    seen = there["old-login"]  # another process has it cached now
    assert (seen, seen.account_id) == ("sam", old.id) and accounts.identify(seen) == old

    accounts.remove("sam")
    assert accounts.identify(seen) is None  # at once, though `there` may still hold the token for a few seconds
    new = accounts.add("sam", "password-2", "reader")
    assert new.id != old.id and accounts.identify(seen) is None and accounts.by_id(old.id) is None
    with pytest.raises(KeyError):
        LoginSessions(database, dt.timedelta(days=1), accounts)["old-login"]
    assert store.list(new.id) == [] and store.shares(new.id) == [] and feedback.of_turn(new.id, saved.turn_id) is None
    for gone in (lambda: store.open(new.id, saved.conversation_id), lambda: store.turn(new.id, saved.turn_id),
                 lambda: store.shared(token), lambda: store.open(old.id, saved.conversation_id)):
        with pytest.raises(NotFound):
            gone()
    with database.reading() as session:  # deleted, not just hidden: conversations, answers, links
        assert session.execute(text("SELECT count(*) FROM conversations")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM shares")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM sessions")).scalar() == 0
    (kept,) = feedback.rated()  # the rating stays for evaluation, owned by nobody
    assert (kept.account_id, kept.username, kept.correction) == (None, "a removed account", "Vladimir Medinsky led it.")
    assert gold_items([kept])[0][0]["question"] == "What did old sam ask?"
    mine = store.save_turn(new.id, None, answer("New sam's question"))
    assert [c.conversation_id for c in store.list(new.id)] == [mine.conversation_id]


def test_owners_are_account_ids_never_names(database):
    store, feedback = Conversations(database), FeedbackStore(database)
    saved = store.save_turn(ALICE, None, answer("Q?"))
    for by_name in (lambda: store.save_turn("alice", None, answer("Q?")), lambda: store.list("alice"),
                    lambda: store.open("alice", saved.conversation_id), lambda: store.share("1", saved.turn_id),
                    lambda: feedback.rate("alice", saved.turn_id, "up"), lambda: store.list(True)):
        with pytest.raises(TypeError, match="account id"):
            by_name()
    accounts = Accounts(database, hasher=FAST)
    accounts.add("alice", "password-1")
    assert accounts.identify("alice") is None and accounts.identify(None) is None  # a bare name is no login


def test_every_owner_column_is_removed_with_its_account():
    """A table with an `owner_id` or `account_id` column must be listed in OWNED, or a removed
    account's rows would wait there for whoever gets its id or name."""
    from rag.team.accounts import OWNED
    from rag.team.models import Base

    owner_columns = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns
                     if c.name in ("owner_id", "account_id") or c.name.endswith("_account_id")}
    assert owner_columns == {(o.table, o.column) for o in OWNED}


def test_the_rag_auth_admin_and_the_local_user_have_ids_of_their_own(database):
    from rag.team.models import LOCAL_ID, SETTINGS_ADMIN_ID

    accounts = Accounts(database, settings_admin=("root", "pw"), hasher=FAST)
    root = accounts.check("root", "pw")
    assert (root.id, root.from_settings) == (SETTINGS_ADMIN_ID, True) and accounts.get("root") == root
    alice = accounts.add("alice", "password-1")
    assert alice.id not in (SETTINGS_ADMIN_ID, LOCAL_ID)
    sessions = LoginSessions(database, dt.timedelta(days=1), accounts)
    sessions["root-login"] = "root"
    assert sessions["root-login"].account_id == SETTINGS_ADMIN_ID
    store = Conversations(database)
    saved = store.save_turn(SETTINGS_ADMIN_ID, None, answer("The operator's question"))
    # RAG_AUTH is the operator's account: a new name or password in the settings keeps it.
    renamed = Accounts(database, settings_admin=("ops", "pw2"), hasher=FAST)
    assert renamed.by_id(SETTINGS_ADMIN_ID).username == "ops" and renamed.get("root") is None
    assert store.list(renamed.get("ops").id)[0].conversation_id == saved.conversation_id
    # Without RAG_AUTH, nobody is that account; a database account named "root" is a new one.
    plain = Accounts(database, hasher=FAST)
    assert plain.by_id(SETTINGS_ADMIN_ID) is None and plain.by_id(LOCAL_ID) is None
    assert LoginSessions(database, dt.timedelta(days=1), plain).get("root-login") is None
    assert store.list(plain.add("root", "password-2").id) == []


# Conversations ----------------------------------------------------------------------------------


def test_conversations_are_saved_titled_listed_newest_first_and_resumed(database):
    store = Conversations(database)
    first = store.save_turn(ALICE, None, answer("Who led the Russian delegation in Istanbul?"),
                            {"top_k": 5}, "gen-1", {"istanbul-talks": "hash-1"})
    second = store.save_turn(ALICE, None, answer("What did Rubio say?\nabout the talks " + "very " * 30))
    follow = store.save_turn(ALICE, first.conversation_id, answer("What did he warn?", "He warned [1]."))
    assert (first.position, follow.position, follow.conversation_id) == (0, 1, first.conversation_id)
    listed = store.list(ALICE)
    assert [c.conversation_id for c in listed] == [first.conversation_id, second.conversation_id]  # used last first
    assert listed[0].title == "Who led the Russian delegation in Istanbul?" and listed[0].turns == 2
    assert listed[1].title.startswith("What did Rubio say? about the talks") and listed[1].title.endswith("…")
    assert len(listed[1].title) <= 82
    view = store.open(ALICE, first.conversation_id)
    assert view.history() == [("Who led the Russian delegation in Istanbul?", "Medinsky led it [1]."),
                              ("What did he warn?", "He warned [1].")]
    kept = view.turns[0]
    assert (kept.settings, kept.index_generation, kept.mode, kept.latency_ms) == ({"top_k": 5}, "gen-1", "extractive", 100.0)
    c = kept.citations[0]
    assert (c.quote, c.title, c.publisher, c.published, c.start, c.content_hash) == (
        "Vladimir Medinsky led the delegation.", "Headline of istanbul-talks", "Reuters", "2025-05-16", 10, "hash-1")


def test_each_user_sees_and_changes_only_their_own_conversations(database):
    store = Conversations(database)
    mine = store.save_turn(ALICE, None, answer("Alice's question"))
    store.save_turn(BOB, None, answer("Bob's question"))
    assert [c.title for c in store.list(BOB)] == ["Bob's question"]
    for trespass in (
        lambda: store.open(BOB, mine.conversation_id),
        lambda: store.rename(BOB, mine.conversation_id, "mine now"),
        lambda: store.delete(BOB, mine.conversation_id),
        lambda: store.save_turn(BOB, mine.conversation_id, answer("sneaky")),
        lambda: store.share(BOB, mine.turn_id),
        lambda: store.turn(BOB, mine.turn_id),
    ):
        with pytest.raises(NotFound):
            trespass()
    assert store.open(ALICE, mine.conversation_id).title == "Alice's question"
    assert len(store.open(ALICE, mine.conversation_id).turns) == 1


def test_rename_delete_and_search(database):
    store = Conversations(database)
    a = store.save_turn(ALICE, None, answer("Who led the delegation?", "Vladimir Medinsky [1]."))
    b = store.save_turn(ALICE, None, answer("What is 100% certain?", "Nothing [1]."))
    store.rename(ALICE, a.conversation_id, "  Istanbul   talks ")
    assert store.open(ALICE, a.conversation_id).title == "Istanbul talks"
    with pytest.raises(Exception, match="empty"):
        store.rename(ALICE, a.conversation_id, "   ")
    assert [c.conversation_id for c in store.list(ALICE, "istanbul")] == [a.conversation_id]  # title, any case
    assert [c.conversation_id for c in store.list(ALICE, "MEDINSKY")] == [a.conversation_id]  # answer text
    assert [c.conversation_id for c in store.list(ALICE, "100%")] == [b.conversation_id]  # % is literal
    assert store.list(ALICE, "_") == [] and store.list(BOB, "medinsky") == []
    token = store.share(ALICE, a.turn_id)
    FeedbackStore(database).rate(ALICE, a.turn_id, "up")
    store.delete(ALICE, a.conversation_id)
    assert [c.conversation_id for c in store.list(ALICE)] == [b.conversation_id]
    with pytest.raises(NotFound):
        store.shared(token)  # its answers' links go with it
    assert FeedbackStore(database).rated()[0].question == "Who led the delegation?"  # feedback stays


def test_kept_citations_say_when_the_article_changed_or_left(database):
    store = Conversations(database)
    saved = store.save_turn(
        ALICE, None, answer("Q?", citations=[citation(1, "same", "A"), citation(2, "edited", "B"), citation(3, "gone", "C")]),
        content_hashes={"same": "h1", "edited": "h2", "gone": "h3"},
    )
    now = {"same": Document("same", "t", "T", "s", "h1"), "edited": Document("edited", "t", "T", "s", "h2-new")}
    notes = citation_notes(store.open(ALICE, saved.conversation_id).turns[0].citations, now.get)
    assert set(notes) == {2, 3}
    assert "changed" in notes[2] and "no longer in the corpus" in notes[3]


def test_permalinks_open_until_revoked_by_their_owner(database):
    store = Conversations(database)
    saved = store.save_turn(ALICE, None, answer("Who led the delegation?"))
    token = store.share(ALICE, saved.turn_id)
    shared = store.shared(token)
    assert (shared.owner_id, shared.turn.question, shared.turn.citations[0].publisher) == (ALICE, "Who led the delegation?", "Reuters")
    assert [s.token for s in store.shares(ALICE)] == [token] and store.shares(BOB) == []
    with pytest.raises(NotFound):
        store.revoke(BOB, token)
    store.revoke(ALICE, token)
    for bad in (token, "nope", "", None, "x" * 500):
        with pytest.raises(NotFound):
            store.shared(bad)
    assert store.shares(ALICE) == []


# Feedback and quality ---------------------------------------------------------------------------


def test_feedback_keeps_what_shaped_the_answer_and_becomes_gold_items(database, tmp_path):
    store, feedback = Conversations(database), FeedbackStore(database)
    first = store.save_turn(ALICE, None, answer("Who led the Russian delegation?"), {"top_k": 3}, "gen-7")
    follow = store.save_turn(ALICE, first.conversation_id, answer("What did he say?", "He said nothing [1]."),
                             {"top_k": 3, "outlet": "Reuters"}, "gen-7")
    declined = store.save_turn(ALICE, None, answer("Who won the 1966 World Cup?", "The articles do not say.", [], False))
    with pytest.raises(NotFound):
        feedback.rate(BOB, follow.turn_id, "down")  # only the asker rates an answer
    with pytest.raises(FeedbackError):
        feedback.rate(ALICE, follow.turn_id, "meh")
    feedback.rate(ALICE, follow.turn_id, "up")
    record = feedback.rate(ALICE, follow.turn_id, "down", "too vague",
                           "Vladimir Medinsky said Russia was ready for a long war, on 16 May 2025.")
    assert len(feedback.rated()) == 1  # a second rating replaces the first
    assert (record.rating, record.history, record.mode, record.settings, record.index_generation) == (
        -1, ["Who led the Russian delegation?"], "extractive", {"top_k": 3, "outlet": "Reuters"}, "gen-7")
    assert record.citations[0]["quote"] == "Vladimir Medinsky led the delegation."
    feedback.rate(ALICE, first.turn_id, "up")
    feedback.rate(ALICE, declined.turn_id, "up")
    third = store.save_turn(ALICE, None, answer("Where?"))
    feedback.rate(ALICE, third.turn_id, "down")  # no correction: nothing to learn from
    assert feedback.of_turn(ALICE, third.turn_id).rating == -1 and feedback.of_turn(BOB, third.turn_id) is None

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
    alice, bob = (Accounts(database, hasher=FAST).add(name, "password-1").id for name in ("alice", "bob"))  # names for the figures
    slow = store.save_turn(alice, None, answer("slow one", latency_ms=9000.0,
                                                 citations=[citation(1, "a", "Reuters"), citation(2, "b", "FT")]))
    store.save_turn(bob, None, answer("fast one", latency_ms=50.0, citations=[citation(1, "c", "Reuters")]))
    declined = store.save_turn(bob, None, answer("no idea", "Not in the articles.", [], False, latency_ms=20.0))
    feedback.rate(alice, slow.turn_id, "down", correction="Medinsky")
    feedback.rate(bob, declined.turn_id, "up")
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
    kept = store.save_turn(ALICE, None, answer("kept one", citations=[citation(1, "a", "Reuters")]))
    gone = store.save_turn(BOB, None, answer("deleted one", citations=[citation(1, "b", "FT"), citation(2, "c", None)]))
    store.save_turn(BOB, gone.conversation_id, answer("deleted too", "Not in the articles.", [], False))
    feedback.rate(BOB, gone.turn_id, "down")
    before = quality_report(database, days=7)
    store.delete(BOB, gone.conversation_id)
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
            "INSERT INTO users (username, password_hash, role, created_at, password_changed_at) "
            "VALUES ('alice', 'x', 'reader', :t, :t)"), {"t": dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)})
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
        alice = Accounts(upgraded).get("alice").id
        view = store.open(alice, "c1")
        assert (view.title, view.turns[0].question) == ("Before the upgrade", "Old question?")
        token = store.share(alice, view.turns[0].turn_id)  # the new tables work on the old rows
        assert store.shared(token).turn.answer == "Old answer [1]."
        store.save_turn(alice, "c1", answer("New question?"))
        assert [t.position for t in store.open(alice, "c1").turns] == [0, 1]
        counted = quality_report(upgraded, days=1, until=dt.datetime(2025, 5, 16, 23, tzinfo=dt.timezone.utc))
        assert (counted.questions, counted.declines) == (1, 0)  # the turns saved before counted
    finally:
        upgraded.close()


def test_a_0003_database_moves_to_account_ids(database_url):
    """Migration 0004 on a database in use: each row goes to the account that had its name when
    the row was made; the rest (a removed user's, an older holder's of a re-used name) to nobody."""
    old = open_url(database_url, revision="0003")
    before, after = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc)
    rows = {  # conversation: (owner name, made at)
        "c-alice": ("alice", after), "c-old-sam": ("sam", before), "c-sam": ("sam", after + dt.timedelta(days=1)),
        "c-root": ("root", after), "c-local": ("local", before), "c-gone": ("gone", after),
    }
    with old.writing() as session:
        for name, made in (("alice", before), ("sam", after), ("zed", before)):  # sam re-created after old sam left
            session.execute(text("INSERT INTO users (username, password_hash, role, created_at, password_changed_at) "
                                 "VALUES (:n, 'x', 'admin', :t, :t)"), {"n": name, "t": made})
        session.execute(text("DELETE FROM users WHERE username = 'zed'"))  # the highest id, removed before
        for cid, (owner, made) in rows.items():
            session.execute(text("INSERT INTO conversations (id, owner, title, created_at, updated_at) "
                                 "VALUES (:c, :o, :c, :t, :t)"), {"c": cid, "o": owner, "t": made})
            session.execute(text(
                "INSERT INTO turns (conversation_id, position, question, answer, answerable, mode, settings, "
                "index_generation, latency_ms, created_at) VALUES (:c, 0, :q, 'a', :yes, 'e', '{}', '', 1.0, :t)"),
                {"c": cid, "q": cid, "t": made, "yes": True})
            turn = session.execute(text("SELECT id FROM turns WHERE conversation_id = :c"), {"c": cid}).scalar()
            session.execute(text("INSERT INTO shares (token, turn_id, owner, created_at) VALUES (:c, :turn, :o, :t)"),
                            {"c": cid, "turn": turn, "o": owner, "t": made})
            session.execute(text(
                "INSERT INTO feedback (turn_id, username, rating, comment, correction, question, history, answer, "
                "answerable, citations, mode, settings, index_generation, created_at, updated_at) VALUES "
                "(:turn, :o, 1, '', '', :c, '[]', 'a', :yes, '[]', 'e', '{}', '', :t, :t)"),
                {"turn": turn, "o": owner, "c": cid, "t": made, "yes": True})
        for token, owner, made in (("h-alice", "alice", after), ("h-old-sam", "sam", before), ("h-root", "root", after),
                                   ("h-gone", "gone", after)):
            session.execute(text("INSERT INTO sessions (token_hash, username, created_at) VALUES (:k, :o, :t)"),
                            {"k": digest(token), "o": owner, "t": made})
    old.close()

    from rag.team.models import LOCAL_ID, SETTINGS_ADMIN_ID

    new = open_url(database_url, settings_admin="root")
    try:
        assert current_revision(new) == HEAD
        accounts = Accounts(new, settings_admin=("root", "pw"), hasher=FAST)
        alice, sam = accounts.get("alice").id, accounts.get("sam").id
        store, feedback = Conversations(new), FeedbackStore(new)
        owned = {cid: [o for o in (alice, sam, SETTINGS_ADMIN_ID, LOCAL_ID)
                       if cid in {c.conversation_id for c in store.list(o)}] for cid in rows}
        assert owned == {"c-alice": [alice], "c-old-sam": [], "c-sam": [sam], "c-root": [SETTINGS_ADMIN_ID],
                         "c-local": [LOCAL_ID], "c-gone": []}
        assert {s.token for s in store.shares(sam)} == {"c-sam"}
        for cid in ("c-alice", "c-sam", "c-root", "c-local"):
            assert store.shared(cid).owner_id == owned[cid][0]
        for cid in ("c-old-sam", "c-gone"):  # links of nobody's answers no longer open
            with pytest.raises(NotFound):
                store.shared(cid)
        by_question = {r.question: r.account_id for r in feedback.rated()}
        assert by_question == {"c-alice": alice, "c-old-sam": None, "c-sam": sam, "c-root": SETTINGS_ADMIN_ID,
                               "c-local": LOCAL_ID, "c-gone": None}  # all kept for evaluation
        sessions = LoginSessions(new, dt.timedelta(days=3650), accounts)
        assert [sessions.get(t) and sessions.get(t).account_id for t in ("h-alice", "h-old-sam", "h-root", "h-gone")] == [
            alice, None, SETTINGS_ADMIN_ID, None]
        newcomer = accounts.add("newcomer", "password-1").id
        accounts.remove("newcomer")  # the highest id: never handed out again
        assert accounts.add("newcomer", "password-1").id > newcomer
        accounts.remove("sam")
        assert store.list(accounts.add("sam", "password-2").id) == []
    finally:
        new.close()


def test_migration_0004_goes_back_to_names_and_forth_again(database_url):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    database = open_url(database_url, settings_admin="root")
    alice = Accounts(database, hasher=FAST).add("alice", "password-1").id
    store = Conversations(database)
    saved = store.save_turn(alice, None, answer("Alice's question"))
    token = store.share(alice, saved.turn_id)
    FeedbackStore(database).rate(alice, saved.turn_id, "up")
    store.save_turn(0, None, answer("The RAG_AUTH admin's question"))
    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        settings.attributes.update(connection=connection, settings_admin="root")
        command.downgrade(settings, "0003")
    with database.reading() as session:
        assert sorted(session.execute(text("SELECT owner FROM conversations")).scalars()) == ["alice", "root"]
        assert session.execute(text("SELECT owner FROM shares")).scalars().all() == ["alice"]
        assert session.execute(text("SELECT username FROM feedback")).scalars().all() == ["alice"]
    database.close()
    again = open_url(database_url, settings_admin="root")
    try:
        store = Conversations(again)
        assert [c.title for c in store.list(alice)] == ["Alice's question"] and store.shared(token).owner_id == alice
        assert [c.title for c in store.list(0)] == ["The RAG_AUTH admin's question"]
    finally:
        again.close()


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
                saved = store.save_turn(n + 1, conversation, answer(f"user{n} question {k}", f"answer {n}.{k} [1]"))
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
        (summary,) = store.list(n + 1)
        turns = store.open(n + 1, summary.conversation_id).turns
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
    saved = store.save_turn(1, conversation, Answer(f"q{k}", f"a{k} [1]", [cite], True, "extractive"))
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
    (summary,) = store.list(ALICE)
    turns = store.open(ALICE, summary.conversation_id).turns
    assert len(turns) >= seen + 1  # every save it reported is there
    assert [t.position for t in turns] == list(range(len(turns)))
    assert all(t.question == f"q{t.position}" and len(t.citations) == 1 for t in turns)
    store.save_turn(ALICE, summary.conversation_id, answer("after the crash"))  # and it takes new ones


# Personal API tokens ------------------------------------------------------------------------------


def test_api_tokens_act_as_their_account_are_stored_hashed_expire_and_revoke(database):
    from rag.team.tokens import PREFIX, ApiTokens

    accounts = Accounts(database, ("boss", "boss-password"), hasher=FAST)
    alice = accounts.add("alice", "alice-password", "reader")
    tokens = ApiTokens(database, accounts)
    made = tokens.create(alice, "laptop")
    assert made.token.startswith(PREFIX) and made.info.name == "laptop" and made.info.expires_at is None
    with database.reading() as session:
        stored = session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert stored == [digest(made.token)]  # the token itself is nowhere in the database
    assert tokens.account(made.token).id == alice.id
    assert tokens.account(made.token[:-1] + "x") is None and tokens.account("not a token") is None
    assert tokens.list(alice)[0].last_used_at is not None  # recorded at first use

    accounts.set_role("alice", "editor")  # applies to the next request
    assert tokens.account(made.token).role is Role.EDITOR

    short = tokens.create(alice, "ci", expires_days=1)
    with database.writing() as session:
        session.execute(text("UPDATE api_tokens SET expires_at = :past WHERE id = :id"),
                        {"past": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1), "id": short.info.id})
    assert tokens.account(short.token) is None
    assert [t.expired for t in tokens.list(alice)] == [False, True]

    # Revoked by id or by the token; another account cannot revoke or see them.
    admin = accounts.get("boss")
    with pytest.raises(AccountError):
        tokens.remove(admin, made.info.id)
    assert tokens.list(admin) == []
    tokens.remove(alice, made.token)
    assert tokens.account(made.token) is None
    with pytest.raises(AccountError):
        tokens.create(alice, "x" * 101)


def test_a_removed_accounts_tokens_never_work_again_not_even_for_a_new_account_of_its_name(database):
    from rag.team.tokens import ApiTokens

    accounts = Accounts(database, hasher=FAST)
    accounts.add("admin", "admin-password", "admin")
    sam = accounts.add("sam", "sam-password", "reader")
    tokens = ApiTokens(database, accounts)
    old = tokens.create(sam).token
    accounts.remove("sam")
    assert tokens.account(old) is None
    new_sam = accounts.add("sam", "sam-password2", "reader")
    assert tokens.account(old) is None and tokens.list(new_sam) == []
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0
