"""Only what answers, only this question: supporting sentences from articles about the question,
declines when the corpus never pairs a question's speaker with its topic, follow-ups that stand
alone, and outlet names read whole. Invented articles beside the bundled ones; fake backends."""

from __future__ import annotations

import pytest

from rag.answer.question import analyse
from rag.answer.support import named_sources
from rag.retrieval.followup import refers_back, retrieval_query
from tests.conftest import copy_corpus

ARTICLES = {
    "kelmar-ferry.txt": (
        "Kelmar ferry timetable cut as operator loses crews\n\n"
        "The Kelmar ferry will sail four times a day from June instead of seven, the operator Northway Lines said "
        "on Tuesday, blaming a shortage of qualified crews.\n\n"
        "Island residents said the reduced timetable would make it harder to reach the hospital on the mainland. "
        "\"We were told about the cut with two weeks' notice,\" said Petra Lund, who chairs the islanders' association.\n\n"
        "Northway Lines said it had been unable to hire enough deckhands since wages at the new wind farm rose.\n"
    ),
    "brennick-sea-wall.txt": (
        "Brennick council approves sea wall after winter storms\n\n"
        "The Brennick sea wall will cost 14.5 million euros, the town council decided on Wednesday, after storms in "
        "January flooded forty homes along the harbour front.\n\n"
        "Construction is due to start in September and take two years. The council's engineer, Tomas Rieder, said the "
        "wall would be built two metres higher than the old one.\n"
    ),
    "brennick-library.txt": (
        "Brennick library reopens after flood\n\n"
        "The new Brennick library wing will cost 2.1 million euros, the town council said, three months after the "
        "January flood destroyed 12,000 books in its basement store.\n\n"
        "Residents donated 3,200 books to replace some of those lost, the librarian Anna Moss said.\n"
    ),
    "skerry-lighthouse.txt": (
        "Lighthouse keeper retires\n\n"
        "The last keeper of the Skerry lighthouse, Tomas Lind, retired on Friday after thirty-one years. "
        "\u201cThe lamp never went dark on my watch,\u201d Lind said.\n"
    ),
    "brennick-festival.txt": (
        "Brennick harbour festival returns with a bigger budget\n\n"
        "The Brennick harbour festival will cost 400,000 euros this year, twice last year's budget, the organisers said.\n\n"
        "The festival will feature twenty concerts on a floating stage and a regatta for traditional boats.\n"
    ),
}


@pytest.fixture(scope="module")
def invented(fake_config, tmp_path_factory):
    """The extractive service (fake profile) over the bundled articles and the invented ones above."""
    from rag.service import Service

    base = tmp_path_factory.mktemp("invented")
    corpus = copy_corpus(base / "corpus")
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    service = Service(fake_config.with_(corpus_dir=corpus, index_dir=base / "index"))
    service.index()
    return service


def cited(answer) -> set[str]:
    return {c.doc_id for c in answer.citations}


def test_a_why_question_is_supported_only_by_the_article_it_asks_about(invented):
    # The Kremlin articles share "timetable" and "cut" with the question, and nothing else.
    answer = invented.ask("Why is the Kelmar ferry timetable being cut?")
    assert answer.answerable and "shortage of qualified crews" in answer.text
    assert cited(answer) == {"kelmar-ferry"}


def test_a_cost_question_does_not_cite_other_projects_budgets(invented):
    answer = invented.ask("How much will the Brennick sea wall cost?")
    assert "14.5 million euros" in answer.text.split("\n")[0]
    assert cited(answer) == {"brennick-sea-wall"}


@pytest.mark.parametrize("question", [
    "How many times a day will the Kelmar ferry sail from June?",
    "How often will the Kelmar ferry sail from June?",
])
def test_a_number_the_article_states_is_answered_however_it_is_asked(invented, question):
    answer = invented.ask(question)
    assert answer.answerable
    assert "four times a day" in answer.text.split("\n")[0]


