"""The public contract of `Service.ask` on the fake backends: extractive answers, declining,
follow-ups, and the questions, top_k values and filters that are refused.

Answers that depend on the real embedder's retrieval quality ("Medinsky led the delegation") are in
tests/integration/test_answers.py; here the hashing embedder stands in, so the assertions are the
ones any retrieval must keep.
"""

from __future__ import annotations

import json
import re

import pytest

from rag.errors import QuestionError
from rag.retrieval.followup import retrieval_query
from rag.types import Answer, Citation

MARKER = re.compile(r"\[(\d+)\]")


def quotations_closed(text: str) -> bool:
    """Every quotation in `text` that opens also closes; sources mix curly and straight marks
    (“Putin ...," Merz said), so a straight mark closes an open curly one."""
    depth = 0
    for ch in text:
        if ch == "“":
            depth += 1
        elif ch == "”":
            depth -= 1
        elif ch == '"':
            depth += 1 if depth <= 0 else -1
    return depth == 0


def assert_contract(service, a: Answer) -> None:
    """Citations numbered 1..n in the order their markers appear; each quote verbatim from its document."""
    assert isinstance(a, Answer) and isinstance(a.text, str)
    assert a.citations and all(isinstance(c, Citation) for c in a.citations)
    markers = [int(n) for n in MARKER.findall(a.text)]
    first_seen = list(dict.fromkeys(markers))
    assert first_seen == [c.number for c in a.citations] == list(range(1, len(a.citations) + 1))
    for c in a.citations:
        assert c.doc_id and c.title and c.url.startswith("http")
        doc = service.document(c.doc_id)
        assert doc.text[c.start : c.end] == c.quote  # verbatim from the cleaned text


@pytest.mark.parametrize(
    "question",
    ["what did Rubio say about Istanbul", "Who led the Russian delegation?", "How many prisoners were swapped?"],
)
def test_extractive_answer_contract(service, question):
    a = service.ask(question)
    assert a.mode == "extractive" and a.answerable is True and a.supported is True and a.notice is None
    assert_contract(service, a)


def test_every_answer_line_is_a_cited_source_sentence(service):
    a = service.ask("What did Rubio say about Istanbul?")
    quotes = " ".join(" ".join(c.quote.split()) for c in a.citations)
    for line in a.text.splitlines():
        sentence = re.sub(r"^- |\s*\[\d+\]$", "", line).strip()
        assert sentence and sentence in quotes


@pytest.mark.parametrize(
    "question, named",
    [
        ("What did Angela Merkel say about the ceasefire?", ["Merkel"]),
        ("what did merkel say about the talks", ["merkel"]),
        ("What did Tom Cruise do at Cannes?", ["Cruise", "Cannes"]),
        ("What is the boiling point of mercury?", []),
    ],
)
def test_questions_about_things_the_corpus_never_mentions_are_declined(service, question, named):
    a = service.ask(question)
    assert a.answerable is False and a.citations == []
    assert "do not" in a.text
    for word in named:
        assert word in a.text  # the decline names what the articles never mention


def test_a_declined_question_never_reaches_the_llm(scripted):
    calls = []
    p = scripted(lambda messages: calls.append(messages) or "Merkel said nothing [1].")
    a = p.ask("What did Angela Merkel say about the ceasefire?")
    assert a.answerable is False and a.citations == [] and calls == []


def test_stream_yields_text_then_the_answer(service):
    events = list(service.stream("How many prisoners were swapped?"))
    assert isinstance(events[-1], Answer)
    assert all(isinstance(e, str) for e in events[:-1])
    assert "".join(events[:-1]) == events[-1].text
    assert "1,000" in events[-1].text


def test_top_k_caps_the_citations_and_the_publisher_filter_keeps_one_outlet(service):
    assert len(service.ask("What did Rubio say about Istanbul?", top_k=1).citations) == 1
    a = service.ask("What did Rubio say?", top_k=2, publisher="The Wall Street Journal")
    assert a.citations and {c.doc_id for c in a.citations} == {"wsj-diplomatic-defeat-for-putin"}
    assert a.citations[0].publisher == "The Wall Street Journal"
    assert all(p.publisher == "The Wall Street Journal" for p in service.retrieve("Rubio", 5, publisher="the wall street journal"))


