"""Question analysis, short-answer candidates and the scorer on hand-written sentences: no index, no
NER model (the rules alone, or a fake recognizer listing its entities)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rag.answer.direct import answer_groups, place_kinds, recognise
from rag.answer.extractive import close_quotation, compose, self_contained_start
from rag.answer.question import analyse
from rag.answer.scorer import FEATURES, Scorer, best_answer, features, shipped_scorer
from rag.answer.linear import Model
from rag.answer.support import Sentence, Support
from rag.backends.ner import ListedEntities
from rag.retrieval.stats import CorpusStats
from rag.types import Document, Passage


def find_answer(question, support):
    """The best-supported candidate answer (the scorer's first candidate), or None."""
    groups = answer_groups(question, support)
    return groups[0].lead if groups else None


@pytest.mark.parametrize(
    "question, answer_type",
    [
        ("Who led the Russian delegation?", "person"),
        ("Which think tank does Sinan Ulgen direct?", "organisation"),
        ("Which former U.S. ambassador to Russia criticised the plan?", "person"),
        ("Where was the event?", "place"),
        ("Which continent will require a common charger?", "place"),
        ("In what year did Ukraine give up its nuclear weapons?", "date"),
        ("When were the accords signed?", "date"),
        ("How many prisoners were swapped?", "number"),
        ("What percentage of people avoid the news?", "number"),
        ("What fraction of the budget goes to defence?", "number"),
        ("How long did the meeting last?", "duration"),
        ("What is the name of the cottage the couple moved to?", "name"),
        ("Which wildly popular show was renewed?", "name"),
        ("What did Rubio say about Istanbul?", "none"),
        ("Why did the talks fail?", "none"),
        ("How did Elina Valtonen sum up the negotiations?", "none"),
        ("Who is Andriy Yermak and what has he done?", "none"),
        ("Who did Putin send to the talks, and how was that delegation characterized?", "none"),
        ("Which European leaders pressed for a ceasefire?", "none"),  # several names: a sentence answers
        ("Which Ivy League school dropped its fees?", "organisation"),  # the head noun comes last
        ("Which of these former party leadership candidates stayed in the race?", "person"),  # one of them
        ("Which retailer lowered its fuel prices?", "organisation"),  # not the verb's object
        ("Which island nation held elections?", "place"),
        ("Which state’s Supreme Court ruled that embryos are children?", "place"),  # the owner is asked
        ("Which university's president testified before Congress?", "organisation"),
        ("Which famous poet is the singer related to?", "person"),
        ("Which comedian will host the show?", "person"),
        ("Which three countries recognised the state?", "none"),  # a list: sentences answer
        ("What sports will not appear at the Games?", "none"),
        ("Which series was renewed?", "name"),
        ("Which Paris museum reopened this week?", "name"),  # a name's "s" is no plural
    ],
)
def test_expected_answer_type(question, answer_type):
    assert analyse(question).answer_type == answer_type


@pytest.mark.parametrize(
    "question, measure",
    [
        ("What percentage of voters backed the plan?", "percent"),
        ("How much did the new telescope cost?", "money"),
        ("What price did the painting fetch?", "money"),
        ("How much have rents risen this year?", ""),  # a change: in money or in percent
        ("How many prisoners were swapped?", ""),
        ("Who won the race?", ""),
    ],
)
def test_what_a_number_question_measures(question, measure):
    assert analyse(question).measure == measure


def test_question_terms_time_expressions_and_unit():
    q = analyse("How many points did the plan have this week, after talks on Thursday?")
    assert q.unit == "points" and "plan" in q.terms
    assert "this week" in q.time_expressions and any("Thursday" in t for t in q.time_expressions)


def _support(*rows: tuple[str, str, float]) -> tuple[Support, dict[str, Document]]:
    """Sentences (doc_id, text, score), each the whole text of its own document."""
    docs: dict[str, Document] = {}
    sentences = []
    for doc_id, text, score in rows:
        doc = docs.get(doc_id)
        start = len(doc.text) + 1 if doc else 0
        body = (doc.text + " " if doc else "") + text
        docs[doc_id] = Document(doc_id, body, f"Title {doc_id}", f"{doc_id}.txt", "hash", url=f"https://example.org/{doc_id}")
        passage = Passage(f"{doc_id}:0", doc_id, body, 0, len(body), f"Title {doc_id}", url=f"https://example.org/{doc_id}")
        sentences.append(Sentence(doc_id, start, start + len(text), text, score, score, passage))
    for s in sentences:  # each sentence reads from the final document text
        s.passage = Passage(f"{s.doc_id}:0", s.doc_id, docs[s.doc_id].text, 0, len(docs[s.doc_id].text), "t")
    sentences.sort(key=lambda s: s.score, reverse=True)
    return Support(sentences=sentences, coverage=0.8, closeness=0.6), docs


SINCE = "The first direct talks between the delegations in over three years opened in Istanbul."
LASTED = "The meeting between the delegations lasted less than two hours on Friday."


@pytest.mark.parametrize(
    "rows, question, expected",
    [
        pytest.param(
            [("a", "The Russian delegation was led by Vladimir Medinsky, a former culture minister.", 0.8),
             ("b", "Officials in Kyiv said the talks in Turkey would be difficult.", 0.5)],
            "Who led the Russian delegation?", "Vladimir Medinsky", id="who: the person named near the question terms"),
        pytest.param(
            [("a", "As rebel forces keep grinding east, controlling nearly a fifth of the country, talks stall.", 0.8),
             ("b", "The third round of talks ended on Friday without a deal on the country.", 0.7)],
            "Roughly what share of the country do rebel forces control?", "a fifth", id="a share said in words"),
        pytest.param(
            [("a", "The meeting between the two delegations lasted less than two hours on Friday.", 0.8),
             ("b", "About 1,000 prisoners will be exchanged, the delegations agreed at the meeting.", 0.6)],
            "How long did the meeting between the delegations last?", "less than two hours", id="how long: a duration, qualifier kept"),
        pytest.param(
            [("a", "Over three days the two sides agreed to swap 1,000 prisoners of war.", 0.8)],
            "How many prisoners did the sides agree to swap?", "1,000 prisoners", id="how many: the asked unit counted"),
        pytest.param(
            [("a", SINCE, 0.8), ("b", LASTED, 0.7)],
            "How long did the meeting between the delegations last?", "less than two hours", id="how long it lasted, not a time since"),
        pytest.param(
            [("a", SINCE, 0.8), ("b", LASTED, 0.4)],
            "How long has it been since the delegations last held direct talks?", "over three years", id="how long since"),
        pytest.param(
            [("a", "Of those polled, 38% agreed, and 2,000 people said they avoid the news entirely.", 0.8)],
            "What percentage of people avoid the news?", "38%", id="what percentage: a share, not a count"),
        pytest.param(
            [("a", "The storm flooded streets across Salt Lake City on Tuesday, officials said.", 0.8)],
            "Which city did the storm flood this week?", "Salt Lake City", id="the asked kind ending the name stays"),
        pytest.param(
            [("a", "Rangers closed Yellowstone National Park after the floods washed out roads.", 0.8)],
            "Which national park closed after the floods?", "Yellowstone National Park", id="a national park whole"),
        pytest.param(
            [("a", "The champion ate 63 hot dogs in ten minutes to keep his title.", 0.8)],
            "How many hot dogs did the champion eat?", "63", id="a number, not the adjective after it"),
        pytest.param(
            [("a", "The candidates agreed to two televised debates before the vote.", 0.8)],
            "How many debates did the candidates agree to?", "two", id="a number, not the participle after it"),
        pytest.param(
            [("a", "A 101-year-old man was convicted by a German court on Tuesday.", 0.8)],
            "How old is the man the court convicted?", "101", id="an age: the number before -year-old"),
        pytest.param(
            [("a", "Trump proposed a 30-day ceasefire to begin on Monday.", 0.8)],
            "How long a ceasefire did Trump propose?", "30-day", id="a duration keeps its unit"),
        pytest.param(
            [("a", "The couple reported income of $619,976, according to the tax return released on Monday.", 0.8)],
            "How much did the couple report in income?", "$619,976", id="no comma after a number"),
        pytest.param(
            [("a", "“If I ate at Wendy’s, I’d wait for the surge to end,” wrote one customer about the chain.", 0.8),
             ("b", "Wendy’s plans to test dynamic pricing on its menu boards.", 0.7)],
            "Which fast food chain will test dynamic pricing?", "Wendy’s", id="an apostrophe closes no quoted title"),
        pytest.param(
            [("a", "Domino’s said on Monday it would close 40 stores, after the Kremlin’s spokesman spoke.", 0.8)],
            "Which pizza chain will close stores?", "Domino’s", id="a name's own 's stays, a possessive goes"),
    ],
)
def test_short_answer(rows, question, expected):
    support, _ = _support(*rows)
    answer = find_answer(analyse(question), support)
    assert answer is not None and answer.text == expected
    assert answer.sentence.text[answer.start : answer.end] == answer.text


def test_a_name_written_with_digits_is_no_number():
    support, _ = _support(("a", "Fans of the 49ers moved savings out of a 401(k) to fly on Flight 1282 to the G7 summit.", 0.8))
    assert answer_groups(analyse("How many fans watched the game?"), support) == []


def test_how_many_asks_for_a_count_not_a_sum():
    support, _ = _support(("a", "The $130,000 payment trial was heard by 12 jurors and six alternates.", 0.8))
    groups = answer_groups(analyse("The hush money trial was heard by a panel of how many jurors?"), support)
    fit = {g.lead.text: g.lead.fit for g in groups}
    assert groups[0].lead.text == "12 jurors"
    assert fit["$130,000"] < fit["six alternates"]  # a sum fits less than even a count of something else


@pytest.mark.parametrize("opening", ["(CNN)", "New York (CNN Business)", "LONDON (Reuters) -"])
def test_the_agency_of_a_dateline_is_never_the_short_answer(opening):
    support, _ = _support(("a", f"{opening} Acme Rail Group said on Monday it will close the coastal line.", 0.8))
    answer = find_answer(analyse("Which company will close the coastal line?"), support)
    assert answer is not None and answer.text == "Acme Rail Group"


def test_no_short_answer_from_a_common_opening_word_or_what_is_left_of_a_name_the_question_gave():
    support, _ = _support(
        ("a", "(CNN) Research on ancient footprints in New Mexico suggests people arrived earlier.", 0.8),
        ("b", "Liz Cheney lost her primary, showing Donald Trump's hold on the party.", 0.7),
    )
    answer = find_answer(analyse("Which state holds the ancient footprints?"), support)
    assert answer is not None and answer.text == "New Mexico"
    answer = find_answer(analyse("Which candidate backed by Trump beat Liz Cheney?"), support)
    assert answer is None or answer.text != "Donald"


def test_agreement_across_articles_beats_a_single_mention():
    support, _ = _support(
        ("a", "The company said Maria Lopez will chair the new board.", 0.70),
        ("b", "The new board will be chaired by John Smith, the company said.", 0.72),
        ("c", "Shareholders expect John Smith to chair the board from June.", 0.60),
    )
    best = answer_groups(analyse("Who will chair the new board?"), support)[0]
    assert best.lead.text == "John Smith" and best.documents == 2


def test_no_candidate_of_the_asked_kind_gives_none():
    support, _ = _support(
        ("a", "The minister met Anna Berg and Tom Reed to discuss the budget.", 0.7),
        ("b", "The budget talks will continue next month, officials said.", 0.6),
    )
    assert find_answer(analyse("Why did the budget talks stall?"), support) is None  # asks for a sentence
    support, _ = _support(("a", "Officials said the budget talks would continue without a deal.", 0.7))
    assert find_answer(analyse("How many officials attended the talks?"), support) is None  # no number at all


def test_names_the_question_already_contains_are_not_answers():
    support, _ = _support(("a", "Marco Rubio called Sergei Lavrov over the weekend to assess the diplomacy.", 0.8))
    answer = find_answer(analyse("Whom did Marco Rubio call over the weekend?"), support)
    assert answer is not None and answer.text == "Sergei Lavrov"


def test_entity_labels_decide_a_names_kind_and_add_what_the_rules_miss():
    support, _ = _support(("a", "While the talks went on, Trump was touring the Middle East with Witkoff.", 0.8))
    question = analyse("Where was Trump while the talks took place?")
    rules = [g.lead for g in answer_groups(question, support)]
    assert all(c.label == "" for c in rules)
    recognise(support, ListedEntities({"Trump": "PERSON", "the Middle East": "LOC", "Witkoff": "PERSON"}))
    found = {g.lead.text: g.lead for g in answer_groups(question, support)}
    assert found["Middle East"].kind == "place" and found["Middle East"].label == "LOC"
    assert found["Witkoff"].kind == "person" and found["Witkoff"].fit < found["Middle East"].fit
    assert "Trump" not in found  # the question's own name
    assert support.sentences[0].text[found["Middle East"].start : found["Middle East"].end] == "Middle East"


def test_a_title_the_entity_model_calls_an_organisation_is_no_answer():
    support, _ = _support(("a", "Balwani, the former COO of the blood testing startup Theranos, was convicted.", 0.8))
    recognise(support, ListedEntities({"COO": "ORG", "Theranos": "ORG"}))
    found = [g.lead.text for g in answer_groups(analyse("Which company was Balwani an executive of?"), support)]
    assert found == ["Theranos"]


def test_asked_for_a_company_the_agency_that_acted_on_it_fits_less():
    support, _ = _support(("a", "The FAA grounded Virgin Galactic on Friday after a part fell off in flight.", 0.8))
    recognise(support, ListedEntities({"FAA": "ORG", "Virgin Galactic": "ORG"}))
    groups = answer_groups(analyse("Which company has been grounded from operating?"), support)
    assert [g.lead.text for g in groups] == ["Virgin Galactic", "FAA"]
    assert groups[1].lead.fit < groups[0].lead.fit


def test_the_scorer_shows_an_answer_only_above_its_threshold():
    support, _ = _support(("a", "The Russian delegation was led by Vladimir Medinsky, a former culture minister.", 0.8))
    question = analyse("Who led the Russian delegation?")
    fit_only = np.array([4.0 if name == "fit" else 0.0 for name in FEATURES])
    model = Model(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), fit_only, 0.0)
    sure = best_answer(question, support, Scorer(model, threshold=0.9))
    assert sure.text == "Vladimir Medinsky" and sure.probability > 0.95 and sure.shown
    doubtful = best_answer(question, support, Scorer(model, threshold=0.99))
    assert doubtful.text == "Vladimir Medinsky" and not doubtful.shown
    # A deployment's own minimum replaces the trained threshold, either way.
    assert best_answer(question, support, Scorer(model, threshold=0.9), min_confidence=0.99).shown is False
    assert best_answer(question, support, Scorer(model, threshold=0.99), min_confidence=0.9).shown is True
    assert best_answer(analyse("Why did the delegation come?"), support, Scorer(model, 0.5)) is None


