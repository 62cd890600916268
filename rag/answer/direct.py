"""The short answer's candidates: the names, numbers and dates in the best sentences that could
answer the question, grouped by answer.

Candidates of the expected type (rag/answer/question.py) come from the named-entity model
(rag/backends/ner.py: PERSON, ORG, GPE, DATE, MONEY, ...) where it ran, and from rules where the
model has no label or did not run: runs of capitalised words, numbers with their units, shares
said in words ("a fifth of"), durations, dates. The entity label decides a name's kind (a person,
an organisation, a place), settled over all mentions of the name and overruled where the sentence
itself says what the name is ("the think tank Orbis"); the rules keep what they do better (units,
"a fifth", datelines, the question's own words in any form). How well a kind fits the question is
a documented table (`FIT`), narrowed where the question says more: which kind of place ("which
nation"), what a number measures ("what percentage"). Each candidate is scored by its sentence's
score, how close it stands to the question's words in that sentence, and how well its kind fits
the question; the same answer in several articles forms one group. Which group, if any, is shown
is for the trained scorer (rag/answer/scorer.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from functools import lru_cache
from dataclasses import dataclass

from rag.answer.question import (
    COMPANY_NOUNS, DATE, DISEASE_NOUNS, DURATION, MONEY_MEASURE, NAME, NUMBER, OUTLET_NOUNS, ORGANISATION, PERCENT_MEASURE,
    PERSON, PLACE, TYPE_NOUNS, Question,
)
from rag.answer.support import Sentence, Support, is_common_word
from rag.backends.ner import Entity, EntityRecognizer
from rag.retrieval.dates import parse_published
from rag.text import normalize_word, stopwords, terms, words

# Only the sentences near the top compete, and only they are read by the NER model: about 2.5 ms a
# sentence on 2 cores, so ten keep a question's NER near 25-30 ms (the ask budget is 100 ms).
MAX_SENTENCES = 10
# Each further article naming the same answer adds this share of its score (halved, a third, ...):
# enough for agreement to settle a close call, not enough for a name every article mentions.
AGREEMENT = 0.4
ROLE_WEIGHT = 0.6
POSSESSIVE = 0.5
# Asked where a new aircraft carrier was launched, "France's new aircraft carrier" says whose
# carrier (the question's own subject), not where.
QUESTION_POSSESSIVE = 0.2
OTHER_UNIT = 0.6
# "The first direct talks in (over) three years", "the highest in a decade": a time since, which
# answers "how long has it been", not "how long did the meeting last". Not "for": "the first
# president to serve for eight years" gives a length.
TIME_SINCE = re.compile(r"\b(?:first|last|highest|lowest|biggest|largest|worst|best|most)\b[^.;]*\bin "
                        r"(?:(?:over|more than|nearly|almost|about|some|the past|the last) )?$", re.I)
ASKS_TIME_SINCE = re.compile(r"\bsince\b|\b(?:has|have)\b[^?]*\bbeen\b|\bin how (?:many|long)\b", re.I)
TIME_SINCE_FIT = 0.2
# "Who is Germany's chancellor?": a person named inside someone's quoted words is what the speaker
# talks about ("'Putin put himself in the wrong,' the German chancellor said"), rarely the holder
# of the role asked for.
QUOTED_FOR_ROLE = 0.3
ASKS_WHO_IS = re.compile(r"\s*who\s+(?:is|was|are|were)\b", re.I)

# Right now: news is asked about as of a day, and a value stated by a newer article ("90 seconds to
# midnight" this week) replaces the one older articles state for the same thing ("100 seconds" last
# year). An answer is superseded when every article naming it is at least SUPERSEDE_DAYS older than
# one that states another answer of the same kind in a sentence covering as much of the question;
# its evidence is then multiplied by SUPERSEDED (the scorer, trained with it, reads the ages and
# the supersession as features too).
SUPERSEDE_DAYS = 3
SUPERSEDED = 0.5
SAME_THING = 0.8  # the newer sentence covers at least this share of the older one's question terms
# The question asks about now: "this week", "latest", "new", "now", "current", "so far".
ASKS_NOW = re.compile(r"\b(?:this (?:week|weekend|month|year|season)|latest|newest|new|now|currently|current|recently|"
                      r"so far|to date|today|yesterday|just)\b", re.I)

# Kinds of candidate: what a question type accepts, and how well (1 = exactly what was asked).
ORG, PLACE_K, PERSON_K, NAME_K, TITLE = "org", "place", "person", "name", "title"
MONEY, PERCENT, DURATION_K, LENGTH, YEAR, DATE_K, COUNT = "money", "percent", "duration", "length", "year", "date", "count"
GROUP = "group"  # a nationality, religion or political group (NORP): "Russian", "Democrats"
DISEASE = "disease"  # a disease, virus or variant ("measles", "Marburg virus", "JN.1"): no entity label names one
FIT = {
    # "Who won Best Director": a person, hardly ever an award ("Golden Globe Awards") or a place.
    PERSON: {PERSON_K: 1.0, NAME_K: 0.7, ORG: 0.25, PLACE_K: 0.05, TITLE: 0.05, GROUP: 0.1},
    ORGANISATION: {ORG: 1.0, NAME_K: 0.7, PERSON_K: 0.2, PLACE_K: 0.3, TITLE: 0.4, GROUP: 0.3},
    PLACE: {PLACE_K: 1.0, NAME_K: 0.55, ORG: 0.35, PERSON_K: 0.1, GROUP: 0.2},
    NAME: {TITLE: 1.0, NAME_K: 0.7, ORG: 0.7, PERSON_K: 0.5, PLACE_K: 0.5, GROUP: 0.3, DISEASE: 0.5},
    DATE: {DATE_K: 1.0, YEAR: 1.0},
    NUMBER: {COUNT: 0.8, MONEY: 0.8, PERCENT: 0.8, LENGTH: 0.6, DURATION_K: 0.5, YEAR: 0.15},
    DURATION: {DURATION_K: 1.0, LENGTH: 0.8, COUNT: 0.3},
}
# The kind of candidate each OntoNotes label names. ORDINAL ("third") answers nothing asked here.
ENTITY_KINDS = {
    "PERSON": PERSON_K, "ORG": ORG, "GPE": PLACE_K, "LOC": PLACE_K, "FAC": PLACE_K, "NORP": GROUP,
    "EVENT": TITLE, "WORK_OF_ART": TITLE, "PRODUCT": TITLE, "LAW": TITLE, "LANGUAGE": NAME_K,
    "DATE": DATE_K, "TIME": DATE_K, "MONEY": MONEY, "PERCENT": PERCENT, "QUANTITY": LENGTH, "CARDINAL": COUNT,
}
NAME_KINDS = {PERSON_K, ORG, PLACE_K, NAME_K, TITLE, GROUP, DISEASE}
# "Which virus": a disease, never the county commissioner quoted about it.
DISEASE_FIT = {DISEASE: 1.0, NAME_K: 0.4, TITLE: 0.2, ORG: 0.05, PERSON_K: 0.02, PLACE_K: 0.02, GROUP: 0.02}
# The outlet that published a story is who reported it ("CNN"), rarely the group it reports on;
# unless the question asks for a newspaper or a network.
OUTLET_FIT = 0.1
# Asked for a company (COMPANY_NOUNS), a government body or court named in the story is who acted on it.
PUBLIC_BODIES = {"FAA", "FDA", "CDC", "EPA", "FBI", "CIA", "NASA", "SEC", "FTC", "FCC", "DOJ", "NHTSA", "NTSB", "IRS",
                 "WHO", "UN", "EU", "NATO", "IMF", "CONGRESS", "SENATE", "PENTAGON", "WHITE HOUSE", "FED",
                 "FEDERAL RESERVE", "KREMLIN", "PARLIAMENT", "OSHA", "USDA", "DHS", "ICE", "CBP", "FEMA"}
PUBLIC_BODY_WORDS = {"administration", "agency", "department", "commission", "bureau", "ministry", "court", "committee",
                     "council", "board", "authority", "police", "parliament", "congress", "senate", "government",
                     "regulator", "office", "service"}
PUBLIC_BODY_FIT = 0.3
# The kind a name has when the sentence calls it what the question asks for ("the think tank Orbis").
ASKED_KINDS = {PERSON: PERSON_K, ORGANISATION: ORG, PLACE: PLACE_K, NAME: TITLE}

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen twenty").split()
_TENS = ["thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS = "|".join(_SMALL + _TENS + ["hundred", "thousand", "dozen", "a", "an"])
TIME_UNITS = {"second", "minute", "hour", "day", "week", "month", "year", "decade", "century", "centuries", "night"}
LENGTH_UNITS = {"km", "kilometre", "kilometer", "mile", "metre", "meter", "m", "ft", "feet", "foot", "yard", "inch", "cm", "mm"}
MONEY_UNITS = {"dollar", "euro", "pound", "yen", "yuan", "rouble", "ruble", "rupee", "franc", "cent"}
# What may follow a number's last digit with no space: "5km", "10bn", "5th", "1980s".
JOINED_UNITS = {"km", "m", "mm", "cm", "ft", "kg", "g", "lb", "lbs", "mph", "bn", "k", "st", "nd", "rd", "th", "s",
                "am", "pm", "ml", "mw", "gw", "kw", "gb", "tb", "h"}
IRREGULAR_PLURALS = {"people", "children", "men", "women", "police", "staff", "cattle", "sheep", "fish", "troops", "deer"}

NUMBER_EXPR = re.compile(
    rf"(?<![\w.,])(?P<num>[$£€]\s?\d(?:[\d,]*\d)?(?:\.\d+)?|\d(?:[\d,]*\d)?(?:\.\d+)?|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))*)"
    r"(?!\d|\([a-z]\))"  # "401(k)", "501(c)": a name, not a number
    r"(?:\s?(?P<scale>million|billion|trillion|thousand|hundred|bn)\b)?"
    r"(?:\s?(?P<pct>%|percent\b|per cent\b|percentage points?\b))?"
    r"(?:(?P<sep>[- ]|\s?)(?P<unit>[A-Za-z]+)\b)?",
    re.I,
)
# A share said in words: "nearly a fifth of the country", "two-thirds of voters", "half the budget".
FRACTION = re.compile(
    r"\b(?:(?:a|one|two|three|four|nine)[- ](?:third|quarter|fifth|tenth)s?|half)(?=\s+(?:of|the)\b)", re.I
)
DATE_EXPR = re.compile(
    rf"\b(?:(?:{WEEKDAYS}),? )?(?:(?:{MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?(?:,? (?:1[89]|20)\d\d)?|\d{{1,2}} (?:{MONTHS})(?: (?:1[89]|20)\d\d)?"
    rf"|(?:{MONTHS}) (?:1[89]|20)\d\d)\b|\b(?:{WEEKDAYS})\b|\b(?:the )?(?:1[89]|20)\d0s\b|(?<![\w$£€.,])(?:1[89]|20)\d\d(?![\w]|[,.]\d)"
)
# Diseases, viruses and variants, lower-case as news writes most of them: a documented list, names
# ending in virus/fever/flu/disease, and lineage names ("BA.5", "JN.1").
DISEASES = (
    "covid-19|covid|long covid|coronavirus|monkeypox|mpox|measles|polio|ebola|marburg|cholera|dengue|malaria|tuberculosis|"
    "zika|hepatitis [a-e]|influenza|bird flu|avian flu|avian influenza|swine flu|h5n1|h1n1|h3n2|rsv|hiv|aids|norovirus|"
    "rotavirus|listeria|salmonella|e\\. coli|anthrax|plague|smallpox|chickenpox|mumps|rubella|whooping cough|pertussis|"
    "meningitis|lyme disease|nipah|hantavirus|diphtheria|tetanus|rabies|chikungunya|oropouche|sars|mers|legionnaires’? disease|"
    "legionnaires'? disease|scarlet fever|strep a|pneumonia|sepsis|omicron|flu"
)
DISEASE_EXPR = re.compile(
    rf"\b(?:(?-i:[A-Z])[\w'-]+ ){{1,2}}(?:virus|fever|disease|flu)\b|\b(?:{DISEASES})(?: virus)?\b|\b[a-z]+(?:virus|pox)\b"
    r"|\b(?:BA|BQ|XBB|JN|KP|XEC|EG|HV|LB)\.\d+(?:\.\d+)*\b",
    re.I,
)
# A number's qualifier is part of what it says: "less than two hours" is not "two hours". Words that
# only round ("about", "some") are left out.
QUALIFIED = re.compile(
    r"(?:\b(?:less|more|fewer|higher|lower) than|\b(?:just )?(?:over|under)|\bat (?:least|most)|\bup to|\bnearly|\balmost"
    r"|\bas (?:many|much|few) as|\bupwards of) $",
    re.I,
)
# One country, several names: the question's "U.S." is the answer's "US".
COUNTRY_ALIASES = (
    {"us", "usa", "united states", "united states of america", "america", "american", "americans"},
    {"uk", "united kingdom", "britain", "great britain", "british"},
    {"eu", "european union"},
    {"un", "united nations"},
    {"uae", "united arab emirates", "emirati"},
    {"prc", "china", "chinese", "people's republic of china"},
    {"drc", "democratic republic of congo", "democratic republic of the congo"},
)
# A run of capitalised words, with "of", "for", "on", "de" ... between them ("Institute for Human
# Sciences", "Bank of England"); spaces only, so a run never crosses a line.
NAME_RUN = re.compile(
    r"(?:[A-Z][\w’'.&-]*|(?<!\d)\d+[A-Z][\w-]*)(?:[ ](?:(?:of|for|on|de|del|da|von|van|al|bin|the|&)[ ])?(?:[A-Z][\w’'&.-]*))*"
)
# The closing mark is followed by no letter: the ’ of "I’d" closes nothing.
QUOTED_TITLE = re.compile(r"[“\"‘]((?:[A-Z0-9][\w’'&:!?.,-]*)(?:[ ][\w’'&:!?.,-]+){0,6})[”\"’](?!\w)")
TITLES = re.compile(
    r"^(?:(?:Former|Deputy|Vice|Acting|Prime|Foreign|Defen[cs]e|Finance|Culture|Interior|Chief|Senior|Special|"
    r"Secretary(?: of State)?|Minister|President|Chancellor|Premier|Sen|Senator|Rep|Representative|Gov|Governor|"
    r"Mayor|Mr|Mrs|Ms|Dr|Prof|Gen|General|Judge|Justice|Ambassador|Envoy|Spokesman|Spokeswoman|Director|Chairman|"
    r"Chairwoman|CEO|COO|CFO|CTO|Lt|Col|Adm|Rev|Coach|Officer|Agent|Leader|Commander)\.?\s+)+"
)
ORG_WORDS = {
    "inc", "corp", "corporation", "company", "co", "ltd", "plc", "llc", "group", "ministry", "party", "council",
    "institute", "institution", "university", "college", "school", "bank", "agency", "association", "union",
    "foundation", "committee", "court", "department", "office", "commission", "fund", "times", "post", "journal",
    "news", "service", "organization", "organisation", "center", "centre", "network", "airlines", "airways",
    "motors", "league", "club", "federation", "alliance", "assembly", "parliament", "congress", "senate", "board",
    "authority", "administration", "forces", "army", "navy", "police", "house", "studios", "records", "press",
    "academy", "society", "coalition", "front", "movement", "reserve", "bureau", "cabinet", "kremlin", "pentagon",
}
PLACE_WORDS = {"park", "city", "county", "island", "islands", "river", "mountains", "valley", "coast", "sea", "ocean",
               "bay", "state", "province", "region", "republic", "kingdom", "street", "square", "airport", "port"}
KIND_WORDS = {"national", "international", "memorial", "stadium", "hospital", "museum", "prize", "award", "awards",
              "festival", "championship", "cup", "bridge", "lake", "falls", "canyon", "reef", "glacier"}
PLACES = frozenset(p.lower() for p in """
Africa Asia Europe Antarctica Australia Oceania America Americas Arctic Middle-East
Afghanistan Albania Algeria Angola Argentina Armenia Austria Azerbaijan Bahrain Bangladesh Belarus Belgium Bolivia
Bosnia Brazil Britain Bulgaria Cambodia Cameroon Canada Chad Chile China Colombia Congo Croatia Cuba Cyprus Czechia
Denmark Ecuador Egypt England Eritrea Estonia Ethiopia Fiji Finland France Gaza Georgia Germany Ghana Greece
Greenland Guatemala Haiti Honduras Hungary Iceland India Indonesia Iran Iraq Ireland Israel Italy Jamaica Japan
Jordan Kazakhstan Kenya Korea Kosovo Kuwait Laos Latvia Lebanon Libya Lithuania Luxembourg Madagascar Malaysia Mali
Malta Mexico Moldova Mongolia Montenegro Morocco Mozambique Myanmar Namibia Nepal Netherlands Nicaragua Niger
Nigeria Norway Oman Pakistan Palestine Panama Paraguay Peru Philippines Poland Portugal Qatar Romania Russia Rwanda
Scotland Senegal Serbia Singapore Slovakia Slovenia Somalia Spain Sudan Sweden Switzerland Syria Taiwan Tajikistan
Tanzania Thailand Tunisia Turkey Turkiye Uganda Ukraine Uruguay Uzbekistan Venezuela Vietnam Wales Yemen Zambia
Zimbabwe UK U.K. US U.S. USA EU Crimea Donbas Kyiv Kiev Moscow London Paris Berlin Washington Beijing Tokyo
Istanbul Ankara Brussels Vienna Rome Madrid Warsaw Geneva Jerusalem Tehran Delhi Sydney Toronto Chicago Boston
Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Hawaii Idaho Illinois Indiana Iowa
Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska
Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Wisconsin Wyoming
""".split()) | {"new york", "new jersey", "new mexico", "new hampshire", "north carolina", "south carolina",
                "north dakota", "south dakota", "west virginia", "rhode island", "saudi arabia", "south africa",
                "north korea", "south korea", "new zealand", "united states", "united kingdom", "hong kong",
                "sri lanka", "costa rica", "el salvador", "south sudan", "los angeles", "san francisco"}
# "Which country" is not answered by a city, nor "which city" by a country: the places a focus noun
# asks for. Countries come from CLDR (babel's English territory names) with the short forms news
# uses; cities and states are the listed ones above. A place in no list keeps the fit of its kind.
CITIES = frozenset(p.lower() for p in """
Kyiv Kiev Moscow London Paris Berlin Washington Beijing Tokyo Istanbul Ankara Brussels Vienna Rome Madrid Warsaw
Geneva Jerusalem Tehran Delhi Sydney Toronto Chicago Boston
""".split()) | {"new york", "los angeles", "san francisco", "hong kong"}
US_STATES = frozenset(p.lower() for p in """
Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho Illinois Indiana
Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska
Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Wisconsin Wyoming
""".split()) | {"new york", "new jersey", "new mexico", "new hampshire", "north carolina", "south carolina",
                "north dakota", "south dakota", "west virginia", "rhode island"}
COUNTRY_FORMS = {"us", "u.s.", "usa", "uk", "u.k.", "britain", "great britain", "england", "scotland", "wales",
                 "northern ireland", "turkey", "burma", "congo", "korea", "palestine", "america"}
# CLDR codes of regions that are not countries (the EU, the UN, pseudo-locales, islands of a country).
NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AC", "AQ", "CP", "DG", "EA", "IC", "TA"}
PLACES_ASKED = {"country": "country", "nation": "country", "city": "city", "town": "city", "capital": "city",
                "state": "state"}
OTHER_PLACE = 0.3
QUALIFIER = 0.2
TITLE_WORDS = {"sir", "dame", "lord", "lady", "minister", "president", "leader", "secretary", "foreign", "prime", "chief"}
MEASURE_KINDS = {PERCENT_MEASURE: PERCENT, MONEY_MEASURE: MONEY}
OTHER_MEASURE = 0.5
HOW_MANY = re.compile(r"\bhow many\b", re.I)
# After a name ending in "’s", a verb or a stop shows the "’s" is its own ("Wendy’s plans to test",
# "Domino’s, Papa John’s and"): a possessive is followed by what it owns.
OWN_NAME_AFTER = re.compile(
    r"\s*(?:[,.;:!?)\]”\"]|$|(?:said|says|announced|plans|planned|is|was|has|had|will|would|reported|"
    r"confirmed|added|and|or|which|who|did|does|also|recently|now)\b)")
# "Flight 1282", "Boeing 737", "Apollo 11": a number after a name is part of the name.
LABEL_BEFORE = re.compile(r"(?<=[a-z,;:] )(?:[A-Z][A-Za-z-]+|No\.) $")

WHERE_AFTER = re.compile(r",? where\b")
PLACE_CUE = re.compile(r"\b(?:in|at|from|to|near|across|outside|inside|into|of) (?:the )?$")
PERSON_CUE = re.compile(r"^,? (?:said|says|told|added|wrote|who|warned|argued|noted|\()")
# "... said", "..., who", or a title or role just before: a person.
PERSON_BEFORE = re.compile(
    r"\b(?:President|Minister|minister|Secretary|secretary|Chancellor|chancellor|Mr|Mrs|Ms|Dr|Sen|Gov|spokes\w+|"
    r"adviser|advisor|envoy|ambassador|official|director|chief|leader|star|actor|actress|singer)\.? $"
)
MONTH_OR_DAY = re.compile(rf"^(?:{MONTHS}|{WEEKDAYS})$")
I_CONTRACTION = re.compile(r"i(?:[’'](?:d|m|ve|ll))?")  # "I’d" opens a quotation, it names nobody
# "Russian", "Finnish", "European": adjectives of nationality are not names of anything asked for.
DEMONYM = re.compile(r"^[A-Z][a-z]{3,}(?:ian|ean|ese|ish)$")
DEMONYMS = {"german", "american", "french", "dutch", "greek", "thai", "swiss", "israeli", "iraqi", "saudi",
            "pakistani", "afghan", "kazakh", "uzbek", "yemeni", "kuwaiti", "qatari", "emirati", "somali", "filipino",
            "czech", "slovak", "welsh", "scots", "western", "eastern", "northern", "southern"}
# A dateline: "(CNN) The FBI ...", "New York (CNN Business) KFC ...", "LONDON (Reuters) - ...". The
# agency in it says who reported the story, never what the story reports.
DATELINE = re.compile(r"^\s*(?:[A-Z][\w.’'-]*(?:[ ,]+[A-Z][\w.’'-]*){0,3}\s*)?\(([^()\n]{1,40})\)(?=\s)")
DEMONYM_ENDINGS = {"ese", "an", "n", "ian", "ish", "i", "ans", "ians", "ns"}
CONNECTORS = {"of", "for", "on", "the", "&", "de", "von", "van", "al", "bin", "del", "da"}
_WORD_POSITIONS = re.compile(r"[\w’'-]+")


@dataclass
class Candidate:
    """A span of `sentence.text` that may answer the question. `kind` is what it names (the entity
    label's kind where the model labelled it, else the rules'); `rule_kind` is the rules' view
    ("" when only the model found it) and `label` the entity label ("" when none)."""

    text: str
    kind: str
    sentence: Sentence
    start: int  # offsets of `text` in sentence.text
    end: int
    score: float = 0.0
    rule_kind: str = ""
    label: str = ""
    fit: float = 0.0
    proximity: float = 0.0


@dataclass
class AnswerGroup:
    """One answer and every candidate that names it ("Vladimir Medinsky", "Medinsky"), with the
    evidence summed over distinct articles (`weight`)."""

    candidates: list[Candidate]
    weight: float = 0.0
    newest: int | None = None  # days between `as_of` and the newest article naming it (None: no dates)
    oldest: int | None = None  # ... and the oldest: how long it has been in the news
    superseded: bool = False  # a newer article states another answer of the same kind for the same thing

    @property
    def lead(self) -> Candidate:
        """The best-scored mention: the one shown, in the sentence that cites it."""
        return max(self.candidates, key=lambda c: c.score)

    @property
    def documents(self) -> int:
        return len({c.sentence.doc_id for c in self.candidates})


def recognise(support: Support, recognizer: EntityRecognizer, limit: int = MAX_SENTENCES) -> None:
    """Find the named entities of the first `limit` sentences of `support` (those the short answer
    is taken from), in one batch; sentences already read keep theirs."""
    todo = [s for s in support.sentences[:limit] if s.entities is None]
    for sentence, found in zip(todo, recognizer.entities([s.text for s in todo])):
        sentence.entities = found


def answer_groups(question: Question, support: Support) -> list[AnswerGroup]:
    """The candidate answers of the type `question` asks for in the first `MAX_SENTENCES`
    sentences, grouped by answer, the best-supported first (empty for an open question)."""
    if not FIT.get(question.answer_type):
        return []
    wanted = question_cues(question)
    found: list[tuple[Candidate, list[tuple[int, int, str]]]] = []
    for sentence in support.sentences[:MAX_SENTENCES]:
        stems = word_stems(sentence.text)
        found += [(cand, stems) for cand in candidates(sentence, question)]
    _settle_kinds([cand for cand, _ in found])
    focus = set(terms(question.focus)) if question.focus not in ("", "name") else set()
    asked_kind = ASKED_KINDS.get(question.answer_type)
    groups: list[AnswerGroup] = []
    for cand, stems in found:
        if restates(question, cand):
            continue
        if focus and asked_kind and cand.kind in NAME_KINDS and _apposed(cand, focus):
            cand.kind = asked_kind
        cand.fit = candidate_fit(question, cand)
        if not cand.fit:
            continue
        cand.proximity = proximity(stems, cand, wanted)
        cand.score = cand.sentence.score * cand.fit * (0.4 + 0.6 * cand.proximity)
        _add(groups, cand)
    for group in groups:
        group.weight = _agreement(group.candidates)
    _date(groups, support.as_of)
    return sorted(groups, key=lambda g: g.weight, reverse=True)


def article_age(sentence: Sentence, as_of: dt.date | None) -> int | None:
    """Days from the sentence's article's publication to `as_of` (None when either is unknown)."""
    published = parse_published(sentence.passage.published)
    if published is None or as_of is None:
        return None
    return max(0, (as_of - published).days)


def _unit_word(text: str) -> str:
    last = text.split()[-1].lower() if text.split() else ""
    return last if last.isalpha() else ""


def _date(groups: list[AnswerGroup], as_of: dt.date | None) -> None:
    """Each group's newest and oldest article age, and whether a newer article supersedes it."""
    for group in groups:
        ages = [a for a in (article_age(c.sentence, as_of) for c in group.candidates) if a is not None]
        group.newest, group.oldest = (min(ages), max(ages)) if ages else (None, None)
    for group in groups:
        if group.newest is None:
            continue
        covered = max(c.sentence.lexical for c in group.candidates)
        kind = group.lead.kind
        for other in groups:
            if other is group or other.lead.kind != kind or other.newest is None:
                continue
            if kind in (COUNT, DURATION_K, LENGTH) and _unit_word(other.lead.text) != _unit_word(group.lead.text):
                continue  # "3 years" does not replace "100 seconds"
            newer = [c for c in other.candidates
                     if (age := article_age(c.sentence, as_of)) is not None and age + SUPERSEDE_DAYS <= group.newest]
            # The newer answer must state the same thing about as well: a sentence covering as
            # much of the question, and a candidate about as strong in it (not any name a newer
            # story happens to mention).
            if newer and max(c.sentence.lexical for c in newer) >= SAME_THING * covered and \
                    max(c.score for c in newer) >= SAME_THING * group.lead.score:
                group.superseded = True
                group.weight *= SUPERSEDED
                break


