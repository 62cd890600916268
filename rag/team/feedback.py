"""Feedback on answers, and rated answers as gold-set items.

A rating is kept with everything that shaped the answer (question, earlier questions, answer,
citations, mode, settings, index generation), copied at rating time so that it outlives the
conversation. `gold_items` turns ratings into items of tests/gold/gold.yaml's format for an editor
to review: the facts come from the correction ("what the answer should have said"), or, for a
thumbs up, from the answer's first line. No fact comes from a citation marker (`[1]`), a function
word ("despite") or a name the text negates ("Putin did not come"), and an item made from a thumbs
up keeps only facts its own answer holds, so it passes on the answer it was made from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select

from rag.errors import RagError
from rag.team.conversations import Conversations
from rag.team.db import Database, aware
from rag.team.accounts import reserved_name
from rag.team.models import Feedback, Turn, User, utcnow

MAX_TEXT = 5000
FACT_WORDS = 4  # content words taken as facts from a correction that names no name, number or date

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NUMBER = re.compile(rf"(?:\b\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?|\b{_MONTHS}\s+\d{{1,2}}(?:,?\s+\d{{4}})?"
                     r"|\$?\d[\d,.]*\s*(?:%|percent\b|per cent\b|million\b|billion\b|trillion\b)?)", re.I)
_NAME = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of|de|von|van|al|bin|the)?\s*[A-Z][\w’'.-]*)*")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# A name or number the text denies: "Putin did not come", "Putin never came", "not Lavrov but ...".
_DENIED_AFTER = re.compile(r"^(?:[\s,]+[\w’']+){0,2}?\s+(?:not|never|no longer|n[o’']t)\b|^\s*(?:did|was|were|is|are|has|had|could|would|will)n[’']t\b", re.I)
_DENIED_BEFORE = re.compile(r"\b(?:not|never|no|nor|neither|without|instead of|rather than)\s+(?:the\s+|a\s+)?$", re.I)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;—–]\s+|\n\s*|[\"“‘(]\s*)$")
# Function words: they open sentences capitalised but are no names, and are no facts either.
_FUNCTION_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although always am among
amid amidst an and another any anyone anything anyway anywhere are around as at be became because become been
before beforehand behind being below beside besides between beyond both but by can cannot could despite did do
does doing done down during each either else elsewhere enough even ever every everyone everything everywhere
except few first for former formerly from further furthermore had has have having he hence her here hers herself
him himself his how however i if in indeed instead into is it its itself just last later latter least less many
may me meanwhile might mine more moreover most mostly much must my myself neither never nevertheless next no
nobody none nonetheless nor not nothing now nowhere of off often on once one only onto or other others otherwise
our ours ourselves out over own per perhaps rather really same say says said several she should since so some
someone something sometimes somewhere still such than that the their theirs them themselves then there thereafter
thereby therefore these they this those though through throughout thus to together too toward towards under
unless until up upon us very via was we well were what whatever when whenever where whereas whether which while
who whoever whole whom whose why will with within without would yes yet you your yours yourself yourselves
according including regarding following told asked added reported also
""".split())


class FeedbackError(RagError):
    """A rating that cannot be taken (unknown answer, bad rating)."""


@dataclass
class FeedbackRecord:
    """One user's rating of one answer, with the answer as it was. `account_id` is the rater's
    (None once that account was removed); `username` its name now, for notes."""

    id: int
    turn_id: int | None
    account_id: int | None
    username: str
    rating: int  # +1 or -1
    comment: str
    correction: str
    question: str
    history: list[str]
    answer: str
    answerable: bool
    citations: list[dict]
    mode: str
    settings: dict
    index_generation: str
    created_at: dt.datetime
    updated_at: dt.datetime


def parse_rating(value: object) -> int:
    """+1 / -1 from 1, -1, "up", "down", True (liked) or False."""
    if value in (1, True, "up", "+1", "1", "👍"):
        return 1
    if value in (-1, False, "down", "-1", "👎"):
        return -1
    raise FeedbackError("A rating is thumbs up or thumbs down.")