def test_both_shipped_scorers_are_calibrated_probabilities_with_a_threshold():
    for with_entities in (True, False):
        scorer = shipped_scorer(with_entities)
        assert scorer is not None, "rag/answer/answer_scorer.json is missing or was trained on other features"
        assert scorer.model.weights.shape == (len(FEATURES),) and 0.3 < scorer.threshold < 1.0


def test_first_line_is_the_short_answer_then_the_first_quote_it_was_cut_from():
    support, docs = _support(
        ("a", "The Russian delegation was led by Vladimir Medinsky, a former culture minister.", 0.8),
        ("b", "Medinsky, who led the Russian side, warned that Russia could fight forever.", 0.6),
    )
    a = compose(analyse("Who led the Russian delegation?"), support, docs, 5, "http://127.0.0.1:7860")
    first, *rest = a.text.splitlines()
    assert a.short_answer_confidence is not None and 0 < a.short_answer_confidence < 1
    if a.short_answer is not None:
        assert first == f"**{a.short_answer}** — The Russian delegation was led by Vladimir Medinsky, a former culture minister. [1]"
        assert a.short_answer in a.citations[0].quote
    else:
        assert first == "The Russian delegation was led by Vladimir Medinsky, a former culture minister. [1]"
    assert rest and rest[0].startswith("- ") and "Vladimir Medinsky" in a.citations[0].quote
    for c in a.citations:
        assert docs[c.doc_id].text[c.start : c.end] == c.quote