def restates(question: Question, cand: Candidate) -> bool:
    """The candidate is the question's own words in another form: "Final" when it asked about the
    "Stanley Cup Finals" (the same stems), "Japan" when it asked about a "Japanese island" (the
    name its adjective comes from)."""
    stems = set(terms(cand.text))
    if stems and stems <= set(question.terms):
        return True
    plain = cand.text.lower().replace(".", "")
    if any(plain in aliases and _names_country(question.text, aliases) for aliases in COUNTRY_ALIASES):
        return True  # "US" when it asked about entering "the U.S."
    word = cand.text.lower()
    base = word.rstrip("aeo")  # "China" -> "Chinese", "Russia" -> "Russian", "Ukraine" -> "Ukrainian"
    return " " not in word and len(base) >= 4 and any(
        asked.startswith(base) and asked[len(base):] in DEMONYM_ENDINGS for asked in question.names
    )


def _names_country(text: str, aliases: set[str]) -> bool:
    """The text names the country by one of `aliases` ("U.S.", "United States", "American"); "US"
    and "UN" only in capitals, as "us" is a pronoun."""
    plain = text.replace(".", "")
    return any(re.search(rf"\b{a.upper()}\b", plain) if a in ("us", "un") else re.search(rf"\b{re.escape(a)}\b", plain, re.I)
               for a in aliases)


