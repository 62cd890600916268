"""The citation checker: markers that point nowhere are removed, the rest renumbered in order."""

from rag.answer.citations import check_markers, claims_citing, collapse_repetition, supporting_span
from rag.types import Passage


def test_markers_beyond_the_sources_are_removed_and_reported():
    checked = check_markers("Rubio spoke [2]. Medinsky warned [5]. Both met [1].", n_sources=4)
    assert checked.text == "Rubio spoke [1]. Medinsky warned. Both met [2]."
    assert checked.used == [2, 1]
    assert checked.removed == ["[5]"]


def test_grouped_and_repeated_markers():
    checked = check_markers("A [1, 3]. B [3][3]. C [0].", n_sources=3)
    assert checked.text == "A [1][2]. B [2]. C."
    assert checked.used == [1, 3] and checked.removed == ["[0]"]


def test_no_markers_means_nothing_used():
    checked = check_markers("No citations here.", n_sources=3)
    assert checked.used == [] and checked.removed == [] and checked.text == "No citations here."


def test_repetition_from_small_models_is_collapsed():
    looped = "Putin did not attend [1]. Putin did not attend [1]. Putin did not attend [2]. Medinsky led [2]."
    assert collapse_repetition(looped) == "Putin did not attend [1]. Medinsky led [2]."


def test_repetition_repair_keeps_a_marker_after_the_last_full_stop():
    assert collapse_repetition("Prices rose. [1]") == "Prices rose. [1]"
    assert check_markers(collapse_repetition("Prices rose. [1]"), n_sources=1).used == [1]


def test_repetition_repair_keeps_paragraphs_and_lists():
    text = "Intro [1].\n\n- First point [1].\n- Second point [2].\n- First point [1]."
    assert collapse_repetition(text) == "Intro [1].\n\n- First point [1].\n- Second point [2]."


def test_claims_citing_keeps_a_marker_with_the_sentence_before_it():
    text = "Prices rose. [1] Wages fell [2].\n- Rents rose too [1]."
    assert claims_citing(text, 1).split() == ["Prices", "rose.", "Rents", "rose", "too", "."]
    assert claims_citing(text, 2).split() == ["Wages", "fell", "."]
    assert claims_citing(text, 3) == ""


PASSAGE_TEXT = (
    "The summit opened in Istanbul on Thursday. "
    "Vladimir Medinsky, a former culture minister, led the Russian delegation. "
    "He said Russia was ready to fight for ever. "
    "The weather was mild."
)


def _passage(offset: int = 100) -> Passage:
    return Passage(chunk_id="c", doc_id="d", text=PASSAGE_TEXT, start=offset, end=offset + len(PASSAGE_TEXT), title="t")


def test_a_citation_is_pinned_to_the_sentences_that_back_the_claim():
    p = _passage()
    start, end = supporting_span("Medinsky led the Russian delegation.", p, lambda term: 1.0)
    assert PASSAGE_TEXT[start - p.start : end - p.start] == (
        "Vladimir Medinsky, a former culture minister, led the Russian delegation."
    )


def test_neighbouring_sentences_that_back_the_claim_join_the_quote():
    p = _passage()
    start, end = supporting_span("Medinsky led the Russian delegation and said Russia was ready to fight.", p, lambda t: 1.0)
    assert PASSAGE_TEXT[start - p.start : end - p.start].startswith("Vladimir Medinsky")
    assert PASSAGE_TEXT[start - p.start : end - p.start].endswith("fight for ever.")


def test_a_claim_no_sentence_backs_keeps_the_whole_passage():
    p = _passage()
    assert supporting_span("Oil prices doubled in Norway.", p, lambda t: 1.0) == (p.start, p.end)
    assert supporting_span("", p, lambda t: 1.0) == (p.start, p.end)
