"""The web app's team handlers (rag/web/team.py) on the fake service and a SQLite team database:
roles are checked on the server whatever the page shows, answers are saved to their asker's
conversation, and a shared answer renders as text."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from rag.team.accounts import Accounts
from rag.team.conversations import Conversations, KeptCitation, NotFound, SavedTurn
from rag.team.db import open_url
from rag.team.feedback import FeedbackStore
from rag.team.sessions import LoginSessions, SessionUser
from rag.web.chat import ChatHandlers
from rag.web.chat import Conversation as ChatSession
from rag.web.render import shared_page
from rag.types import Answer, Citation
from rag.web.team import Team, TeamHandlers


@pytest.fixture
def handlers(service, tmp_path):
    database = open_url(f"sqlite:///{tmp_path / 'team.sqlite3'}")
    accounts = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # not under test
    accounts.add("alice", "alice-password", "editor")
    accounts.add("bob", "bob-password", "reader")
    accounts.add("boss", "boss-password", "admin")
    assert {name: accounts.get(name).id for name in IDS} == IDS
    sessions = LoginSessions(database, dt.timedelta(days=1), accounts)
    team = Team(database, accounts, Conversations(database), FeedbackStore(database), sessions, login=True)
    yield TeamHandlers(service, ChatHandlers(service, uploaded=lambda path: True), team)
    database.close()


IDS = {"alice": 1, "bob": 2, "boss": 3}  # the fixture's accounts, in the order it adds them


def as_user(name: str | None, account_id: int | None = None):
    """A request of `name` as the login sessions hand it to Gradio: the name, carrying its account
    id (a name of no account stays a bare name, which is no login)."""
    account_id = IDS.get(name) if account_id is None else account_id
    return SimpleNamespace(username=name if account_id is None else SessionUser(name, account_id))


def test_roles_are_enforced_by_every_handler_not_by_the_page(handlers, tmp_path):
    upload = tmp_path / "story.txt"
    upload.write_text("A story.")
    refused, *_ = handlers.upload([str(upload)], as_user("bob"))
    assert "needs an editor" in refused
    for user in ("bob", "alice"):
        message, table, _ = handlers.manage("add", "mallory", "mallory-password", "admin", as_user(user))
        assert "needs an admin" in message
        assert handlers.quality("30", as_user(user))[0].startswith("⚠️")
        assert handlers.user_rows(as_user(user)) == []
    assert handlers.team.accounts.get("mallory") is None
    message, rows, _ = handlers.manage("add", "mallory", "mallory-password", "reader", as_user("boss"))
    assert "Added mallory" in message and ["mallory", "reader"] == rows[-1][:2]
    assert "your own" in handlers.manage("remove", "boss", "", "reader", as_user("boss"))[0]
    for nobody in (None, "ghost"):
        reply = handlers.ask("Who led the Russian delegation?", request=as_user(nobody))
        assert "log in again" in reply["error"]


def test_answers_are_saved_to_the_askers_conversation_and_resumed(handlers):
    session, conversation_id, turns = ChatSession(), None, []
    for question in ("Who led the Russian delegation?", "What did he warn?"):
        *_, last = handlers.respond(question, session, 5, "All outlets", "", conversation_id, turns, as_user("alice"))
        chat, _, session, conversation_id, turns, sidebar, _ = last
    assert len(turns) == len(session.messages) == len(chat) and turns[0] is None and turns[-1] is not None
    (summary,) = handlers.team.conversations.list(IDS["alice"])
    assert summary.conversation_id == conversation_id and summary.turns == 2
    assert sidebar["value"] == conversation_id and sidebar["choices"] == [(summary.title, conversation_id)]
    assert handlers.team.conversations.list(IDS["bob"]) == []
    saved = handlers.team.conversations.open(IDS["alice"], conversation_id)
    assert saved.turns[0].settings["top_k"] == 5 and saved.turns[0].index_generation
    assert all(c.content_hash for t in saved.turns for c in t.citations)
    reopened, reopened_session, _, reopened_turns, *_ = handlers.open(conversation_id, as_user("alice"))
    assert reopened_session.pairs == session.pairs and reopened_turns == turns
    assert [m["content"] for m in reopened] == [m["content"] for m in chat]
    like = SimpleNamespace(index=len(turns) - 1, liked=False)
    box, heading, rated, *_ = handlers.rate(turns, like, as_user("alice"))
    assert "Thumbs down" in heading and rated == saved.turns[1].turn_id
    assert "Thank you" in handlers.send_feedback(rated, "vague", "He warned of a long war.", as_user("alice"))
    (record,) = handlers.team.feedback.rated()
    assert (record.rating, record.correction, record.question) == (-1, "He warned of a long war.", "What did he warn?")
    with pytest.warns(UserWarning, match="No such answer"):
        handlers.rate(turns, like, as_user("bob"))  # bob cannot rate alice's answer
    assert handlers.team.feedback.of_turn(IDS["bob"], rated) is None
    with pytest.warns(UserWarning, match="No such conversation"):
        shown, *_ = handlers.open(conversation_id, as_user("bob"))
    assert "value" not in shown  # the page is left as it was


def test_the_api_saves_when_asked_and_only_into_the_callers_conversations(handlers):
    first = handlers.ask_saved("Who led the Russian delegation?", "new", request=as_user("bob"))
    assert first["error"] is None and first["conversation"] and first["turn"]
    follow = handlers.ask_saved("What did he warn?", first["conversation"], request=as_user("bob"))
    assert follow["conversation"] == first["conversation"]
    assert [t.question for t in handlers.team.conversations.open(IDS["bob"], first["conversation"]).turns] == [
        "Who led the Russian delegation?", "What did he warn?"]
    stolen = handlers.ask_saved("And then?", first["conversation"], request=as_user("alice"))
    assert "No such conversation" in stolen["error"]
    assert "conversation must be" in handlers.ask_saved("And then?", ["x"], request=as_user("bob"))["error"]
    assert "conversation" not in handlers.ask("Who led it?", request=as_user("alice"))  # not saved unless asked


def test_a_shared_answer_renders_as_text():
    hostile = "<script>alert(1)</script>"
    turn = SavedTurn(1, "c", 0, f"Who? {hostile}", f"He did {hostile} [1] [9]", True, "extractive", hostile,
                     [KeptCitation(1, "doc", hostile, hostile, "javascript:alert(2)", hostile, None, "2025-05-16", 0, 5)],
                     {}, "", 1.0, None)
    page = shared_page("alice", turn, {1: "This article has changed since the answer."}, "nonce")
    assert "<script>alert" not in page and "javascript:" not in page
    assert '<a href="#source-1">[1]</a>' in page and "[9]" in page and "changed since" in page


def test_a_reopened_answer_says_which_cited_articles_changed_or_left(handlers, service):
    doc = next(iter(service.sources()))
    current = service.document(doc.doc_id)
    cited = [Citation(1, doc.doc_id, doc.title, current.text[:40], "https://example.org/a", None, None, None, 0, 40),
             Citation(2, doc.doc_id, doc.title, current.text[:40], "https://example.org/a", None, None, None, 0, 40),
             Citation(3, "deleted-article", "Gone", "A quote kept verbatim.", "https://example.org/b")]
    answer = Answer("Q?", "One [1]. Two [2]. Three [3].", cited, True, "extractive")
    saved = handlers.team.conversations.save_turn(
        IDS["alice"], None, answer, content_hashes={doc.doc_id: current.content_hash})
    handlers.team.conversations.save_turn(IDS["alice"], saved.conversation_id, Answer(
        "Again?", "Again [1].", cited[1:2], True, "extractive"), content_hashes={doc.doc_id: "an older version"})
    chat, *_ = handlers.open(saved.conversation_id, as_user("alice"))
    first_sources, second_sources = [m["content"] for m in chat if m.get("metadata", {}).get("title", "").startswith("Sources")]
    assert "A quote kept verbatim." in first_sources and "no longer in the corpus" in first_sources
    assert "changed since" not in first_sources and "changed since" in second_sources


def test_a_removed_account_is_refused_and_a_new_one_of_its_name_starts_empty(handlers):
    old_bob = as_user("bob")
    reply = handlers.ask_saved("Who led the Russian delegation?", "new", request=old_bob)
    token = handlers.team.conversations.share(IDS["bob"], reply["turn"])
    assert "Removed bob" in handlers.manage("remove", "bob", "", "reader", as_user("boss"))[0]
    assert "Added bob" in handlers.manage("add", "bob", "new-bob-password", "reader", as_user("boss"))[0]
    new_bob = as_user("bob", handlers.team.accounts.get("bob").id)
    assert new_bob.username.account_id != IDS["bob"]
    for stale in (lambda: handlers.ask_saved("And then?", reply["conversation"], request=old_bob),
                  lambda: handlers.ask("Who?", request=old_bob)):
        assert "log in again" in stale()["error"]  # the old login opens nothing, though the name is back
    assert "No such conversation" in handlers.ask_saved("And then?", reply["conversation"], request=new_bob)["error"]
    who, sidebar, *_ = handlers.page(new_bob)
    assert "bob" in who and sidebar["choices"] == []
    assert handlers.links(new_bob)["choices"] == []
    with pytest.raises(NotFound):
        handlers.team.conversations.shared(token)


def test_a_session_user_keeps_its_account_id_through_copies():
    import copy
    import pickle

    user = SessionUser("sam", 7)
    for copied in (copy.copy(user), copy.deepcopy(user), pickle.loads(pickle.dumps(user))):
        assert (copied, copied.account_id, type(copied)) == ("sam", 7, SessionUser)


def test_a_login_is_stored_for_the_account_whose_password_was_checked(handlers):
    import asyncio

    team = handlers.team

    async def log_in() -> None:  # as Gradio's /login does: check the password, then store the typed name
        assert await team.check_login("bob", "bob-password")
        team.accounts.remove("bob")  # meanwhile, the name changes hands
        team.accounts.add("bob", "new-bob-password")
        team.sessions["old-bob-token"] = "bob"

    asyncio.run(log_in())
    with pytest.raises(KeyError):  # the login is the removed account's, not the new bob's
        team.sessions["old-bob-token"]