def _settle_kinds(found: list[Candidate]) -> None:
    """Give every mention of a name one kind: a person when a full name of it ("Donald Trump") is
    labelled a person (news names people in full, then by surname), else the kind most of its
    labelled mentions have. The entity model labels each sentence on its own and slips on bare
    surnames (a surname after "to" read as an ORG)."""
    groups: list[AnswerGroup] = []
    for cand in found:
        if cand.kind in NAME_KINDS:
            _add(groups, cand)
    for group in groups:
        if any(c.label == "PERSON" and len(c.text.split()) > 1 for c in group.candidates):
            kind = PERSON_K
        else:
            kinds = Counter(ENTITY_KINDS[c.label] for c in group.candidates if c.label in ENTITY_KINDS)
            if not kinds:
                continue
            kind, count = kinds.most_common(1)[0]
            if kind not in NAME_KINDS or count <= sum(kinds.values()) / 2:
                continue
        for cand in group.candidates:
            cand.kind = kind


def _apposed(cand: Candidate, focus: set[str]) -> bool:
    """The question's focus noun stands right beside the name ("the think tank Orbis", "the
    automaker Ford", "Sheetz stores"): the sentence itself says what kind of thing it is, which
    outweighs the entity model's guess (it reads a short unknown name as a person as readily as an
    organisation)."""
    text = cand.sentence.text
    before = [w for w in _WORD_POSITIONS.findall(text[max(0, cand.start - 40) : cand.start]) if w.lower() not in ("the", "a", "an")]
    after = _WORD_POSITIONS.findall(text[cand.end : cand.end + 40])
    return any(set(terms(w)) & focus for w in before[-1:] + after[:2])