def test_without_a_short_answer_the_best_sentence_comes_first():
    support, docs = _support(
        ("a", "Rubio said the talks in Istanbul had been a waste of time for everyone involved.", 0.8),
        ("b", "Rubio later told reporters that only a meeting of the two presidents could help.", 0.6),
    )
    a = compose(analyse("What did Rubio say about Istanbul?"), support, docs, 5, "http://127.0.0.1:7860")
    assert a.short_answer is None and a.short_answer_confidence is None
    lines = a.text.splitlines()
    assert lines[0].startswith("Rubio said the talks") and lines[0].endswith("[1]")
    assert all(line.startswith("- ") for line in lines[1:])


def test_a_likely_short_answer_not_sure_enough_to_show_still_picks_the_first_line():
    support, docs = _support(
        ("a", "Officials in Kyiv said the talks in Turkey would be difficult for the Russian delegation.", 0.8),
        ("b", "The Russian delegation was led by Vladimir Medinsky, a former culture minister.", 0.6),
    )
    question = analyse("Who led the Russian delegation?")
    led = compose(question, support, docs, 5, "", min_confidence=1.0, lead_confidence=0.0)
    assert led.short_answer is None and "**" not in led.text
    assert led.text.splitlines()[0].startswith("The Russian delegation was led by Vladimir Medinsky")
    ranked = compose(question, support, docs, 5, "", min_confidence=1.0, lead_confidence=1.01)
    assert ranked.text.splitlines()[0].startswith("Officials in Kyiv said")


