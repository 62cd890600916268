"""Worst-case text at every public entry point that reads fetched, uploaded or client text: long
runs of the characters each pattern repeats, and nested structures. Each must finish.

Each case runs in the loader's worker with a generous time limit (60 s; a linear run takes
milliseconds), so a regression to a backtracking pattern fails here with "took longer" instead of
hanging the test run. What was changed, and why, is listed in benchmarks/README.md ("Regexes on
untrusted text")."""

from __future__ import annotations

import pytest

from rag.config import Config
from rag.errors import RagError
from rag.ingest.isolation import LoaderWorker

N = 100_000  # characters: 16,000 were enough for 4 to 40 s with the old patterns
QUESTION = 2_000  # about the longest question the app takes


def _text_cases():
    from rag.answer.citations import check_markers, claims_citing, collapse_repetition
    from rag.answer.direct import NAME_RUN
    from rag.ingest.cleaning import clean_article
    from rag.text import names, sentence_spans, shingles, terms

    return {
        "clean: a long word before ' at ' an address": lambda: clean_article("contact " + "A" * N + "@x.org"),
        "clean: a contact line of capitalised words": lambda: clean_article("Write to " + "Ab " * (N // 3) + "at a@b.co"),
        "clean: a mark and a run of spaces": lambda: clean_article("-" + " " * N + "ab"),
        "clean: a byline of names": lambda: clean_article("by " + "Ab " * (N // 3) + "x"),
        "clean: one long capitalised word": lambda: clean_article("A" * N),
        "clean: newlines": lambda: clean_article("\n" * N + "x"),
        "clean: a newsletter prompt of words": lambda: clean_article("get " + "a " * (N // 2) + "newsletter"),
        "clean: 'discover more from' spaces": lambda: clean_article("discover more from " + " " * N),
        "sentences: a stop and spaces": lambda: sentence_spans("a." + " " * N + "b"),
        "sentences: stops and closing quotes": lambda: sentence_spans('."' * (N // 2) + " A"),
        "names: stops": lambda: names("A. " * (N // 3)),
        "terms and shingles": lambda: (terms("A." * (N // 2)), shingles("a-" * (N // 2))),
        "answer: spaces before a comma": lambda: check_markers("x" + " " * N + "y [1]", 1),
        "answer: open marker list": lambda: check_markers("[1" + ", 1" * (N // 3), 3),
        "answer: repeated markers": lambda: check_markers("[1] " * (N // 4), 1),
        "answer: repetition and claims": lambda: (collapse_repetition("a. " * (N // 3)), claims_citing("a. [1] " * (N // 7), 1)),
        "answer: a run of digits before a name": lambda: list(NAME_RUN.finditer("1" * N)),
    }


def _question_cases():
    from rag.answer.question import analyse
    from rag.retrieval.dates import time_window

    return {
        "question: who is a long name": lambda: analyse("Who is " + "Ab " * (QUESTION // 3) + "?"),
        "question: one long word": lambda: analyse("Who is " + "A" * QUESTION),
        "question: has ... been": lambda: analyse("how long has " * (QUESTION // 13) + "x"),
        "question: which words": lambda: analyse("which " + "a." * (QUESTION // 2)),
        "question: numbers": lambda: analyse("how many " + "1," * (QUESTION // 2)),
        "question: time words": lambda: time_window("last week " * (QUESTION // 10), None),
    }


def _file_and_link_cases():
    from rag.ingest.links import canonical_url, host_folder, slug
    from rag.ingest.listings import meta_charset
    from rag.ingest.loading import BadFile, load_text

    def load(text: str):
        try:
            return list(load_text(text.encode(), "doc", "doc.md", {}))
        except BadFile:
            return []

    return {
        "front matter: an opening line of spaces": lambda: load("---" + " " * N + "\nx"),
        "front matter: many closing lines": lambda: load("---\n" + "\n---" * (N // 4) + " " * N),
        "front matter: nested YAML": lambda: load("---\na: " + "[" * 5_000 + "\n---\nText here."),
        "title: stops": lambda: load("a" + "." * N),
        "link: amp paths": lambda: canonical_url("http://x.org/" + "amp/" * 1000 + ".amp.htm"),
        "link: dots and percents": lambda: (slug("http://x.org/" + "a." * 2000), slug("http://x.org/" + "%" * 4000)),
        "link: a long host": lambda: host_folder("http://" + "a." * 2000 + "org/"),
        "page charset: many meta tags": lambda: meta_charset(b"<meta " * 700),
    }


def exercise(group: str, name: str) -> str:
    """Run one case (in the worker): the entry point on its worst input."""
    cases = {"text": _text_cases, "question": _question_cases, "file": _file_and_link_cases}[group]()
    cases[name]()
    return "finished"


def case_ids():
    return [(group, name) for group, make in (("text", _text_cases), ("question", _question_cases),
                                              ("file", _file_and_link_cases)) for name in make()]


@pytest.fixture(scope="module")
def worker():
    with LoaderWorker(Config().with_(load_timeout=60.0)) as worker:
        yield worker


@pytest.mark.parametrize("group, name", case_ids(), ids=[name for _, name in case_ids()])
def test_worst_case_text_finishes(worker, group, name):
    try:
        outcome = worker.call(exercise, group, name, error=RagError)
    except RagError as exc:
        assert "took longer" not in str(exc) and "died" not in str(exc), str(exc)
        return  # refused with a reason: fine, it finished
    assert outcome == "finished"