def question_cues(question: Question) -> dict[str, float]:
    """The weight of each of the question's terms as a landmark next to an answer."""
    # Role words ("minister", "company") stand next to every name of their kind: they say less about which.
    roles = _role_terms()
    return {t: ROLE_WEIGHT if t in roles else 1.0 for t in question.terms}


@lru_cache(maxsize=1)
def _role_terms() -> frozenset[str]:
    return frozenset(terms(" ".join(TYPE_NOUNS)))


def candidate_fit(question: Question, cand: Candidate) -> float:
    """How well a candidate's kind answers the question (0: not at all, 1: exactly what was asked)."""
    fits = DISEASE_FIT if question.focus in DISEASE_NOUNS else FIT.get(question.answer_type, {})
    asked_place = PLACES_ASKED.get(question.focus)
    if asked_place == "country" and cand.kind in NAME_KINDS and "country" in place_kinds(cand.text):
        cand.kind = PLACE_K  # a country by name, whatever the model read it as
    if question.answer_type == PLACE and cand.kind in NAME_KINDS and WHERE_AFTER.match(cand.sentence.text[cand.end:]):
        cand.kind = PLACE_K  # "his first visit to Barrow, where he is due to ...": a place, whatever the model read
    fit = fits.get(cand.kind, 0.0)
    if question.unit and cand.kind in (COUNT, DURATION_K):
        # "How many prisoners": "1,000 prisoners" counts them, "two sides" counts something else.
        fit = 1.0 if _unit_matches(cand.text, question.unit) else fit * OTHER_UNIT
    if question.unit and cand.kind in (MONEY, PERCENT) and HOW_MANY.search(question.text) \
            and question.unit.lower().removesuffix("s") not in MONEY_UNITS:
        fit *= OTHER_MEASURE  # "how many jurors": a count, not the sum the trial was about
    if not fit:
        return 0.0
    if cand.kind in NAME_KINDS and _qualifies_asked_name(question, cand):
        fit *= QUALIFIER  # "French President Emmanuel Macron", asked where Macron went: whose president, not where
    if asked_place and cand.kind == PLACE_K:
        kinds = place_kinds(cand.text)
        # "which nation": not Nara, a city; "which state": not the US, a country. Countries are a
        # closed list: asked for one, a place in none of the lists ("Capitol") is not one either.
        if (kinds and asked_place not in kinds) or (asked_place == "country" and not kinds):
            fit *= OTHER_PLACE
    if cand.kind in NAME_KINDS and question.focus not in OUTLET_NOUNS and _outlet(cand):
        fit *= OUTLET_FIT
    if question.focus in COMPANY_NOUNS and cand.kind in NAME_KINDS and _public_body(cand.text):
        fit *= PUBLIC_BODY_FIT  # "which company was grounded": not the FAA that grounded it
    measure = MEASURE_KINDS.get(question.measure)
    if measure and cand.kind in (COUNT, MONEY, PERCENT):
        fit = 1.0 if cand.kind == measure else fit * OTHER_MEASURE  # "what percentage": "38%", not "2,000 people"
    if question.focus == "year" and cand.kind == DATE_K and not re.search(r"\d{4}", cand.text):
        fit = 0.2  # "what year": a weekday or a day of the month does not say
    if re.match(r"[’']s\b", cand.sentence.text[cand.end : cand.end + 3]):
        fit *= POSSESSIVE  # "Britain's next-generation submarines": a modifier, not the answer
        owned = terms(" ".join(_WORD_POSITIONS.findall(cand.sentence.text[cand.end + 2 : cand.end + 60])[:3]))
        if set(owned) & set(question.terms):
            fit *= QUESTION_POSSESSIVE  # and what it qualifies is what the question asks about
    if cand.kind == DURATION_K and TIME_SINCE.search(cand.sentence.text[max(0, cand.start - 80) : cand.start]) \
            and not ASKS_TIME_SINCE.search(question.text):
        fit *= TIME_SINCE_FIT  # "the first talks in three years" is how long since, not how long they lasted
    if question.answer_type == PERSON and ASKS_WHO_IS.match(question.text) and _quoted(cand):
        fit *= QUOTED_FOR_ROLE
    return fit


