"""Small text utilities shared by retrieval and answering: terms, sentences, names."""

from __future__ import annotations

import re
from functools import lru_cache, wraps

_WORD = re.compile(r"[\w’'-]+", re.U)
# Sentence ends: . ! ? (optionally closed by quotes or brackets) before whitespace and a capital,
# a digit or an opening quote; or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?P<close>[\"'”’)\]]*)\s+(?=[\"“‘(\[]?[A-Z0-9])|(?P<close2>)\n+")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "lt", "col", "sgt", "capt", "st", "jr", "sr",
    "u.s", "u.k", "u.n", "e.u", "vs", "etc", "inc", "corp", "co", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "d.c", "j",
}

QUESTION_WORDS = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do", "is", "are",
    "was", "were", "say", "said", "says", "tell", "told", "about", "according", "article", "articles", "report",
    "reported", "think", "thinks", "believe", "believes", "view", "views", "opinion", "mean", "means",
    "happen", "happened", "happens", "explain", "describe", "described", "characterize", "characterized",
    "characterise", "characterised", "done", "doing", "he", "she", "has", "have", "had", "the", "a", "an", "of", "in", "on", "to", "and", "or", "for", "with", "as", "by", "at", "from",
}
# A citation marker in answer text: [1], [2, 3].
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
PRONOUNS = {"he", "she", "they", "it", "his", "her", "their", "them", "him", "this", "that", "these", "those", "its"}


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | QUESTION_WORDS


def words(text: str) -> list[str]:
    return [w.strip("'’-") for w in _WORD.findall(text) if w.strip("'’-")]


def normalize_word(word: str) -> str:
    return word.lower().replace("’", "'").removesuffix("'s")


# Retrieval, support, ranking and answering each read the terms and sentences of the same retrieved
# passages, and the next question about a story retrieves them again (on the bundled corpus's
# questions a third of an ask went to splitting text already split). Only sentence- and
# passage-sized texts are kept: a whole chunk read while indexing, or a whole article, would fill
# the caches (and memory) with text no question reads again.
CACHED_TEXT_CHARS = 600
CACHED_TEXTS = 16384
CACHED_PASSAGE_CHARS = 4000
CACHED_PASSAGES = 4096


def _kept_when_short(longest: int, entries: int):
    """Keep the results of `compute(text, ...)` (a list) for texts of at most `longest` characters,
    as tuples; callers get a fresh list either way, so none can change what is kept."""

    def wrap(compute):
        kept = lru_cache(maxsize=entries)(lambda text, *args, **kwargs: tuple(compute(text, *args, **kwargs)))

        @wraps(compute)
        def call(text: str, *args, **kwargs):
            return list(kept(text, *args, **kwargs)) if len(text) <= longest else compute(text, *args, **kwargs)

        return call

    return wrap


@_kept_when_short(CACHED_TEXT_CHARS, CACHED_TEXTS)
def terms(text: str) -> list[str]:
    """Stemmed content terms (stopwords and question words dropped); hyphenated words split."""
    # `words` and `normalize_word` inlined, with the apostrophe folded once for the whole text: this
    # runs for every new sentence a question reads (a tenth of an ask).
    stop = stopwords()
    kept = []
    for word in _WORD.findall(text.replace("’", "'")):
        for part in word.strip("'-").split("-"):
            part = part.lower().removesuffix("'s")
            if len(part) > 1 and part not in stop:
                kept.append(part)
    return _stemmer().stemWords(kept)


@_kept_when_short(CACHED_TEXT_CHARS, CACHED_TEXTS)
def names(text: str) -> list[str]:
    """Capitalised words that are not at the start of a sentence: a cheap proper-noun detector."""
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        tokens = words(sentence)
        for i, token in enumerate(tokens):
            if i == 0 or not token[:1].isupper() or normalize_word(token) in stopwords():
                continue
            found.append(normalize_word(token))
    return found


@_kept_when_short(CACHED_PASSAGE_CHARS, CACHED_PASSAGES)
def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, shifted by `offset`; whitespace trimmed."""
    spans = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end("close") if m.group("close") is not None else m.start()
        candidate = text[start:end]
        last = candidate.rstrip("\"'”’)] ").split()[-1:] if candidate.strip() else []
        if "\n" not in m.group() and last and last[0].rstrip(".").lower() in _ABBREVIATIONS:
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if e - trail > s + lead:
            out.append((offset + s + lead, offset + e - trail))
    return out


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in words(text)]
    return {tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
