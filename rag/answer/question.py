"""What a question asks for: the kind of answer expected, its topic terms, and its time expressions.

An extractive answer can only lead with a short answer ("Vladimir Medinsky", "two hours") when it
knows what kind of thing to look for. That comes from the question's wording alone: the question
word and the noun after "which"/"what" ("which think tank", "what year"). Small word lists and
regular expressions, no model: the analysis runs on every offline question and must cost nothing.

`analyse` runs once per question; the `Question` it returns is what every later stage (sentence
scoring, the ranker, the short answer, composition) reads, so none of them parses the text again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import names, normalize_word, sentence_spans, terms, words

# "What did X say / tell / warn": the person's own words answer. Whole verb forms only: "warning",
# "Warnock", "additional", "replacing" or "the call" do not ask what someone said (prefixes matched
# them, and a speech question skips the trained ranker). "Call" only as "what did X call Y": "what
# is it called", "called on Congress" and "calls for" are not speech.
SPEECH_QUESTION = re.compile(
    r"\b(say|says|said|saying|tell|tells|told|telling|warn|warns|warned|claim|claims|claimed|claiming|"
    r"describ(?:e|es|ed|ing)|react(?:s|ed|ing)?|respond(?:s|ed|ing)?|repl(?:y|ies|ied|ying)|"
    r"(?:did|does|do|would|will) (?:\w+ ){1,3}call\b(?! (?:on|for|off)\b)|sum(?:s|med|ming)? (?:\w+ )?up|put it|"
    r"characteri[sz](?:e|es|ed|ing)|comment(?:s|ed|ing)?|argu(?:e|es|ed|ing)|insist(?:s|ed|ing)?|add(?:s|ed|ing)?|"
    r"quot(?:e|es|ed|ing)|words?)\b",
    re.I,
)
# "How long" asks for a length: "long" is not a word the answer contains.
HOW_MUCH = re.compile(r"\bhow (long|many|much|far|old|often|big|large)\b", re.I)
# Which kind of thing a sentence must hold to be more than a restatement of the question.
ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|often|big|large)|what (year|percentage|percent|number|amount|age|date|day|time)|when)\b", re.I
)
ASKS_NAME = re.compile(r"^\W*(who|whom|whose|which|where)\b|\b(who|which|where)\b", re.I)
# A noun the question determines ("during the talks"): its topic, which a name may qualify.
TOPIC_NOUN = re.compile(r"\b(?:the|this|that|these|those|its|his|her|their)\s+([a-z][\w’'-]{2,})", re.I)

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
    "poet", "novelist", "playwright", "painter", "sculptor", "photographer", "filmmaker", "producer", "composer",
    "comedian", "dancer", "host", "presenter", "anchor", "chef", "astronaut", "pilot", "activist", "lawyer", "attorney",
    "prosecutor", "officer", "soldier", "priest", "bishop", "cardinal", "monarch", "emperor", "dictator", "tycoon",
    "mogul", "heir", "heiress", "footballer", "golfer", "boxer", "swimmer", "gymnast", "skater", "sprinter", "runner",
    "cyclist", "jockey", "quarterback", "pitcher", "driver", "rider", "climber", "explorer", "inventor", "philanthropist",
    "influencer", "chairman", "chairwoman", "commissioner", "congressman", "congresswoman", "whistleblower",
    "suspect", "defendant", "nominee", "laureate", "frontrunner", "challenger", "incumbent", "runner-up",
}
# The organisations that sell something (asked for one, a regulator named in the story is not it:
# rag/answer/direct.py).
COMPANY_NOUNS = {"company", "firm", "business", "corporation", "brand", "automaker", "carmaker", "airline", "bank",
                 "retailer", "manufacturer", "startup", "chain", "platform", "label", "studio"}
ORGANISATION_NOUNS = COMPANY_NOUNS | {
    "companies", "organisation", "organization", "agency", "group", "party", "institution", "institute", "university",
    "college", "school", "team", "club", "network", "broadcaster", "newspaper", "outlet", "publication", "tank",
    "charity", "union", "alliance", "court", "ministry", "department", "committee", "council", "body", "league",
    "regulator", "exchange",
}
PLACE_NOUNS = {
    "country", "countries", "nation", "city", "cities", "town", "village", "state", "states", "province", "region",
    "continent", "capital", "island", "county", "district", "place", "location", "site", "area", "territory",
    "port", "park", "neighbourhood", "neighborhood", "venue", "airport", "border",
}
# "Which virus", "what disease": a disease's name, which no entity label gives (rag/answer/direct.py).
DISEASE_NOUNS = {"virus", "disease", "illness", "infection", "bacterium", "bacteria", "pathogen", "variant", "strain",
                 "flu", "fungus", "sickness", "outbreak", "epidemic", "pandemic"}
# "Which film", "what song": a title (rag/answer/direct.py fits titles first for a NAME).
WORK_NOUNS = {"film", "movie", "song", "album", "book", "novel", "show", "series", "play", "musical", "documentary",
              "game", "painting", "opera", "single", "track", "podcast", "drama", "sitcom", "memoir", "franchise"}
# "Which newspaper": an outlet may answer, which otherwise is only who reported the story.
OUTLET_NOUNS = {"newspaper", "network", "broadcaster", "outlet", "publication", "channel", "magazine", "paper", "station"}
DATE_NOUNS = {"year", "day", "date", "month", "time", "decade", "century", "weekday", "season"}
NUMBER_NOUNS = {"percentage", "percent", "proportion", "share", "fraction", "number", "amount", "sum", "total", "figure",
                "rate", "price", "cost", "magnitude", "age", "score", "temperature", "size", "height", "speed"}

# What a number measures, from the question's noun or verb (rag/answer/direct.py prefers
# candidates that measure the same).
PERCENT_MEASURE, MONEY_MEASURE = "percent", "money"
PERCENT_NOUNS = {"percentage", "percent", "proportion", "share", "fraction"}
MONEY_NOUNS = {"price", "cost", "sum", "money", "fee", "fine", "salary", "budget", "prize", "fund", "funding", "revenue",
               "profit", "loss", "debt", "bill"}
MONEY_WORDS = re.compile(r"\b(?:cost|costs|costing|pay|pays|paid|paying|spend|spends|spent|worth|price|prices|raise|raised|"
                         r"earn|earns|earned|fined|bid|sell|sold|fund|funds|funding|money|charge|charged|owe|owed|lose|lost|"
                         r"save|saved|donate|donated|budget)\b", re.I)
CHANGE_WORDS = re.compile(r"\b(?:increase|rise|rose|risen|fall|fell|fallen|drop|grow|grew|grown|climb|jump|decline|surge|"
                          r"soar|plunge|cut|shrink|shrank)(?:s|d|ed|ing)?\b", re.I)

TYPE_NOUNS = PERSON_NOUNS | ORGANISATION_NOUNS | PLACE_NOUNS | DATE_NOUNS | NUMBER_NOUNS

_WH = r"(?:which|what)"
_NAME_ASKED = re.compile(r"\b(what is|what's|what was) (the|its|his|her|their) (new |full |official )?name\b|\b(titled|called|named|dubbed)\b\W*$", re.I)
_HOW_LONG = re.compile(r"\bhow long\b|\bfor how (many|much) (years|months|weeks|days|hours|minutes)\b", re.I)
_HOW_NUMBER = re.compile(r"\bhow (many|much|high|low|far|old|big|large|fast|deep|tall|heavy|often|soon)\b", re.I)
_WHEN = re.compile(r"\bwhen\b|\bsince when\b", re.I)
_WHERE = re.compile(r"\bwhere\b", re.I)
_WHO = re.compile(r"\b(who|whom|whose)\b", re.I)
_WHICH_NOUN = re.compile(rf"\b{_WH}\s+((?:[\w’'.-]+\s*){{1,7}})", re.I)
_SENTENCE_ANSWER = re.compile(r"^\W*(why|how (did|does|do|is|are|was|were|has|have|can|could|will|would|should))\b", re.I)
# "Who did Putin send, and how was that delegation characterized?": two asks, which sentences answer.
_SECOND_ASK = re.compile(r"\b(?:and|or) (?:how|why|what|who|when|where|which)\b", re.I)
# "Who is Andriy Yermak?" asks for a description, not a name.
_WHO_IS_NAME = re.compile(r"^\W*(?i:who) (is|was|are|were) (?:[A-Z][\w’'.-]*+\s*){1,4}(?:\?|,|\band\b|$)")

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
    """The analysis of one question, made once per ask (`analyse`) and read by every stage.

    `answer_type` is what kind of thing answers it (PERSON ... NONE), `focus` the noun phrase after
    "which"/"what" ("think tank"), `unit` the noun counted by "how many" ("points"). For follow-ups,
    `query_*` describe the retrieval query (the question with the conversation's words)."""

    text: str
    answer_type: str
    focus: str = ""
    unit: str = ""
    terms: tuple[str, ...] = ()  # stemmed topic terms, each once, in order
    time_expressions: tuple[str, ...] = field(default_factory=tuple)
    names: frozenset[str] = frozenset()  # its capitalised words, lower-cased, hyphenated ones split ("Trump-backed")
    capitalised: frozenset[str] = frozenset()  # the same, hyphenated ones whole
    words: tuple[str, ...] = ()  # its words as written
    asked: frozenset[str] = frozenset()  # its words lower-cased (hyphenated also split): an answer must not repeat them
    term_sequence: tuple[str, ...] = ()  # stemmed terms in order with repeats, for adjacent pairs
    weighted_terms: tuple[str, ...] = ()  # terms that weigh in sentence scores ("long" of "how long" is not one)
    wants_speech: bool = False  # "what did X say": the person's own words answer
    wants_number: bool = False  # a sentence holding a number may answer it
    wants_name: bool = False  # a sentence naming something the question does not may answer it
    parts: tuple[tuple[str, ...], ...] = ()  # terms of each part of a two-part question ("Who is X, and what ...")
    topic_nouns: frozenset[str] = frozenset()  # nouns it determines ("the talks")
    query_terms: tuple[str, ...] = ()  # weighted terms of the retrieval query
    query_names: frozenset[str] = frozenset()  # names and words of the retrieval query
    measure: str = ""  # for a number: PERCENT_MEASURE ("what percentage") or MONEY_MEASURE ("how much did it cost"), else ""


def analyse(question: str, query: str | None = None) -> Question:
    """Everything later stages need from `question` (and, for a follow-up, from the retrieval
    `query` built with the conversation)."""
    # "may" in lower case is the verb ("may have picked up"), not the month.
    times = tuple(m.group().strip() for m in TIME_EXPRESSION.finditer(question) if m.group().strip() != "may")
    answer_type, focus, unit = _answer_type(question)
    capitalised = frozenset(names(question))
    named = frozenset(part for name in capitalised for part in name.split("-"))
    written = tuple(words(question))
    sequence = tuple(terms(question))
    query = question if query is None else query
    return Question(
        question, answer_type, focus, unit, tuple(dict.fromkeys(sequence)), times, named,
        capitalised=capitalised,
        words=written,
        asked=_asked_words(question),
        term_sequence=sequence,
        weighted_terms=tuple(terms(HOW_MUCH.sub("how", question))),
        measure=_measure(question, answer_type, focus, unit),
        wants_speech=bool(SPEECH_QUESTION.search(question)),
        wants_number=bool(ASKS_NUMBER.search(question)),
        wants_name=bool(ASKS_NAME.search(question)),
        parts=tuple(tuple(terms(part)) for part in question_parts(question)),
        topic_nouns=frozenset(normalize_word(w) for w in TOPIC_NOUN.findall(question)),
        query_terms=tuple(terms(HOW_MUCH.sub("how", query))),
        query_names=frozenset(names(query)) | {normalize_word(w) for w in words(query)},
    )


def _measure(question: str, answer_type: str, focus: str, unit: str) -> str:
    """What a number question measures, where its words say: a share ("what percentage", "what
    proportion") or a sum of money ("how much did it cost", "what price"); "" when they do not."""
    if answer_type != NUMBER:
        return ""
    if focus in PERCENT_NOUNS or unit in PERCENT_NOUNS:
        return PERCENT_MEASURE
    if focus in MONEY_NOUNS or unit in MONEY_NOUNS:
        return MONEY_MEASURE
    # "How much did it cost": money; "how much have prices risen": a change, in money or in percent.
    if re.search(r"\bhow much\b", question, re.I) and MONEY_WORDS.search(question) and not CHANGE_WORDS.search(question):
        return MONEY_MEASURE
    return ""


def _asked_words(question: str) -> frozenset[str]:
    """The question's words, lower-cased, as an answer must not merely repeat them."""
    question = re.sub(r"(?<=\d),(?=\d)", "", question)  # "1,000" as one word, as numbers are compared
    written = words(question)
    return frozenset({normalize_word(w) for w in written} | {normalize_word(p) for w in written for p in w.split("-")})


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
        raw = words(match.group(1))
        phrase = [normalize_word(w) for w in raw]
        # "Which state's Supreme Court", "which university's president": the owner is what is asked.
        owner = next((i for i, w in enumerate(raw) if re.search(r"[’']s$", w)), None) if phrase[:1] != ["of"] else None
        kind, focus = _kind_of(phrase[: owner + 1]) if owner is not None else ("", "")
        if not kind:
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
        head = " ".join(words(match.group(1))[:1])
        # "What sports": several names. "Which Paris museum": a name's own "s" says nothing.
        return (NONE, head.lower(), "") if head.islower() and _plural(head) else (NAME, head.lower(), "")
    return NONE, "", ""


_SKIP = {"the", "a", "an", "former", "new", "current", "recent", "other", "two", "major", "popular", "prestigious",
         "famous", "wildly", "biggest", "largest", "first", "last", "earlier", "us", "u.s", "uk", "european", "american",
         "british", "russian", "national", "senior", "top", "deputy", "embattled", "legendary", "historic"}


_AUX = {"did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "happened", "will", "would", "can",
        "could", "should", "about"}
# The phrase after "which"/"what" ends at a verb or a preposition: "what animal over 600 years ago".
_PHRASE_END = _AUX | {"this", "last", "next", "of", "over", "in", "on", "at", "to", "for", "from", "with", "by", "that", "who", "which", "and", "or"}
# Nouns that ask for an account, not a name: "what role has Witkoff played", "which measure did they leave out".
DESCRIPTION_NOUNS = {"role", "reason", "impact", "effect", "result", "demand", "measure", "step", "action", "sanction",
                     "pressure", "threat", "problem", "issue", "risk", "change", "message", "warning", "plan", "proposal",
                     "deal", "policy", "strategy", "argument", "view", "position", "response", "condition", "kind", "type"}


_COUNTS = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "several", "both"}
_PLURALS = {"countries", "cities", "companies", "states", "people"}  # listed plurals the "-s" rule misses
_NOT_PLURAL = {"series", "species", "news", "headquarters", "olympics", "games", "championships", "awards", "means"}