def _public_body(name: str) -> bool:
    """A government body, court or international organisation by name ("FAA", "Supreme Court",
    "Food and Drug Administration"): what regulates, rules on or reports about a company."""
    parts = name.split()
    return name.replace(".", "").upper() in PUBLIC_BODIES or (len(parts) > 1 and parts[-1].lower() in PUBLIC_BODY_WORDS)


def _quoted(cand: Candidate) -> bool:
    """The candidate stands inside a quotation of its sentence: more quotation marks open than
    close before it (curly marks counted apart, straight ones by parity)."""
    before = cand.sentence.text[: cand.start]
    curly = before.count("\u201c") - before.count("\u201d")
    return curly > 0 or (curly == 0 and before.count('"') % 2 == 1)


def _outlet(cand: Candidate) -> bool:
    """The candidate is the outlet that published its own article ("CNN" in a CNN story)."""
    passage = cand.sentence.passage
    outlets = {(passage.publisher or "").lower()}
    host = re.match(r"https?://(?:www\.|edition\.|amp\.)?([^./]+)\.", passage.url or "")
    if host:
        outlets.add(host.group(1).lower())
    text = cand.text.lower()
    return text in outlets or text.replace(" ", "") in outlets


def _qualifies_asked_name(question: Question, cand: Candidate) -> bool:
    """The candidate stands before a name the question gives, with only titles between ("Russian
    President Vladimir Putin", "UK prime minister Sir John Smith"): it says who that person is."""
    following = _WORD_POSITIONS.findall(cand.sentence.text[cand.end : cand.end + 60])[:5]
    for word in following:
        if normalize_word(word) in question.names:
            return True
        if not TITLES.match(word.capitalize() + " ") and word.lower() not in TITLE_WORDS:
            return False
    return False


