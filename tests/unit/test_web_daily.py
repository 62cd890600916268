"""Smaller things a team meets every day, on the handlers (rag/web/team.py) and the shared page
(rag/web/render.py): delete asks and says what went, empty lists say so, the title box holds the
title, the feedback box starts afresh, readers get no fetch controls, bullets are a list, and the
login link of a share link leads back to it. The browser side is tests/ui/test_daily_browser.py."""

from __future__ import annotations

from types import SimpleNamespace

from rag.team.conversations import KeptCitation, SavedTurn
from rag.web.chat import Conversation as ChatSession
from rag.web.render import login_path, shared_page
from tests.unit.test_team_web import IDS, as_user, handlers  # noqa: F401 - handlers is a fixture


def ask(handlers, user: str, question: str, conversation=None):  # noqa: F811
    *_, last = handlers.respond(question, ChatSession(), 5, "All outlets", "", conversation, [], as_user(user))
    return last


def test_empty_lists_say_why_and_the_title_box_holds_the_title(handlers):  # noqa: F811
    who, sidebar, *_ = handlers.page(as_user("alice"))
    assert sidebar["choices"] == [] and sidebar["show_label"] and "No conversations yet" in sidebar["label"]
    _, _, _, conversation, _, sidebar, _ = ask(handlers, "alice", "Who led the Russian delegation?")
    assert sidebar["choices"] and not sidebar["show_label"]
    assert handlers.title_of(conversation, as_user("alice")) == "Who led the Russian delegation?"
    found = handlers.search("zebra", as_user("alice"))
    assert found["choices"] == [] and found["label"] == "No conversation matches “zebra”."


def test_delete_asks_first_then_says_what_it_deleted(handlers):  # noqa: F811
    _, _, _, conversation, *_ = ask(handlers, "alice", "Who led the Russian delegation?")
    box, text, report = handlers.ask_delete(conversation, as_user("alice"))
    assert box["visible"] and "Delete “Who led the Russian delegation?” and its 1 answer?" in text and report == ""
    assert handlers.team.conversations.list(IDS["alice"])  # asking deleted nothing
    box, _, report = handlers.ask_delete(conversation, as_user("bob"))
    assert not box["visible"] and "No such conversation" in report
    *_, box, report = handlers.delete(conversation, as_user("alice"))
    assert not box["visible"] and report == "Deleted “Who led the Russian delegation?”."
    assert handlers.team.conversations.list(IDS["alice"]) == []


def test_only_the_first_update_empties_the_question_box(handlers):  # noqa: F811
    """A reader may type the next question while an answer streams or is saved: no later update
    of the same answer may wipe it (the browser suite once sent an empty question that way). A
    refused question stays in the box, to be corrected."""
    updates = list(handlers.respond("Who led the Russian delegation?", ChatSession(), 5, "All outlets", "", None, [],
                                    as_user("alice")))
    boxes = [update[1] for update in updates]
    assert len(boxes) >= 2 and boxes[0] == ""
    assert all(box == {"__type__": "update"} for box in boxes[1:]), boxes
    for question, as_of in (("Why? " * 1000, ""), ("Who led the Russian delegation?", "not a date")):  # refused
        (update,) = handlers.respond(question, ChatSession(), 5, "All outlets", as_of, None, [], as_user("alice"))
        assert update[1] == {"__type__": "update"} and "⚠️" in update[0][-1]["content"]


def test_rating_another_answer_clears_the_thank_you_without_emoji(handlers):  # noqa: F811
    _, _, session, _, turns, _, _ = ask(handlers, "alice", "Who led the Russian delegation?")
    *_, heading, _, _, _, sent = handlers.rate(turns, SimpleNamespace(index=len(turns) - 1, liked=True), as_user("alice"))
    assert sent == "" and heading.startswith("**Thumbs up saved**")
    assert not any(0x1F300 <= ord(ch) <= 0x1FAFF for ch in heading)


def test_readers_and_a_login_less_app_get_no_fetch_controls(handlers):  # noqa: F811
    for user, shown in (("bob", False), ("alice", True), ("boss", True)):
        *_, controls, note = handlers.page(as_user(user))
        assert controls["visible"] is shown and (note == "") is shown
    handlers.team.login = False
    *_, controls, note = handlers.page(as_user(None))
    assert not controls["visible"] and "Only a logged-in editor" in note


def test_the_shared_page_shows_bullets_as_a_list_and_bold_as_bold():
    text = "**Vladimir Medinsky** led the delegation [1].\n- He warned of a long war [1].\n- <b>not bold</b> [2]\nAfter."
    turn = SavedTurn(1, "c", 0, "Who led it?", text, True, "extractive", None,
                     [KeptCitation(1, "doc", "T", "q", "https://example.org/a", "P", None, None, 0, 1)], {}, "", 1.0, None)
    page = shared_page("alice", turn, {}, "nonce")
    answer = page.split('<article id="answer">', 1)[1].split("</article>", 1)[0]
    assert answer == (
        '<p><strong>Vladimir Medinsky</strong> led the delegation <a href="#source-1">[1]</a>.</p>'
        '<ul><li>He warned of a long war <a href="#source-1">[1]</a>.</li><li>&lt;b&gt;not bold&lt;/b&gt; [2]</li></ul>'
        "<p>After.</p>"
    )


def test_the_login_link_of_a_share_link_leads_back_to_it():
    assert login_path("/shared/abc-DEF_1") == "/?next=%2Fshared%2Fabc-DEF_1"
