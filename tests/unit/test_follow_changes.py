"""Change detection of followed questions (rag/follows/changes.py) and which follows new articles
could affect (rag/follows/matching.py): pure functions, no index."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from rag.follows.atom import atom_feed
from rag.follows.changes import SAME, SOURCE, UPDATE, compare, facts, statements
from rag.follows.matching import Candidate, affected
from rag.follows.store import Update
from rag.types import Document

MAY = {"doc_id": "may", "title": "Bridge to reopen in May", "publisher": "Coastal Times", "published": "2025-05-14",
       "url": "https://example.org/may", "number": 1, "quote": "The bridge will reopen in May, the council said."}


def answer(text: str, *citations: dict, short: str | None = None, answerable: bool = True) -> dict:
    return {"short_answer": short, "text": text, "answerable": answerable, "citations": list(citations), "seen_at": ""}


def cite(doc_id: str, number: int, quote: str, published: str = "2025-06-02") -> dict:
    return {"doc_id": doc_id, "number": number, "title": doc_id, "publisher": "Valley Herald", "published": published,
            "url": f"https://example.org/{doc_id}", "quote": quote}


OLD = answer("The bridge will reopen in May, the council said. [1]", MAY)


def test_identical_answers_record_nothing():
    assert compare(OLD, answer(OLD["text"], MAY), known={"may"}).kind == SAME


def test_a_new_article_with_a_new_date_is_an_update_naming_it():
    september = cite("sept", 2, "The reopening of the bridge was delayed to September.")
    new = answer("The bridge will reopen in May, the council said. [1] The reopening of the bridge was delayed "
                 "to September. [2]", MAY, september)
    change = compare(OLD, new, known={"may"})
    assert change.kind == UPDATE
    assert change.article["doc_id"] == "sept" and change.article["published"] == "2025-06-02"
    assert "September" in change.facts and "September" in change.reason


def test_a_new_article_repeating_the_answer_is_a_source_not_an_update():
    again = cite("again", 2, "The bridge will reopen in May.")
    new = answer("The bridge will reopen in May, the council said. [1] The bridge will reopen in May. [2]", MAY, again)
    change = compare(OLD, new, known={"may"})
    assert change.kind == SOURCE
    assert [s["doc_id"] for s in change.sources] == ["again"]


def test_a_headline_and_byline_run_into_the_first_sentence_state_nothing():
    again = dict(cite("again", 2, ""), title="Engineers confirm the bridge timetable", author="Tom Berg")
    text = OLD["text"] + "\n- Engineers confirm the bridge timetable By Tom Berg Engineers confirmed that the bridge will reopen in May. [2]"
    assert compare(OLD, answer(text, MAY, again), {"may"}).kind == SOURCE


def test_a_new_number_or_name_is_an_update():
    cost = cite("cost", 2, "Repairs will cost 48 million dollars.")
    assert compare(OLD, answer(OLD["text"] + " Repairs will cost 48 million dollars. [2]", MAY, cost), {"may"}).kind == UPDATE
    named = cite("named", 2, "The works are led by Helen Ortiz.")
    assert compare(OLD, answer(OLD["text"] + " The works are led by Helen Ortiz. [2]", MAY, named), {"may"}).kind == UPDATE


def test_another_short_answer_is_an_update_and_the_same_one_reworded_is_not():
    old = answer("**May** — The bridge will reopen in May. [1]", MAY, short="May")
    new = answer("**September** — The bridge will reopen in September. [1]", MAY, short="September")
    assert compare(old, new, {"may"}).kind == UPDATE
    assert compare(old, answer("**may** — It reopens in May. [1]", MAY, short="may"), {"may"}).kind == SAME


def test_answer_appearing_or_disappearing_is_an_update():
    declined = answer("The articles do not say.", answerable=False)
    assert compare(declined, OLD, set()).kind == UPDATE
    assert compare(OLD, declined, {"may"}).kind == UPDATE
    assert compare(declined, declined, set()).kind == SAME


def test_an_edited_known_article_stating_something_new_is_an_update():
    edited = dict(MAY, quote="The bridge will now reopen in October.")
    new = answer("The bridge will now reopen in October. [1]", edited)
    assert compare(OLD, new, {"may"}).kind == SAME  # not edited: its text is what was seen
    assert compare(OLD, new, {"may"}, edited={"may"}).kind == UPDATE


def test_facts_are_numbers_names_and_dates_not_sentence_openings():
    assert facts("Repairs cost 1,200 dollars. They start on Monday with Helen Ortiz [1].") == {
        "1200", "monday", "helen", "ortiz"}
    assert statements("First. [1] Second. [2] Third [1, 2]", 2) == "Second. Third"
    assert statements("**May** — First line [1]\n- Second line [2]", 2) == "Second line"


def doc(doc_id: str, title: str, text: str, publisher: str = "Coastal Times", published: str = "2025-06-01") -> Document:
    return Document(doc_id=doc_id, text=text, title=title, source=doc_id, publisher=publisher, published=published,
                    content_hash=doc_id)


def test_only_follows_an_article_could_affect_are_re_asked():
    follows = [
        Candidate(1, "When will the bridge reopen?", {}, frozenset({"may"})),
        Candidate(2, "How many visitors did the museum count?", {}, frozenset()),
        Candidate(3, "When will the bridge reopen?", {"publisher": "Valley Herald"}, frozenset()),
        Candidate(4, "What did the mayor say about the school?", {}, frozenset({"gone"})),
    ]
    new = {"sept": doc("sept", "Bridge reopening delayed", "The reopening of the harbour bridge was delayed to September.")}
    assert affected(follows, new, removed=["gone"], idf=lambda t: 1.0, share=0.5) == [1, 4]
    unrelated = {"zoo": doc("zoo", "Zoo welcomes panda", "A panda arrived at the city zoo on Friday.")}
    assert affected(follows, unrelated, removed=[], idf=lambda t: 1.0, share=0.5) == []


def test_the_atom_feed_escapes_everything():
    now = dt.datetime(2025, 6, 2, tzinfo=dt.timezone.utc)
    evil = "<script>alert(1)</script> & \x00"
    update = Update(7, 1, evil, "A new article states september.", answer(evil), answer("Now " + evil),
                    {"title": evil, "publisher": "Valley Herald", "published": "2025-06-02", "url": "https://e.org/?a=1&b=<2>"},
                    now, None)
    body = atom_feed("alice", [update], "https://app/feeds/x", "https://app", now)
    assert b"<script>" not in body
    root = ET.fromstring(body)
    entry = root.find("{http://www.w3.org/2005/Atom}entry")
    assert evil.replace("\x00", "") in entry.find("{http://www.w3.org/2005/Atom}title").text
    assert entry.find("{http://www.w3.org/2005/Atom}link").get("href") == "https://e.org/?a=1&b=<2>"


def test_the_follow_view_escapes_everything_and_says_when_sources_left():
    from rag.follows.store import Followed
    from rag.web.follows import follow_html

    now = dt.datetime(2025, 6, 2, tzinfo=dt.timezone.utc)
    evil = '<img src=x onerror="alert(1)">'
    old, new = answer(evil + " [1]", dict(MAY, title=evil)), answer("Now " + evil + " [1]", MAY)
    update = Update(7, 1, evil, evil, old, new, {"title": evil, "publisher": evil, "published": "2025-06-02"}, now, None)
    followed = Followed(1, "alice", evil, {"publisher": evil}, new, [], now, now, [update])
    page = follow_html(followed, gone=[dict(MAY, title=evil)])
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "have left the corpus" in page and "2025-06-02" in page
    assert 'class="follow-answer old"' in page and 'class="follow-answer new"' in page