def place_kinds(name: str) -> set[str]:
    """What a place name is known to be: a "country", "city" or "state" (several for "New York",
    "Georgia"); empty when it is in no list."""
    place = " ".join(name.lower().removeprefix("the ").split())
    return ({"country"} if place in countries() else set()) | ({"city"} if place in CITIES else set()) \
        | ({"state"} if place in US_STATES else set())


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """Country names in English, lower-cased: CLDR's territory names (from babel, loaded once) and
    the short forms news uses ("US", "Britain")."""
    from babel import Locale

    names = set(COUNTRY_FORMS)
    for code, name in Locale("en").territories.items():
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES:
            # "Myanmar (Burma)", "Congo - Kinshasa", "Hong Kong SAR China": the name news uses.
            names.add(re.split(r" \(| - | SAR ", name)[0].replace("&", "and").lower())
    return frozenset(names)


def candidates(sentence: Sentence, question: Question) -> list[Candidate]:
    """The names, numbers and dates in a sentence that the question does not already contain: the
    rules' spans, each kind taken from the entity model where it labelled the span, and the
    model's further entities."""
    text = sentence.text
    asked = question.asked
    out: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    asked_times = {normalize_word(w) for t in question.time_expressions for w in words(t)}
    for m in DATE_EXPR.finditer(text):
        if not {normalize_word(w) for w in words(m.group())} <= asked_times | {"in", "since", "the"}:
            out.append(Candidate(m.group(), DATE_K if not m.group().strip().isdigit() else YEAR, sentence, m.start(), m.end()))
            taken.append(m.span())
    for m in FRACTION.finditer(text):
        out.append(Candidate(m.group(), PERCENT, sentence, m.start(), m.end()))
        taken.append(m.span())
    if question.focus in DISEASE_NOUNS:
        for m in DISEASE_EXPR.finditer(text):
            if not set(terms(m.group())) <= set(question.terms):
                out.append(Candidate(m.group(), DISEASE, sentence, m.start(), m.end()))
                taken.append(m.span())
    for m in NUMBER_EXPR.finditer(text):
        cand = _number(m, sentence, asked)
        if cand and not any(s < cand.end and cand.start < e for s, e in taken):
            out.append(cand)
            taken.append((cand.start, cand.end))
    for m in QUOTED_TITLE.finditer(text):
        title = m.group(1).rstrip(",.!?")
        if len(title) <= 60 and not set(_name_tokens(title)) <= asked:
            out.append(Candidate(title, TITLE, sentence, m.start(1), m.start(1) + len(title)))
    dateline = DATELINE.match(text)
    if dateline:
        taken.append(dateline.span(1))
    opening = dateline.end() if dateline else 0
    for m in NAME_RUN.finditer(text):
        for start, end in _split_run(text, m.start(), m.end()):
            cand = _name(text, start, end, sentence, asked, question.topic_nouns, question.names, opening)
            if cand and not any(s < cand.end and cand.start < e for s, e in taken):
                out.append(cand)
    for cand in out:
        cand.rule_kind = cand.kind
    if sentence.entities:
        out += _labelled(sentence, sentence.entities, out, question, asked_times, dateline.span() if dateline else None)
    return out