def test_a_quote_opening_with_a_pronoun_brings_the_sentence_before_it():
    text = "Elina Valtonen spoke to CNN on Sunday. She said a lot was still missing from the talks."
    doc = Document("d", text, "t", "d.txt", "h")
    start = text.index("She")
    assert self_contained_start(doc, start, lead=False) == 0
    opening = Document("e", "However, the talks went on for a second day.", "t", "e.txt", "h")
    assert self_contained_start(opening, 0, lead=False) is None  # nothing before it: dropped
    assert self_contained_start(opening, 0, lead=True) == 0  # the first quote is kept as it is


def test_a_name_that_only_qualifies_the_questions_topic_is_not_the_answer():
    support, _ = _support(("a", "Zelensky spoke to reporters ahead of the Istanbul talks on Thursday evening.", 0.8))
    groups = answer_groups(analyse("Where was Trump during the talks?"), support)
    assert "Istanbul" not in {g.lead.text for g in groups}


def test_a_span_inside_a_straight_quoted_quotation_widens_to_the_whole_quotation():
    text = ('The minister spoke on Monday.\n"We hope they say yes. If they say no, we will know," said Rubio. '
            'Valtonen was blunt.\n"Trump wants peace. Europe wants peace."\nThe talks ended.')
    inside = text.index("If they say no")
    start, end = close_quotation(text, inside, text.index(" Valtonen"))
    assert text[start:end] == '"We hope they say yes. If they say no, we will know," said Rubio.'
    opened = text.index('"Trump')
    start, end = close_quotation(text, opened, text.index(" Europe"))
    assert text[start:end] == '"Trump wants peace. Europe wants peace."'


