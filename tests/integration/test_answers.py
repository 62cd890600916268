"""The public contract of `rag.ask`, extractive answers, declining, and follow-ups."""

import re

import pytest

from rag.types import Answer, Citation


def test_contract_fields(service):
    a = service.ask("what did Rubio say about Istanbul")
    assert isinstance(a, Answer) and isinstance(a.text, str)
    assert a.mode == "extractive" and a.answerable is True
    assert a.citations and all(isinstance(c, Citation) for c in a.citations)
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", a.text)]
    assert [c.number for c in a.citations] == sorted(set(markers)) == list(range(1, len(a.citations) + 1))
    for c in a.citations:
        assert c.doc_id and c.title and c.url
        doc = service.document(c.doc_id)
        assert doc.text[c.start:c.end] == c.quote  # verbatim from the cleaned text
        assert c.url.startswith("http")


def test_rubio_answer_gathers_what_he_said_from_several_articles(service):
    a = service.ask("what did Rubio say about Istanbul")
    assert len({c.doc_id for c in a.citations}) >= 2
    assert all("Rubio" in c.quote for c in a.citations)


def test_every_answer_sentence_is_a_source_sentence(service):
    a = service.ask("Who led the Russian delegation?")
    quotes = " ".join(" ".join(c.quote.split()) for c in a.citations)
    for line in a.text.splitlines():
        sentence = re.sub(r"^- |\s*\[\d+\]$", "", line).strip()
        assert sentence and sentence in quotes
    assert "Medinsky" in a.text


@pytest.mark.parametrize(
    "question",
    [
        "What did Angela Merkel say about the ceasefire?",
        "what did merkel say about the talks",
        "What did Tom Cruise do at Cannes?",
        "What is the boiling point of mercury?",
    ],
)
def test_questions_the_corpus_cannot_answer_are_declined(service, question):
    a = service.ask(question)
    assert a.answerable is False and a.citations == []
    assert "do not" in a.text


def test_follow_up_uses_the_conversation(service):
    first = service.ask("Who led the Russian delegation?")
    follow = service.ask("What did he warn?", history=[("Who led the Russian delegation?", first.text)])
    assert follow.answerable
    assert any("Medinsky" in c.quote or "forever" in c.quote for c in follow.citations)


def test_top_k_and_publisher_filter(service):
    a = service.ask("What did Rubio say?", top_k=2, publisher="The Wall Street Journal")
    assert a.citations and {c.doc_id for c in a.citations} == {"wsj-diplomatic-defeat-for-putin"}
    assert a.citations[0].publisher == "The Wall Street Journal"


def test_stream_yields_text_then_the_answer(service):
    events = list(service.stream("How many prisoners were swapped?"))
    assert isinstance(events[-1], Answer)
    assert "".join(e for e in events[:-1]) == events[-1].text
    assert re.search(r"1,000", events[-1].text)


def test_spacy_labels_entities_of_news_sentences():
    from rag.backends.ner import SpacyEntities

    found = SpacyEntities().entities([
        "The Russian delegation was led by Vladimir Medinsky in Istanbul on Friday.",
        "The company paid $3 million, about 12% of its profit.",
        "",
    ])
    labels = [{(text[e.start : e.end], e.label) for e in ents} for text, ents in zip(
        ["The Russian delegation was led by Vladimir Medinsky in Istanbul on Friday.",
         "The company paid $3 million, about 12% of its profit.", ""], found)]
    assert {("Vladimir Medinsky", "PERSON"), ("Istanbul", "GPE")} <= labels[0]
    assert ("$3 million", "MONEY") in labels[1] and any(label == "PERCENT" for _, label in labels[1])
    assert labels[2] == set()


def test_entities_found_when_indexed_are_what_questions_read(service, monkeypatch):
    import sqlite3

    from rag.backends.entity_store import ENTITIES_FILE

    db = sqlite3.connect(service.config.paths.index_dir / ENTITIES_FILE)
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == service.index_size()[0]
    question = "How many prisoners were exchanged?"
    expected = service.ask(question)

    def no_model(texts):
        raise AssertionError(f"the model was asked to read {len(texts)} sentences at question time")

    fresh = type(service)(service.config)  # nothing in memory: every sentence from the store
    monkeypatch.setattr(fresh.ner.recognizer, "entities", no_model)
    again = fresh.ask(question)
    assert again.short_answer_confidence == expected.short_answer_confidence is not None
    assert again.text == expected.text


def test_short_answer_is_data_verbatim_from_the_first_citation(service):
    a = service.ask("Who led the Russian delegation?")
    assert a.short_answer_confidence is not None and 0.0 <= a.short_answer_confidence <= 1.0
    if a.short_answer is not None:  # shown: bold at the start of the first line, cut from citation [1]
        assert a.text.startswith(f"**{a.short_answer}** — ") and a.short_answer in " ".join(a.citations[0].quote.split())
    else:
        assert not a.text.startswith("**")
    open_question = service.ask("what did Rubio say about Istanbul")
    assert open_question.short_answer is None and open_question.short_answer_confidence is None


def test_a_deployments_minimum_confidence_decides_whether_the_bold_answer_shows(service):
    from rag.service import Service

    question = "Who led the Russian delegation?"
    confidence = service.ask(question).short_answer_confidence
    assert confidence is not None
    stricter = Service(service.config.with_(short_answer_min_confidence=min(1.0, confidence + 0.01))).ask(question)
    looser = Service(service.config.with_(short_answer_min_confidence=max(0.001, confidence - 0.01))).ask(question)
    assert stricter.short_answer is None and not stricter.text.startswith("**")
    assert stricter.short_answer_confidence == confidence
    assert looser.short_answer is not None and looser.text.startswith(f"**{looser.short_answer}** — ")