class FeedbackStore:
    """Ratings in `database`; only the owner of an answer rates it (by account id)."""

    def __init__(self, database: Database):
        self.database = database

    def rate(self, account_id: int, turn_id: int, rating: object, comment: str = "", correction: str = "") -> FeedbackRecord:
        """Record (or change) the rating by account `account_id` of its answer `turn_id`."""
        rating = parse_rating(rating)
        comment, correction = _text(comment), _text(correction)
        with self.database.writing() as session:
            turn = Conversations._owned_turn(session, account_id, turn_id)
            earlier = session.scalars(
                select(Turn.question).where(Turn.conversation_id == turn.conversation_id, Turn.position < turn.position)
                .order_by(Turn.position)
            ).all()
            row = session.scalar(select(Feedback).where(Feedback.turn_id == turn.id, Feedback.account_id == account_id))
            now = utcnow()
            if row is None:
                row = Feedback(turn_id=turn.id, account_id=account_id, created_at=now)
                session.add(row)
            row.rating, row.comment, row.correction, row.updated_at = rating, comment, correction, now
            row.question, row.history, row.answer, row.answerable = turn.question, list(earlier), turn.answer, turn.answerable
            row.citations = [
                {k: getattr(c, k) for k in ("number", "doc_id", "title", "publisher", "author", "published", "url",
                                            "quote", "start", "end", "content_hash")}
                for c in turn.citations
            ]
            row.mode, row.settings, row.index_generation = turn.mode, dict(turn.settings or {}), turn.index_generation
            session.flush()
            return _record(row, _names(session, [row]))

    def of_turn(self, account_id: int, turn_id: int) -> FeedbackRecord | None:
        with self.database.reading() as session:
            row = session.scalar(select(Feedback).where(Feedback.turn_id == turn_id, Feedback.account_id == account_id))
            return _record(row, _names(session, [row])) if row else None

    def rated(self, rating: int | None = None, since: dt.datetime | None = None) -> list[FeedbackRecord]:
        """All ratings (only thumbs up: rating=1, down: -1), oldest first."""
        query = select(Feedback).order_by(Feedback.created_at, Feedback.id)
        if rating is not None:
            query = query.where(Feedback.rating == parse_rating(rating))
        if since is not None:
            query = query.where(Feedback.created_at >= since)
        with self.database.reading() as session:
            rows = session.scalars(query).all()
            names = _names(session, rows)
            return [_record(row, names) for row in rows]


def gold_items(records: list[FeedbackRecord]) -> tuple[list[dict], int]:
    """Gold-set items (tests/gold/gold.yaml's schema) for the ratings that say what a right answer
    holds: a thumbs up, or a thumbs down with a correction. Returns (items, ratings left out)."""
    items, left_out = [], 0
    for r in records:
        if r.rating < 0 and not r.correction:
            left_out += 1
            continue
        if r.rating > 0 and not r.answerable:
            category, facts, docs = "unanswerable", [], []
        else:
            facts = correction_facts(r.correction or _first_line(r.answer), r.question)
            if r.rating > 0:  # the item must pass on the answer it was made from (markers are not read)
                from rag.text import MARKER

                answer = MARKER.sub(" ", r.answer or "")
                facts = [fact for fact in facts if _found_in(fact, answer)]
            docs = sorted({c["doc_id"] for c in r.citations}) if r.rating > 0 else []
            category = "followup" if r.history else "fact"
        verdict = "thumbs up" if r.rating > 0 else "thumbs down"
        note = f"From feedback {r.id} ({verdict}) by {r.username} on {r.created_at.date().isoformat()}"
        note += f"; answered by {r.mode}, index {r.index_generation or 'unknown'}."
        if r.comment:
            note += f" Comment: {r.comment.rstrip('.')}."
        if r.correction:
            note += f" Should have said: {r.correction.rstrip('.')}."
        if r.rating < 0:
            note += " Review: the facts come from the correction; add the documents that support it."
        elif category != "unanswerable":
            note += " Review: the facts come from the answer's first line; the documents are those it cited."
        items.append({
            "id": f"feedback-{r.id}", "category": category, "question": r.question, "history": list(r.history),
            "facts": facts, "docs": docs, "note": note,
        })
    return items, left_out