def test_a_question_asking_for_one_fact_may_quote_three_sentences_of_one_article_an_open_one_two():
    support, docs = _support(
        ("a", "The ceasefire talks in Istanbul opened on Friday morning.", 0.9),
        ("a", "Tea was served.", 0.01),
        ("a", "The delegations then met for less than two hours before leaving.", 0.8),
        ("a", "Lunch followed.", 0.01),
        ("a", "Officials said the talks in Istanbul had ended without a ceasefire.", 0.7),
        ("b", "Analysts said the talks in Istanbul showed how far apart the sides were.", 0.5),
    )
    typed = compose(analyse("How long did the talks in Istanbul last?"), support, docs, 5, "http://127.0.0.1:7860")
    open_question = compose(analyse("Why did the talks in Istanbul end without a ceasefire?"), support, docs, 5, "http://127.0.0.1:7860")
    assert [c.doc_id for c in typed.citations] == ["a", "a", "a", "b"]
    assert [c.doc_id for c in open_question.citations] == ["a", "a", "b"]


def test_the_questions_own_words_in_another_form_are_not_answers():
    support, _ = _support(
        ("a", "The Avalanche beat the Lightning in the Final to win the Stanley Cup.", 0.8),
        ("b", "A volcano erupted on Kyushu island in Japan on Sunday.", 0.7),
    )
    found = {g.lead.text for g in answer_groups(analyse("Which team won the Stanley Cup Finals?"), support)}
    assert "Final" not in found and "Avalanche" in found
    found = {g.lead.text for g in answer_groups(analyse("A volcano erupted on which Japanese island?"), support)}
    assert "Japan" not in found and "Kyushu" in found


