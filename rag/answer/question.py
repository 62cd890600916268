"""What a question asks for: the kind of answer expected, its topic terms, and its time expressions.

An extractive answer can only lead with a short answer ("Vladimir Medinsky", "two hours") when it
knows what kind of thing to look for. That comes from the question's wording alone: the question
word and the noun after "which"/"what" ("which think tank", "what year"). Small word lists and
regular expressions, no model: the analysis runs on every offline question and must cost nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import names, normalize_word, sentence_spans, terms, words

PERSON, ORGANISATION, PLACE, DATE, NUMBER, DURATION, NAME, NONE = (
    "person", "organisation", "place", "date", "number", "duration", "name", "none",
)

# Head nouns after "which"/"what" that say what kind of thing the answer names. A noun not listed
# still asks for a name ("which pipeline"), only with less certainty about its kind.
PERSON_NOUNS = {
    "person", "people", "man", "woman", "leader", "minister", "president", "chancellor", "secretary", "official",
    "ambassador", "envoy", "diplomat", "spokesman", "spokeswoman", "spokesperson", "senator", "governor", "mayor",
    "lawmaker", "politician", "candidate", "member", "star", "actor", "actress", "singer", "player", "celebrity",
    "designer", "director", "executive", "ceo", "founder", "author", "writer", "journalist", "judge", "pope", "king",
    "queen", "prince", "princess", "duke", "general", "commander", "adviser", "advisor", "aide", "scholar", "expert",
    "analyst", "economist", "scientist", "researcher", "artist", "musician", "rapper", "athlete", "coach", "billionaire",
    "investor", "entrepreneur", "chief", "head", "deputy", "successor", "predecessor", "representative", "negotiator",
}
ORGANISATION_NOUNS = {
    "company", "companies", "firm", "business", "corporation", "brand", "automaker", "carmaker", "airline", "bank",
    "organisation", "organization", "agency", "group", "party", "institution", "institute", "university", "college",
    "school", "team", "club", "network", "broadcaster", "newspaper", "outlet", "publication", "tank", "charity",
    "union", "alliance", "retailer", "manufacturer", "startup", "platform", "court", "ministry", "department",
    "committee", "council", "body", "league", "label", "studio", "regulator", "exchange", "chain",
}
PLACE_NOUNS = {
    "country", "countries", "nation", "city", "cities", "town", "village", "state", "states", "province", "region",
    "continent", "capital", "island", "county", "district", "place", "location", "site", "area", "territory",
    "port", "park", "neighbourhood", "neighborhood", "venue", "airport", "border",
}
DATE_NOUNS = {"year", "day", "date", "month", "time", "decade", "century", "weekday", "season"}
NUMBER_NOUNS = {"percentage", "percent", "proportion", "share", "fraction", "number", "amount", "sum", "total", "figure",
                "rate", "price", "cost", "magnitude", "age", "score", "temperature", "size", "height", "speed"}

TYPE_NOUNS = PERSON_NOUNS | ORGANISATION_NOUNS | PLACE_NOUNS | DATE_NOUNS | NUMBER_NOUNS

_WH = r"(?:which|what)"
_NAME_ASKED = re.compile(r"\b(what is|what's|what was) (the|its|his|her|their) (new |full |official )?name\b|\b(titled|called|named|dubbed)\b\W*$", re.I)
_HOW_LONG = re.compile(r"\bhow long\b|\bfor how (many|much) (years|months|weeks|days|hours|minutes)\b", re.I)
_HOW_NUMBER = re.compile(r"\bhow (many|much|high|low|far|old|big|large|fast|deep|tall|heavy|often|soon)\b", re.I)
_WHEN = re.compile(r"\bwhen\b|\bsince when\b", re.I)
_WHERE = re.compile(r"\bwhere\b", re.I)
_WHO = re.compile(r"\b(who|whom|whose)\b", re.I)
_WHICH_NOUN = re.compile(rf"\b{_WH}\s+((?:[\w’'.-]+\s*){{1,5}})", re.I)
_SENTENCE_ANSWER = re.compile(r"^\W*(why|how (did|does|do|is|are|was|were|has|have|can|could|will|would|should))\b", re.I)
# "Who did Putin send, and how was that delegation characterized?": two asks, which sentences answer.
_SECOND_ASK = re.compile(r"\b(?:and|or) (?:how|why|what|who|when|where|which)\b", re.I)
# "Who is Andriy Yermak?" asks for a description, not a name.
_WHO_IS_NAME = re.compile(r"^\W*(?i:who) (is|was|are|were) (?:[A-Z][\w’'.-]*\s*){1,4}(?:\?|,|\band\b|$)")

TIME_EXPRESSION = re.compile(
    r"\b(?:(?:this|last|next|past|coming|previous) (?:week|weekend|month|year|summer|winter|spring|autumn|fall)"
    r"|(?:this|last|next) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?:on |last |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?: (?:night|morning|evening|afternoon))?"
    r"|today|yesterday|tomorrow|tonight|recently|earlier this (?:week|month|year)|over the weekend"
    r"|(?:in |since |by )?(?:january|february|march|april|may|june|july|august|september|october|november|december)"
    r"(?: \d{1,2}(?:st|nd|rd|th)?)?(?:,? \d{4})?"
    r"|(?:in |since |by )?(?:19|20)\d\d)\b",
    re.I,
)


@dataclass(frozen=True)
class Question:
    """The analysis of one question. `focus` is the noun phrase after "which"/"what" ("think tank"),
    `unit` the noun counted by "how many" ("points"), `terms` the stemmed topic terms."""

    text: str
    answer_type: str
    focus: str = ""
    unit: str = ""
    terms: tuple[str, ...] = ()
    time_expressions: tuple[str, ...] = field(default_factory=tuple)
    names: frozenset[str] = frozenset()  # its capitalised words, lower-cased, hyphenated ones split ("Trump-backed")


def analyse(question: str) -> Question:
    """The expected answer type, focus, topic terms and time expressions of `question`."""
    # "may" in lower case is the verb ("may have picked up"), not the month.
    times = tuple(m.group().strip() for m in TIME_EXPRESSION.finditer(question) if m.group().strip() != "may")
    answer_type, focus, unit = _answer_type(question)
    named = frozenset(part for name in names(question) for part in name.split("-"))
    return Question(question, answer_type, focus, unit, tuple(dict.fromkeys(terms(question))), times, named)


def question_parts(question: str) -> list[str]:
    """The questions a two-part question asks ("Who is X, and what has he done?"): the text split
    before each "and what" / "or how"; one part for an ordinary question."""
    cuts = [m.start() for m in _SECOND_ASK.finditer(question)]
    return [question[a:b] for a, b in zip([0, *cuts], [*cuts, len(question)])]


def _answer_type(question: str) -> tuple[str, str, str]:
    q = " ".join(question.split())
    # The clause that asks: the last sentence holding a question word ("Police arrested 31 men
    # this week ... Where was the event?").
    clauses = [q[s:e] for s, e in sentence_spans(q)]
    clauses = [c for c in clauses if re.search(r"\b(who|whom|whose|which|what|when|where|how)\b", c, re.I)]
    clause = clauses[-1] if clauses else q
    if re.search(r"\bdo what\b", clause, re.I) or _SECOND_ASK.search(clause) or (_SENTENCE_ANSWER.search(clause) and not _HOW_NUMBER.search(clause) and not _HOW_LONG.search(clause)):
        return NONE, "", ""
    if _HOW_LONG.search(clause):
        return DURATION, "", ""
    how = _HOW_NUMBER.search(clause)
    if how:
        after = words(clause[how.end():])
        unit = after[0].lower() if after and how.group(1).lower() in ("many", "much") else ""
        if unit in DATE_NOUNS - {"time"} and how.group(1).lower() == "many":
            return DURATION, "", unit  # "after how many years together"
        return NUMBER, "", unit if unit not in ("did", "does", "do", "is", "was", "will", "has", "have") else ""
    if _NAME_ASKED.search(clause):
        return NAME, "name", ""
    match = _WHICH_NOUN.search(clause)
    if match:
        phrase = [normalize_word(w) for w in words(match.group(1))]
        kind, focus = _kind_of(phrase)
        if kind:
            return kind, focus, ""
    if _WHEN.search(clause):
        return DATE, "", ""
    if _WHERE.search(clause):
        return PLACE, "", ""
    if _WHO.search(clause):
        return (NONE, "", "") if _WHO_IS_NAME.search(clause) else (PERSON, "", "")
    if match and not re.search(rf"\b{_WH}\s+(did|does|do|is|are|was|were|has|have|happened|will|would|can|could)\b", clause, re.I):
        return NAME, " ".join(words(match.group(1))[:1]).lower(), ""
    return NONE, "", ""


_SKIP = {"the", "a", "an", "former", "new", "current", "recent", "other", "two", "major", "popular", "prestigious",
         "famous", "wildly", "biggest", "largest", "first", "last", "earlier", "us", "u.s", "uk", "european", "american",
         "british", "russian", "national", "senior", "top", "deputy", "embattled", "legendary", "historic"}


_AUX = {"did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "happened", "will", "would", "can",
        "could", "should", "about"}
# The phrase after "which"/"what" ends at a verb or a preposition: "what animal over 600 years ago".
_PHRASE_END = _AUX | {"of", "over", "in", "on", "at", "to", "for", "from", "with", "by", "that", "who", "which", "and", "or"}
# Nouns that ask for an account, not a name: "what role has Witkoff played", "which measure did they leave out".
DESCRIPTION_NOUNS = {"role", "reason", "impact", "effect", "result", "demand", "measure", "step", "action", "sanction",
                     "pressure", "threat", "problem", "issue", "risk", "change", "message", "warning", "plan", "proposal",
                     "deal", "policy", "strategy", "argument", "view", "position", "response", "condition", "kind", "type"}


def _kind_of(phrase: list[str]) -> tuple[str, str]:
    """The answer type a "which/what <phrase>" asks for, from the phrase's first nouns. "What is the
    magnitude" asks for a number; "what did ..." or "what is Medinsky's ..." name no kind: the
    caller decides."""
    if len(phrase) > 2 and phrase[0] in ("is", "are", "was", "were") and phrase[1] in ("the", "its", "his", "her", "their"):
        phrase = phrase[2:]
    for word in phrase:
        if word in _PHRASE_END:
            break
        if word in _SKIP or len(word) <= 2:  # "U.S." reads as "u", "s"
            continue
        singular = word[:-1] if word.endswith("s") and len(word) > 3 else word
        if singular in DESCRIPTION_NOUNS or word in DESCRIPTION_NOUNS:
            return NONE, singular
        for kind, nouns in ((DATE, DATE_NOUNS), (NUMBER, NUMBER_NOUNS), (PLACE, PLACE_NOUNS),
                            (ORGANISATION, ORGANISATION_NOUNS), (PERSON, PERSON_NOUNS)):
            if word in nouns or singular in nouns:
                if singular != word and singular in nouns and kind in (PERSON, ORGANISATION, PLACE):
                    return NONE, singular  # "which leaders": several names, an answer in sentences
                return kind, singular if singular in nouns else word
    return "", ""


__all__ = ["Question", "analyse", "TIME_EXPRESSION", "PERSON", "ORGANISATION", "PLACE", "DATE", "NUMBER", "DURATION", "NAME", "NONE"]
