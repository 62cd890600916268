"""Citations: building them from passages, and checking the [n] markers in a generated answer.

Every marker in a final answer points at a passage that was actually given to the model; markers
that point nowhere are removed and reported; the sources are renumbered 1..n in the order the
answer first cites them, so the numbers a reader sees match the list under the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from rag.text import MARKER, sentence_spans, terms
from rag.types import Citation, Document, Passage



def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host (nothing a browser would run or read locally)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(c in url for c in "\r\n\t")


def passage_url(app_url: str, doc: Document | Passage, start: int, end: int) -> str:
    """The original article when it has an http(s) URL, else the app's view of the passage. A
    document's URL is untrusted input: `javascript:` or `data:` must never reach a client."""
    if doc.url and is_web_url(doc.url):
        return doc.url.strip()
    return f"{app_url}/passage/{quote(doc.doc_id, safe='')}?start={start}&end={end}"


def make_citation(number: int, doc: Document, start: int, end: int, app_url: str, chunk_id: str = "") -> Citation:
    return Citation(
        number=number,
        doc_id=doc.doc_id,
        title=doc.title,
        quote=doc.text[start:end],
        url=passage_url(app_url, doc, start, end),
        publisher=doc.publisher,
        author=doc.author,
        published=doc.published,
        start=start,
        end=end,
        chunk_id=chunk_id,
    )


@dataclass
class CheckedText:
    text: str
    used: list[int]  # source numbers (1-based, as given to the model) in first-cited order
    removed: list[str] = field(default_factory=list)


def check_markers(text: str, n_sources: int) -> CheckedText:
    """Drop markers outside 1..n_sources, merge repeats, and renumber in order of first use."""
    used: list[int] = []
    removed: list[str] = []

    def collect(match: re.Match) -> str:
        valid = []
        for part in match.group(1).split(","):
            number = int(part)
            if 1 <= number <= n_sources:
                if number not in valid:
                    valid.append(number)
            else:
                removed.append(f"[{number}]")
        for number in valid:
            if number not in used:
                used.append(number)
        return "".join(f"\x00{n}\x00" for n in valid)

    marked = MARKER.sub(collect, text)
    renumber = {old: new for new, old in enumerate(used, 1)}
    out = re.sub(r"\x00(\d+)\x00", lambda m: f"[{renumber[int(m.group(1))]}]", marked)
    out = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", out)  # "[1] [1]" -> "[1]"
    out = re.sub(r"(?<![ \t])[ \t]+([.,;:])", r"\1", out)  # from a run's start only: linear, not quadratic
    out = re.sub(r"[ \t]{2,}", " ", out).strip()
    return CheckedText(out, used, removed)


def collapse_repetition(text: str) -> str:
    """Small models loop: keep the first copy of every repeated sentence, and the line structure
    (paragraphs, bullet lists) of what is left."""
    seen: set[str] = set()
    lines: list[str] = []
    for line in text.splitlines():
        kept = []
        # A marker after the full stop ("rose. [1]") belongs to the sentence before it.
        for piece in re.split(r"(?<=[.!?])\s+(?!\[)", line.strip()):
            key = MARKER.sub("", piece).strip(" -*").lower()
            if key and key not in seen:
                seen.add(key)
                kept.append(piece)
        if kept or not line.strip():
            lines.append(" ".join(kept))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# A claim is pinned to the passage's sentences that hold at least this share of its weighted terms;
# below it no sentence clearly backs the claim, and the citation keeps the whole passage.
MIN_CLAIM_SUPPORT = 0.4
MAX_QUOTE_SENTENCES = 3


def claims_citing(text: str, number: int) -> str:
    """The sentences of a checked answer that carry the marker [number], markers removed."""
    tag = f"[{number}]"
    pieces = []
    for line in text.splitlines():
        # In "... rose. [2] Wages ..." the marker belongs to the sentence before it.
        for sentence in re.split(r"(?<=[.!?])\s+(?!\[)|(?<=\])\s+(?=[A-Z“\"])", line):
            if tag in sentence:
                pieces.append(MARKER.sub(" ", sentence).strip(" -*•"))
    return " ".join(pieces)


def supporting_span(claim: str, passage: Passage, weight: Callable[[str], float]) -> tuple[int, int]:
    """The character span of the passage's sentences that back `claim`: the sentence sharing the
    most of the claim's terms (weighted, e.g. by IDF) and its neighbours that share nearly as much.

    An LLM cites a whole source; pinning the citation to the sentences that carry the claim lets
    the reader land on the evidence instead of a page-long highlight. With no clear match the
    citation stays on the whole passage, which is what the model read.
    """
    wanted = {t: weight(t) for t in set(terms(claim))}
    total = sum(wanted.values())
    spans = sentence_spans(passage.text, passage.start)
    if not total or not spans:
        return passage.start, passage.end
    present = [set(terms(passage.text[s - passage.start : e - passage.start])) for s, e in spans]
    scores = [sum(w for t, w in wanted.items() if t in words) / total for words in present]
    best = max(range(len(spans)), key=scores.__getitem__)
    if scores[best] < MIN_CLAIM_SUPPORT:
        return passage.start, passage.end
    first = last = best
    while last - first + 1 < MAX_QUOTE_SENTENCES:
        before = scores[first - 1] if first > 0 else -1.0
        after = scores[last + 1] if last + 1 < len(spans) else -1.0
        if max(before, after) < 0.6 * scores[best]:
            break
        if after >= before:
            last += 1
        else:
            first -= 1
    return spans[first][0], spans[last][1]