def _plural(word: str) -> bool:
    """A noun read as plural by its ending ("sports", "films"), not "series", "virus" or "news"."""
    word = word.lower()
    return (word in _PLURALS or (len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ics"))
                                  and word not in _NOT_PLURAL))


def _kind_of(phrase: list[str]) -> tuple[str, str]:
    """The answer type a "which/what <phrase>" asks for, from the phrase's first nouns. "What is the
    magnitude" asks for a number; "what did ..." or "what is Medinsky's ..." name no kind: the
    caller decides."""
    if len(phrase) > 2 and phrase[0] in ("is", "are", "was", "were") and phrase[1] in ("the", "its", "his", "her", "their"):
        phrase = phrase[2:]
    one_of = len(phrase) > 2 and phrase[0] == "of" and phrase[1] in ("these", "those", "the")
    if one_of:
        phrase = phrase[2:]  # "which of these former candidates": one of the candidates
    found: tuple[str, str] = ("", "")
    # The head of a noun phrase comes last: in "which Ivy League school" or "which Conservative
    # Party leadership candidate", a kind noun up to two words after the first one decides. Not
    # further: without a tagger the phrase may run on into the verb's object ("which retailer
    # lowered its gas prices").
    last = len(phrase)
    several = False  # "which three countries": a list, not one name
    for i, word in enumerate(phrase):
        if word in _PHRASE_END or i > last:
            break
        several = several or word in _COUNTS
        if word in _SKIP or len(word) <= 2:  # "U.S." reads as "u", "s"
            continue
        singular = word[:-1] if word.endswith("s") and len(word) > 3 else word
        if singular in DESCRIPTION_NOUNS or word in DESCRIPTION_NOUNS:
            found, last = (NONE, singular), min(last, i + 2)
            continue
        if word in WORK_NOUNS or singular in WORK_NOUNS:
            found, last = (NAME, singular if singular in WORK_NOUNS else word), min(last, i + 2)
            continue
        if word in DISEASE_NOUNS or singular in DISEASE_NOUNS:
            found, last = (NAME, word if word in DISEASE_NOUNS else singular), min(last, i + 2)
            continue
        for kind, nouns in ((DATE, DATE_NOUNS), (NUMBER, NUMBER_NOUNS), (PLACE, PLACE_NOUNS),
                            (ORGANISATION, ORGANISATION_NOUNS), (PERSON, PERSON_NOUNS)):
            if word in nouns or singular in nouns:
                plural = (singular != word and singular in nouns) or word in _PLURALS or several
                if plural and kind in (PERSON, ORGANISATION, PLACE) and not one_of:
                    # "which leaders", "which three countries": several names, an answer in sentences
                    found = (NONE, singular if singular in nouns else word)
                else:
                    found = (kind, singular if singular in nouns else word)
                last = min(last, i + 2)
                break
    return found


__all__ = ["DISEASE_NOUNS", "OUTLET_NOUNS", "Question", "analyse", "SPEECH_QUESTION", "TIME_EXPRESSION", "PERSON", "ORGANISATION", "PLACE", "DATE", "NUMBER", "DURATION", "NAME", "NONE"]