def test_date_range_and_publisher_filters(tmp_path, fake_config):
    from rag.service import Service

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [
        {"id": "may", "title": "Harbour news in May", "published": "2025-05-10", "publisher": "Coast Weekly",
         "text": "The harbour authority approved a new ferry timetable after months of talks with islanders."},
        {"id": "june", "title": "Harbour news in June", "published": "2025-06-12", "publisher": "Island Post",
         "text": "The harbour authority delayed the new ferry timetable again after a storm damaged the pier."},
    ]
    (corpus / "news.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    p = Service(fake_config.with_(corpus_dir=corpus, index_dir=tmp_path / "index"))
    question = "What did the harbour authority do about the ferry timetable?"
    assert {c.doc_id for c in p.ask(question).citations} == {"may", "june"}
    assert {c.doc_id for c in p.ask(question, since="2025-06-01").citations} == {"june"}
    assert {c.doc_id for c in p.ask(question, until="2025-05-31").citations} == {"may"}
    assert {c.doc_id for c in p.ask(question, since="2025-06").citations} == {"june"}
    assert {c.doc_id for c in p.ask(question, publisher="island post").citations} == {"june"}
    assert p.ask(question, since="2026").citations == []


@pytest.mark.parametrize(
    "question, history",
    [
        ("What did he warn?", [("Who led the Russian delegation?", "Vladimir Medinsky led the Russian delegation.")]),
        ("What did Rubio say about Istanbul?", []),
        ("How did Elina Valtonen sum up the negotiations?", []),
    ],
)
def test_quotations_are_cited_whole_and_citations_do_not_overlap(service, question, history):
    a = service.ask(question, history=history)
    assert a.citations
    for c in a.citations:
        assert quotations_closed(c.quote), c.quote
    for i, c in enumerate(a.citations):
        for d in a.citations[i + 1 :]:
            assert c.doc_id != d.doc_id or c.end <= d.start or d.end <= c.start


# Follow-ups ------------------------------------------------------------------------------------


def test_a_follow_up_is_searched_with_the_turn_it_refers_to():
    history = [("Who led the Russian delegation?", "Vladimir Medinsky led the Russian delegation [1].")]
    query = retrieval_query("What did he warn?", history)
    assert query.startswith("What did he warn? Who led the Russian delegation?")
    assert "medinsky" in query.lower() and "[1]" not in query


def test_a_self_contained_question_is_searched_as_it_is():
    history = [("Who led the Russian delegation?", "Vladimir Medinsky led it.")]
    assert retrieval_query("What did Rubio say about Istanbul?", history) == "What did Rubio say about Istanbul?"
    assert retrieval_query("What did he warn?", []) == "What did he warn?"


def test_only_the_last_turn_is_added_to_a_follow_up():
    history = [("What did Rubio say?", "Marco Rubio spoke [1]."), ("Who led the Russian delegation?", "Vladimir Medinsky [1].")]
    query = retrieval_query("What did he warn?", history)
    assert "medinsky" in query.lower() and "rubio" not in query.lower()


def test_follow_up_through_the_service_uses_the_conversation(service, scripted):
    history = [("Who led the Russian delegation?", "Vladimir Medinsky led the Russian delegation [1].")]
    follow = service.ask("What did he warn?", history=history)
    assert follow.answerable and follow.citations
    # An LLM reads the conversation before the new question (at most the last three turns).
    seen = []
    p = scripted(lambda messages: seen.append(messages) or "He warned [1].")
    p.ask("What did he warn?", history=[("q0", "a0")] * 3 + history)
    roles = [m["role"] for m in seen[0]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert seen[0][-3]["content"] == "Who led the Russian delegation?" and "What did he warn?" in seen[0][-1]["content"]


# Refused input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, message",
    [
        ("", "Please type a question"),
        ("   \n\t", "Please type a question"),
        ("x" * 100_000, "the limit is 2,000"),
        (None, "must be text"),
        (42, "must be text"),
        (b"Who led the delegation?", "must be text"),
        (["Who?"], "must be text"),
        ("who said \udcff\udcfe", "not valid UTF-8"),
    ],
)
def test_empty_huge_and_non_text_questions_are_question_errors(service, question, message):
    with pytest.raises(QuestionError, match=message):
        service.ask(question)


def test_the_question_limit_follows_the_setting(service, fake_config):
    from rag.service import Service

    short = Service(fake_config.with_(max_question_chars=10))
    with pytest.raises(QuestionError, match="limit is 10"):
        short.ask("Who led the Russian delegation?")


@pytest.mark.parametrize("top_k", [0, -3, 51, True, 2.5, "3", [1]])
def test_bad_top_k_is_a_question_error(service, top_k):
    with pytest.raises(QuestionError, match="top_k must be a whole number"):
        service.ask("Who led the Russian delegation?", top_k=top_k)
    with pytest.raises(QuestionError, match="top_k"):
        service.retrieve("Who led the Russian delegation?", top_k)


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"outlet": "WSJ"}, "Unknown filter 'outlet'"),
        ({"since": "last week"}, "since must be a date"),
        ({"until": "31/05/2025"}, "until must be a date"),
        ({"since": 2025}, "since must be a date"),
        ({"publisher": 5}, "publisher must be text"),
    ],
)
def test_bad_filters_are_question_errors(service, filters, message):
    with pytest.raises(QuestionError, match=message):
        service.ask("Who led the Russian delegation?", **filters)


@pytest.mark.parametrize(
    "history, message",
    [
        ([("Who led the delegation?", "Medinsky.")] * 21, "21 earlier turns; the limit is 20"),
        ([("x" * 2001, "an answer")], "earlier question is 2,001 characters long"),
        ([("Who?", "y" * 20_001)], "earlier answer is 20,001 characters long"),
        ([("Who?", "bad \udcff bytes")], "earlier answer contains bytes"),
        ([("Who?",)], "pairs"),
        ([("Who?", 42)], "earlier answer must be text"),
    ],
)
def test_every_turn_of_the_history_is_held_to_a_limit(service, history, message):
    with pytest.raises(QuestionError, match=message):
        service.ask("What did he warn?", history=history)


def test_a_history_at_the_limits_is_answered(service):
    history = [("Who led the Russian delegation?", "y" * 20_000)] * 20
    assert service.ask("What did he warn?", history=history).text