def correction_facts(text: str, question: str = "") -> list[list[str]]:
    """Facts a right answer must contain, as gold-set regex alternatives: the names, numbers and
    dates of `text` that the question does not already contain (a multi-word name also matches by
    its last word), as whole words (so that "12" is not found in "2012"); failing those, its
    longest content words."""
    from rag.text import MARKER, normalize_word, words

    asked = {normalize_word(w) for w in words(question)}
    text = MARKER.sub(" ", _BOLD.sub(r"\1", text or ""))  # a citation marker "[1]" is no number
    common = _common_words()
    facts: list[list[str]] = []
    seen: set[str] = set()

    def add(phrase_words: list[str]) -> None:
        key = " ".join(w.lower() for w in phrase_words)
        if not phrase_words or key in seen or all(normalize_word(w) in asked for w in phrase_words):
            return
        seen.add(key)
        alternatives = [r"\b" + r"\W+".join(re.escape(w.lower()) for w in phrase_words) + r"\b"]
        if any(alternatives[0] in fact for fact in facts):
            return  # "Medinsky" after "Vladimir Medinsky", which it already matches
        if len(phrase_words) > 1 and phrase_words[-1][:1].isupper() and len(phrase_words[-1]) > 2:
            alternatives.append(r"\b" + re.escape(phrase_words[-1].lower()) + r"\b")
        facts.append(alternatives)

    def denied(start: int, end: int) -> bool:
        return bool(_DENIED_BEFORE.search(text[max(0, start - 20):start]) or _DENIED_AFTER.search(text[end:end + 40]))

    taken: list[tuple[int, int]] = []
    for match in _NUMBER.finditer(text):
        taken.append(match.span())
        if not denied(*match.span()):
            add(words(match.group()) or [match.group().strip()])
    capitalised_inside = {normalize_word(m.group()) for m in re.finditer(r"\b[A-Z][\w’'-]*", text)
                          if not _SENTENCE_START.search(text[:m.start()])}
    weak: list[list[str]] = []  # single capitalised words opening a sentence: names only failing better ones
    denials: list[tuple[int, int]] = []  # a denied name's clause: "Putin did not come"
    for match in _NAME.finditer(text):
        if any(start < match.end() and match.start() < end for start, end in taken):
            continue  # the month of a date
        phrase = words(match.group())
        while phrase and normalize_word(phrase[0]) in common:
            phrase = phrase[1:]  # a sentence's first word ("The", "Despite") is not a name
        if not phrase or any(ch.isdigit() for ch in "".join(phrase)):
            continue
        if denied(*match.span()):
            clause_end = re.search(r"[.;,!?]|$", text[match.end():])
            denials.append((match.start(), match.end() + clause_end.start()))
        elif (len(phrase) == 1 and phrase[0] == words(match.group())[0] and _SENTENCE_START.search(text[:match.start()])
              and normalize_word(phrase[0]) not in capitalised_inside):
            weak.append(phrase)
        else:
            add(phrase)
    if not facts:
        for phrase in weak:
            add(phrase)
    if not facts:
        for start, end in denials:
            text = text[:start] + " " * (end - start) + text[end:]
        content = [w for w in words(text) if normalize_word(w) not in common and normalize_word(w) not in asked
                   and not any(ch.isdigit() for ch in w)]
        for word in sorted(dict.fromkeys(content), key=len, reverse=True)[:FACT_WORDS]:
            add([word])
    return facts


def _common_words() -> frozenset[str]:
    from rag.text import stopwords

    return stopwords() | _FUNCTION_WORDS


def _found_in(fact: list[str], text: str) -> bool:
    return any(re.search(pattern, text, re.I) for pattern in fact)


def _first_line(answer: str) -> str:
    return (answer or "").strip().split("\n", 1)[0]


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FeedbackError("A comment or correction must be text.")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise FeedbackError(f"A comment or correction may have at most {MAX_TEXT:,} characters.")
    return value


def _names(session, rows) -> dict[int, str]:
    """The current names of the raters' database accounts."""
    ids = {row.account_id for row in rows if row.account_id is not None}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}


def _record(row: Feedback, names: dict[int, str]) -> FeedbackRecord:
    return FeedbackRecord(
        row.id, row.turn_id, row.account_id, names.get(row.account_id) or reserved_name(row.account_id), row.rating, row.comment, row.correction, row.question,
        list(row.history or []), row.answer, row.answerable, list(row.citations or []), row.mode,
        dict(row.settings or {}), row.index_generation, aware(row.created_at), aware(row.updated_at),
    )