@pytest.mark.parametrize("question", [
    "What did the Pope say about Istanbul?",  # the Pope and Istanbul appear, never together
    "What did readers say about the sea wall?",  # no reader is quoted anywhere
    "What did Petra Lund say about the sea wall?",  # she spoke, about the ferry
])
def test_a_speaker_the_corpus_never_reports_on_the_topic_is_declined(invented, question):
    answer = invented.ask(question)
    assert not answer.answerable and not answer.citations


@pytest.mark.parametrize("question, doc", [
    ("What did Petra Lund say about the ferry?", "kelmar-ferry"),
    ("What did Tomas Rieder say about the sea wall?", "brennick-sea-wall"),
    # Named with a title and a full name, quoted by surname only.
    ("What did the lighthouse keeper Tomas Lind say when he retired?", "skerry-lighthouse"),
    ("What did Rubio say about Istanbul?", None),
])
def test_a_speaker_reported_on_the_topic_is_answered(invented, question, doc):
    answer = invented.ask(question)
    assert answer.answerable
    if doc:
        assert answer.citations[0].doc_id == doc


def test_a_follow_up_that_stands_alone_carries_no_earlier_turns_sources(invented):
    first = invented.ask("Who led the Russian delegation?")
    russian = cited(first)
    answer = invented.ask("How much is the sea wall?", history=[("Who led the Russian delegation?", first.text)])
    assert answer.answerable and cited(answer) == {"brennick-sea-wall"} and not cited(answer) & russian
    # A follow-up that needs the earlier turn still gets it.
    follow = invented.ask("What did he say about it?", history=[("What did Tomas Rieder say about the wall?", "Tomas Rieder said ...")])
    assert "brennick-sea-wall" in cited(follow)


@pytest.mark.parametrize("question, back", [
    ("What did he warn?", True),
    ("Why was it cut?", True),
    ("What about the ferry?", True),
    ("How did Putin respond to it?", True),
    ("Which talks did he lead?", True),
    ("How much is the sea wall?", False),
    ("Who led the Russian delegation?", False),
    ("Who is Tomas Rieder and what did he say?", False),
    ("What is the Kelmar ferry timetable and why was it cut?", False),
])
def test_a_question_refers_back_only_when_it_leans_on_another_turn(question, back):
    assert refers_back(question) is back
    history = [("Who led the Russian delegation?", "Vladimir Medinsky led it [1].")]
    assert (retrieval_query(question, history) != question) is back


def test_one_lowercase_word_of_an_outlet_does_not_name_it(invented):
    stats = invented.search_index.stats
    wsj, ft = "wsj-diplomatic-defeat-for-putin", "ft-putin-trump-peace-obstacle"
    assert named_sources(analyse("How much will the sea wall cost?"), stats)[1] == set()
    assert named_sources(analyse("How many times a day will the ferry sail?"), stats)[1] == set()
    assert wsj in named_sources(analyse("What did the Wall Street Journal report?"), stats)[1]
    assert wsj in named_sources(analyse("What did the WSJ say about Rubio?"), stats)[1]
    assert ft in named_sources(analyse("What does the FT say about the talks?"), stats)[1]


def test_supporting_sentences_come_only_from_articles_about_the_question():
    from rag.answer.extractive import select_sentences
    from rag.answer.support import Sentence, Support
    from rag.types import Passage

    rows = [
        ("wall", "The Brennick sea wall will cost 14.5 million euros, the council decided.", 0.9),
        ("wall", "Construction of the wall is due to start in September.", 0.5),
        ("festival", "The Brennick festival will cost 400,000 euros this year, the organisers said.", 0.8),
    ]
    sentences = [Sentence(doc, 0, len(text), text, score, score, Passage(f"{doc}:0", doc, text, 0, len(text), doc))
                 for doc, text, score in rows]
    # The festival's article shares "Brennick" and "cost" with the question, not the sea wall.
    support = Support(sentences=sentences, coverage=0.9, closeness=0.5, doc_coverage={"wall": 1.0, "festival": 0.4})
    chosen = [s.doc_id for group in select_sentences(support, max_sentences=5, per_article=3) for s in group]
    assert chosen == ["wall", "wall"]
    support.doc_coverage["festival"] = 0.7  # an article about the same thing, in other words
    assert "festival" in [s.doc_id for group in select_sentences(support, max_sentences=5, per_article=3) for s in group]
