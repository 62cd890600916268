"""Did a followed question's answer change in substance? Pure functions over answer snapshots.

A snapshot is what the user last saw: the short answer, the text and each citation with its
article's outlet and date (JSON, kept in the team database). A fresh answer is compared with it:

- another short answer, or an answer where there was none (or none where there was one): an update;
- an article cited now and never before (or one edited since) whose cited sentences state
  something the old answer did not - a number, a name, a date: an update, naming that article;
- a new article that only repeats the old answer: kept as a source, no update;
- anything else (identical, reworded, re-ordered): nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from rag.text import MARKER, normalize_word, sentence_spans, stopwords, words
from rag.types import Answer

SAME, SOURCE, UPDATE = "same", "source", "update"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONTHS_DAYS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_BOLD = re.compile(r"\*\*|__")
CITATION_FIELDS = ("number", "doc_id", "title", "publisher", "author", "published", "url", "quote")
ARTICLE_FIELDS = ("doc_id", "title", "publisher", "published", "url")


@dataclass
class Change:
    """What a fresh answer means for a follow: `kind` SAME, SOURCE (new articles repeat the old
    answer: `sources` to keep) or UPDATE (`reason` in words, `article` the one that changed it,
    `facts` what it states that the old answer did not)."""

    kind: str
    reason: str = ""
    article: dict = field(default_factory=dict)
    facts: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)


def snapshot(answer: Answer, seen_at: dt.datetime) -> dict:
    """An answer as a follow keeps it (JSON)."""
    return {
        "short_answer": answer.short_answer,
        "text": answer.text,
        "answerable": answer.answerable,
        "citations": [{key: getattr(c, key) for key in CITATION_FIELDS} for c in answer.citations],
        "seen_at": seen_at.isoformat(timespec="seconds"),
    }


def article_of(citation: dict) -> dict:
    """The article behind a snapshot's citation: id, headline, outlet, date, link."""
    return {key: citation.get(key) for key in ARTICLE_FIELDS}


def facts(text: str) -> set[str]:
    """What a statement asserts that can differ between two answers: its numbers, names (capitalised
    words after a sentence's first, and any month or weekday) and dates, normalised."""
    plain = _BOLD.sub("", MARKER.sub(" ", text or ""))
    found = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(plain)}
    stop = stopwords()
    for start, end in sentence_spans(plain):
        for i, word in enumerate(words(plain[start:end])):
            lowered = normalize_word(word)
            if lowered in _MONTHS_DAYS or (i > 0 and word[:1].isupper() and lowered not in stop):
                found.add(lowered)
    return found


def statements(text: str, number: int) -> str:
    """What an answer's text states on source `number`'s authority: the text since the previous
    marker before each marker naming it ("A. [1] B. [2]": "B." for 2)."""
    text = text or ""
    cited, start = [], 0
    for marker in MARKER.finditer(text):
        if number in {int(n) for n in re.findall(r"\d+", marker.group())}:
            cited.append(text[start:marker.start()].strip(" -\n"))
        start = marker.end()
    return " ".join(cited)


def _without_byline(stated: str, citation: dict) -> str:
    """A statement without its article's headline and byline, which the cleaned text may run into
    its first sentence ("Bridge timetable confirmed By Tom Berg Engineers confirmed ..."): who
    wrote an article is not something it states."""
    for part in (citation.get("title"), f"By {citation.get('author')}" if citation.get("author") else None):
        if part:
            stated = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", " ", stated, flags=re.I)
    return stated.strip()


def _as_written(fact: str, text: str) -> str:
    """A normalised fact as the text writes it ("september" -> "September")."""
    found = re.search(rf"(?<!\w){re.escape(fact)}(?!\w)", text, re.I)
    return found.group() if found else fact


def _short(value: str | None) -> str:
    return " ".join(normalize_word(w) for w in words(value or ""))


def compare(old: dict, new: dict, known: Collection[str], edited: Collection[str] = ()) -> Change:
    """`old` and `new` snapshots; `known`: the ids of every article the follow has cited or kept
    as a source; `edited`: ids of articles whose text changed since `old` was seen."""
    if not old.get("answerable") and not new.get("answerable"):
        return Change(SAME)
    first = next(iter(new.get("citations") or []), None)
    if old.get("answerable") and not new.get("answerable"):
        return Change(UPDATE, "The articles no longer support an answer.")
    if not old.get("answerable"):
        return Change(UPDATE, "The question now has an answer.", article_of(first) if first else {})
    old_short, new_short = _short(old.get("short_answer")), _short(new.get("short_answer"))
    if new_short and old_short and new_short != old_short:
        return Change(UPDATE, f"Another short answer: {new['short_answer']} (was {old['short_answer']}).",
                      article_of(first) if first else {}, [new["short_answer"]])
    said = facts(old.get("text", "")) | facts(old.get("short_answer") or "")
    repeating: list[dict] = []
    for citation in new.get("citations") or []:
        doc_id = citation.get("doc_id")
        if doc_id in known and doc_id not in edited:
            continue
        stated = statements(new.get("text", ""), citation.get("number", 0)) or citation.get("quote", "")
        stated = _without_byline(stated, citation)
        novel = [_as_written(fact, stated) for fact in sorted(facts(stated) - said)]
        if novel:
            what = "An edited article" if doc_id in known else "A new article"
            return Change(UPDATE, f"{what} states {', '.join(novel[:5])}.", article_of(citation), novel)
        if doc_id not in known:
            repeating.append(article_of(citation))
    if new_short and not old_short and facts(new["short_answer"]) - said:  # a bold answer the old text lacked
        return Change(UPDATE, f"A short answer: {new['short_answer']}.", article_of(first) if first else {}, [new["short_answer"]])
    return Change(SOURCE, sources=repeating) if repeating else Change(SAME)


def cited_ids(snapshots: Iterable[dict]) -> set[str]:
    """Every article the snapshots cite."""
    return {c["doc_id"] for s in snapshots for c in s.get("citations") or [] if c.get("doc_id")}