def _labelled(sentence: Sentence, entities: list[Entity], found: list[Candidate], question: Question,
              asked_times: set[str], dateline: tuple[int, int] | None) -> list[Candidate]:
    """Label the rules' candidates with the entities that cover them (a name's kind becomes the
    model's: "Trump" a person, "Istanbul" a place); return the entities the rules missed as new
    candidates ("the Middle East", "last year", "$3 million")."""
    extra = []
    for entity in entities:
        kind = ENTITY_KINDS.get(entity.label)
        if kind is None or (dateline and entity.start < dateline[1]):
            continue
        covered = [c for c in found if c.start < entity.end and entity.start < c.end]
        for cand in covered:
            cand.label = entity.label
            if cand.rule_kind in NAME_KINDS:
                cand.kind = kind
                _widen(cand, entity, question)
        if covered:
            continue
        start, end = _trimmed(sentence.text, entity.start, entity.end)
        span = sentence.text[start:end]
        tokens = _name_tokens(span) - stopwords()
        if not tokens or (kind in NAME_KINDS and tokens & question.asked) or tokens <= question.asked | asked_times:
            continue
        title = TITLES.match(span + " ")
        if kind in NAME_KINDS and title and title.end() > len(span):
            continue  # "the former COO of Theranos": a title, labelled as an organisation
        extra.append(Candidate(span, kind, sentence, start, end, label=entity.label))
    return extra


def _widen(cand: Candidate, entity: Entity, question: Question) -> None:
    """A name the rules cut short takes the entity's whole span ("Arabia" -> "Saudi Arabia"), when
    what it adds is capitalised words that are neither titles nor the question's."""
    start, end = _trimmed(cand.sentence.text, entity.start, entity.end)
    if not (start <= cand.start and cand.end <= end) or (start, end) == (cand.start, cand.end):
        return
    extra = cand.sentence.text[start : cand.start].split() + cand.sentence.text[cand.end : end].split()
    if all(w[:1].isupper() and not TITLES.match(w + " ") and normalize_word(w) not in question.asked for w in extra):
        cand.start, cand.end, cand.text = start, end, cand.sentence.text[start:end]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """An entity's span less a leading "the" and a trailing possessive ("the Kremlin's"), unless
    what follows shows the "'s" is the name's own ("Wendy’s plans to", "Domino’s, Papa John’s")."""
    m = re.match(r"(?:the|The)\s+", text[start:end])
    if m and end - start > m.end():
        start += m.end()
    m = re.search(r"[’']s?$", text[start:end])
    if m and m.start() > 0 and not (m.group().endswith("s") and OWN_NAME_AFTER.match(text, end)):
        end = start + m.start()
    return start, end


def _number(m: re.Match, sentence: Sentence, asked: set[str]) -> Candidate | None:
    num = m.group("num")
    unit = (m.group("unit") or "").lower()
    singular = unit[:-1] if unit.endswith("s") and len(unit) > 3 else unit
    scale, pct = m.group("scale"), m.group("pct")
    if unit and not m.group("sep") and not scale and num[-1].isdigit() and singular not in JOINED_UNITS:
        return None  # "49ers", "3M", "G7": a name written with digits
    # "a 101-year-old man": an age, the number alone ("a 30-day ceasefire" keeps its unit: "30" says
    # too little of how long).
    age = m.group("sep") == "-" and unit == singular and singular in TIME_UNITS \
        and sentence.text.startswith("-old", m.end("unit"))
    if num.lower() in ("a", "an") and not (scale or singular in TIME_UNITS):
        return None
    if re.fullmatch(r"(?:1[89]|20)\d\d", num) and not (scale or pct) and singular not in TIME_UNITS | LENGTH_UNITS:
        return None  # a year: DATE_EXPR's business when it has a month; alone it is found below
    end = m.end("pct") if pct else m.end("scale") if scale else m.end("num")
    if pct:
        kind = PERCENT
    elif num[0] in "$£€" or singular in MONEY_UNITS:
        kind = MONEY
    elif singular in TIME_UNITS or (singular == "centuries"):
        kind = DURATION_K
    elif singular in LENGTH_UNITS:
        kind = LENGTH
    else:
        kind = COUNT
    if unit and not pct and not age and (singular in TIME_UNITS | LENGTH_UNITS | MONEY_UNITS or (kind == COUNT and _counted(m.group("unit")))):
        end = m.end("unit")
    if normalize_word(num.replace(",", "")) in asked or (num.isalpha() and num.lower() in asked and kind == COUNT):
        return None
    label = LABEL_BEFORE.search(sentence.text[max(0, m.start() - 30) : m.start()])
    if kind == COUNT and num.isdigit() and label and not MONTH_OR_DAY.match(label.group().strip()):
        return None
    qualifier = QUALIFIED.search(sentence.text[max(0, m.start() - 25) : m.start()])
    start = m.start() - (len(qualifier.group()) if qualifier else 0)
    article = re.match(r"an? (?!hundred|thousand|dozen)(?=\w)", num, re.I)
    if article and not qualifier:
        start += article.end()  # "a two-hour call": the number is "two-hour" ("a hundred" stays)
    text = sentence.text[start:end].rstrip(" -")
    return Candidate(text, kind, sentence, start, start + len(text))