def test_a_name_read_as_a_person_in_full_is_a_person_wherever_the_model_slips():
    support, _ = _support(
        ("a", "The plan looked weak to Marlow, said Ana Ruiz, director of the Lisbon think tank Orbis.", 0.8),
        ("b", "President Peter Marlow rejected the plan on Friday.", 0.6),
    )
    recognise(support, ListedEntities({"Marlow": "ORG", "Peter Marlow": "PERSON", "Ana Ruiz": "PERSON", "Orbis": "PERSON",
                                       "Lisbon": "GPE"}))
    groups = {g.lead.text: g.lead for g in answer_groups(analyse("Which think tank does Ana Ruiz direct?"), support)}
    assert groups["Orbis"].kind == "org"  # "the think tank Orbis": the sentence says what it is
    assert "Peter Marlow" not in groups or groups["Peter Marlow"].fit < groups["Orbis"].fit
    assert all(c.kind == "person" for c in answer_groups(analyse("Who rejected the plan?"), support)[0].candidates)


def test_a_place_of_another_kind_than_asked_fits_less():
    assert place_kinds("Paris") == {"city"} and place_kinds("France") == {"country"} and place_kinds("the US") == {"country"}
    assert place_kinds("Georgia") == {"country", "state"} and place_kinds("Atlantis") == set()
    support, _ = _support(("a", "The summit was held in Paris, the capital of France, on Monday.", 0.8))
    found = {g.lead.text: g.lead for g in answer_groups(analyse("Which nation hosted the summit?"), support)}
    assert found["France"].fit > found["Paris"].fit


def test_a_name_qualifying_a_name_or_the_words_of_the_question_is_not_where():
    support, _ = _support(
        ("a", "Shipyard workers cheered as UK prime minister Sir Keir Starmer arrived.", 0.8),
        ("b", "Starmer visited Barrow, where he laid the keel of one of Britain's nuclear submarines.", 0.7),
    )
    found = {g.lead.text: g.lead for g in answer_groups(analyse("Where did Keir Starmer lay the keel of a nuclear submarine?"), support)}
    assert found["UK"].fit < found["Barrow"].fit / 2
    assert "Britain" not in found or found["Britain"].fit < found["Barrow"].fit / 2


def test_scorer_features_read_headlines_coverage_and_how_rare_a_name_is():
    support, _ = _support(
        ("a", "Orbis, a think tank, was founded by Ana Ruiz with help from Marlow.", 0.8),
        ("b", "Marlow spoke on Monday.", 0.5),
    )
    for s in support.sentences:
        s.passage = replace(s.passage, title="Orbis think tank expands" if s.doc_id == "a" else "Marlow speaks")
    support.stats = CorpusStats(chunks=1000, df={"marlow": 900, "orbi": 2}, known_terms=set(), source_terms={})
    question = analyse("Which think tank did Ana Ruiz found?")
    groups = answer_groups(question, support)
    rows = {g.lead.text: dict(zip(FEATURES, row)) for g, row in zip(groups, features(question, support, groups))}
    assert rows["Orbis"]["headline"] == 1.0 and rows["Orbis"]["rarity"] > 0.8
    assert rows["Orbis"]["coverage"] == support.sentences[0].lexical
    assert "Marlow" not in rows or rows["Marlow"]["rarity"] < 0.1
