"""The citation checker: markers that point nowhere are removed, the rest renumbered in order."""

from rag.citations import check_markers, collapse_repetition


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


def test_repetition_repair_keeps_paragraphs_and_lists():
    text = "Intro [1].\n\n- First point [1].\n- Second point [2].\n- First point [1]."
    assert collapse_repetition(text) == "Intro [1].\n\n- First point [1].\n- Second point [2]."