def _counted(word: str) -> bool:
    """The word after a number says what it counts: a plural noun ("1,000 prisoners", "420 fires"),
    not whatever else follows ("63 hot dogs", "61 Delaware farms", "two televised debates")."""
    lowered = word.lower()
    if word != lowered or lowered in stopwords():
        return False
    return lowered in IRREGULAR_PLURALS or (lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")))


def _split_run(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A capitalised run split where "X Y of Z" joins a person to a place ("Ivan Krastev of
    Vienna"); "Bank of England", "Institute for Human Sciences" stay whole."""
    run = text[start:end]
    m = re.search(r" (?:of|for|on|de|von|van|the) ", run)
    if m and len(run[: m.start()].split()) >= 2 and run[: m.start()].split()[-1].lower() not in ORG_WORDS:
        return [(start, start + m.start()), (start + m.end(), end)]
    return [(start, end)]


def _name(text: str, start: int, end: int, sentence: Sentence, asked: set[str], topic_nouns: set[str],
          question_names: frozenset[str], opening: int) -> Candidate | None:
    """The name in `text[start:end]` less the titles, fillers and question words around it, or None.
    `opening` is where the sentence's own words begin (after a dateline)."""
    name = text[start:end]
    # Trailing possessive or sentence stop: "Medinsky's", "Kyiv." ("Wendy’s said" is a name).
    ending = r"\.$" if OWN_NAME_AFTER.match(text, end) else r"(?:[’']s?|\.)$"
    trimmed = re.sub(ending, "", name) if not re.fullmatch(r"(?:[A-Z]\.)+", name) else name
    title = TITLES.match(trimmed)
    lead = title.end() if title else 0
    tokens = trimmed[lead:].split(" ")
    # "Ukraine’s Zelensky": the name is what follows the possessive.
    for i, token in enumerate(tokens[:-1]):
        if re.search(r"[’']s$", token):
            lead += sum(len(t) + 1 for t in tokens[: i + 1])
            tokens = tokens[i + 1 :]
            break
    # Sentence-openers, titles, nationalities and the question's own words around a name are not the answer.
    while tokens and not _place_starts(tokens) and (
            _filler(tokens[0]) or _name_tokens(tokens[0]) <= asked or TITLES.match(tokens[0] + " ")):
        lead += len(tokens[0]) + 1
        tokens = tokens[1:]
    cut: list[str] = []
    while tokens and (_filler(tokens[-1]) or _name_tokens(tokens[-1]) <= asked):
        if _name_tokens(tokens[-1]) & question_names:
            return None  # "Donald [Trump]": what is left only qualifies a name the question gave
        cut.insert(0, tokens[-1])
        tokens = tokens[:-1]
    if not tokens:
        return None
    name = " ".join(tokens)
    if set(_name_tokens(name)) & asked or MONTH_OR_DAY.match(name):
        return None
    # "Salt Lake City", asked which city; "Yellowstone National Park", asked which national park: the
    # kind the question names, said as the end of the name, is part of it (and of the answer).
    if cut and all(kind_word(t) for t in cut):
        tokens = tokens + cut
        name = " ".join(tokens)
    first_in_sentence = not text[opening : start + lead].strip(" -—–")
    own_s = re.search(r"[’']s$", name) is not None  # kept above: "Domino’s said" names a business
    if len(tokens) == 1 and (len(name) < 2 or (first_in_sentence and not own_s and _common(name.lower()))):
        return None
    begin = start + lead
    # "the Istanbul talks", asked about "the talks": a name that qualifies the question's own topic
    # noun says which talks, not what was asked about them.
    following = re.match(r"\s+([a-z][\w’'-]*)", text[begin + len(name) :])
    if following and normalize_word(following.group(1)) in topic_nouns:
        return None
    return Candidate(name, _name_kind(text, begin, begin + len(name), name), sentence, begin, begin + len(name))


def kind_word(token: str) -> bool:
    """A word that says what kind of thing a name is ("City", "University", "National", "Park")."""
    word = normalize_word(token)
    return word in KIND_WORDS or word in ORG_WORDS or word in PLACE_WORDS


def _place_starts(tokens: list[str]) -> bool:
    """The tokens begin with a known place of two or three words ("Saudi Arabia", "South Korea"):
    its first word is part of the name, not a filler before it."""
    return any(" ".join(tokens[:n]).lower() in PLACES or " ".join(tokens[:n]).lower() in countries()
               for n in (2, 3) if len(tokens) >= n)


def _filler(token: str) -> bool:
    lowered = token.lower()
    return (lowered in stopwords() or lowered in CONNECTORS or bool(DEMONYM.match(token)) or lowered in DEMONYMS
            or bool(I_CONTRACTION.fullmatch(lowered)))


def _name_kind(text: str, start: int, end: int, name: str) -> str:
    lowered = name.lower()
    last = lowered.split()[-1]
    if lowered in PLACES:
        return PLACE_K
    if last in ORG_WORDS or re.fullmatch(r"[A-Z]{2,6}", name) or lowered.startswith(("university of", "bank of")):
        return ORG
    if last in PLACE_WORDS:
        return PLACE_K
    before, after = text[max(0, start - 30) : start], text[end : end + 12]
    if PERSON_CUE.match(after) or PERSON_BEFORE.search(before):
        return PERSON_K
    if PLACE_CUE.search(before) and len(name.split()) <= 2:
        return PLACE_K
    if 2 <= len(name.split()) <= 3 and all(re.fullmatch(r"[A-Z][a-z’'-]+\.?", t) for t in name.split()):
        return PERSON_K
    if re.fullmatch(r"[A-Z][a-z’'-]+ [IVX]+", name):  # "Leo XIV", "Charles III": a pope or a monarch
        return PERSON_K
    return NAME_K


@lru_cache(maxsize=8192)
def _common(word: str) -> bool:
    return is_common_word(word)


def _name_tokens(text: str) -> set[str]:
    return {normalize_word(w) for w in words(text)}


def _unit_matches(candidate: str, unit: str) -> bool:
    return bool(terms(unit)) and terms(unit)[0] in set(terms(candidate))


def proximity(stems: list[tuple[int, int, str]], cand: Candidate, wanted: dict[str, float]) -> float:
    """1 next to a question term in the sentence, falling with the distance in words."""
    first = next((i for i, (_, e, _) in enumerate(stems) if e > cand.start), 0)
    last = max((i for i, (s, _, _) in enumerate(stems) if s < cand.end), default=first)
    best = 0.0
    for i, (_, _, stem) in enumerate(stems):
        if (i < first or i > last) and stem in wanted:
            distance = first - i if i < first else i - last
            best = max(best, wanted[stem] / (1.0 + max(0, distance - 1) / 4))
    return best


def word_stems(text: str) -> list[tuple[int, int, str]]:
    """Each word's span and stemmed term ("" for a stopword)."""
    out = []
    for m in _WORD_POSITIONS.finditer(text):
        stem = terms(m.group())
        out.append((m.start(), m.end(), stem[0] if stem else ""))
    return out


def answer_key(cand: Candidate) -> frozenset[str]:
    tokens = [normalize_word(w) for w in words(cand.text.replace(",", ""))]
    return frozenset(str(_SMALL.index(t)) if t in _SMALL else t for t in tokens if t not in ("the", "of", "a", "an"))


def _add(groups: list[AnswerGroup], cand: Candidate) -> None:
    """Join the group of the same answer: the same words, or a part of them ("Medinsky" and
    "Vladimir Medinsky"). A group's first candidate has its longest form."""
    key = answer_key(cand)
    if not key:
        return
    for group in groups:
        other = answer_key(group.candidates[0])
        if key <= other or other <= key:
            group.candidates.append(cand)
            if len(key) > len(other):
                group.candidates.insert(0, group.candidates.pop())
            return
    groups.append(AnswerGroup([cand]))


def _agreement(group: list[Candidate]) -> float:
    """The best score in each article, the best article counting fully and each further one less:
    independent articles agreeing is strong evidence, one article repeating itself is not."""
    per_doc: dict[str, float] = {}
    for cand in group:
        per_doc[cand.sentence.doc_id] = max(per_doc.get(cand.sentence.doc_id, 0.0), cand.score)
    ranked = sorted(per_doc.values(), reverse=True)
    return ranked[0] + AGREEMENT * sum(score / rank for rank, score in enumerate(ranked[1:], 1))


__all__ = ["ASKS_NOW", "AnswerGroup", "Candidate", "article_age", "ENTITY_KINDS", "FIT", "answer_groups", "answer_key", "candidate_fit", "candidates", "kind_word", "proximity",
           "question_cues", "recognise", "word_stems"]
