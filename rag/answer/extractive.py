"""Extractive answers: sentences cut verbatim from the articles, each followed by its [n].

The best-scored sentences (rag/answer/support.py), from several articles where they agree, become
the answer; a quotation is never cut off, and every quote is a citation into its document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.answer.citations import make_citation
from rag.answer.support import SPEECH_QUESTION, Sentence, Support
from rag.text import jaccard, shingles
from rag.types import Answer, Citation, Document

MIN_RELATIVE = 0.55  # a sentence joins the answer if it scores at least this share of the best


def compose(question: str, support: Support, documents: Mapping[str, Document], max_quotes: int, app_url: str) -> Answer:
    """The extractive answer: one quote, or a list of quotes, each with its citation."""
    groups = select_sentences(support, max_sentences=max_quotes)
    wants_speech = bool(SPEECH_QUESTION.search(question))
    spans: list[list] = []  # [doc, start, end, chunk_id], in answer order
    for group in groups:
        doc = documents[group[0].doc_id]
        start, end = quote_span(doc, group, wants_speech)
        for span in spans:  # a quotation extended over another chosen sentence: one citation
            if span[0] is doc and span[1] <= end and start <= span[2]:
                span[1], span[2] = min(span[1], start), max(span[2], end)
                break
        else:
            spans.append([doc, start, end, group[0].passage.chunk_id])
    citations: list[Citation] = []
    lines: list[str] = []
    for number, (doc, start, end, chunk_id) in enumerate(spans, 1):
        citations.append(make_citation(number, doc, start, end, app_url, chunk_id))
        lines.append(f"{' '.join(doc.text[start:end].split())} [{number}]")
    text = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
    return Answer(question, text, citations, bool(citations), "extractive")


def select_sentences(support: Support, max_sentences: int) -> list[list[Sentence]]:
    """The best sentences, no near-duplicates, at most two per article; adjacent ones grouped.

    Returns groups in answer order; each group becomes one citation (a contiguous quote).
    """
    if not support.sentences:
        return []
    best = support.sentences[0].score
    chosen: list[Sentence] = []
    per_doc: dict[str, int] = {}
    for sentence in support.sentences:
        if len(chosen) >= max_sentences or sentence.score < MIN_RELATIVE * best:
            break
        if per_doc.get(sentence.doc_id, 0) >= 2:
            continue
        sh = shingles(sentence.text)
        if any(jaccard(sh, shingles(other.text)) > 0.5 for other in chosen):
            continue
        chosen.append(sentence)
        per_doc[sentence.doc_id] = per_doc.get(sentence.doc_id, 0) + 1

    groups: list[list[Sentence]] = []
    for sentence in chosen:
        for group in groups:
            last = group[-1]
            if last.doc_id == sentence.doc_id and 0 <= sentence.start - last.end <= 2:
                group.append(sentence)
                break
            first = group[0]
            if first.doc_id == sentence.doc_id and 0 <= first.start - sentence.end <= 2:
                group.insert(0, sentence)
                break
        else:
            groups.append([sentence])
    return groups


OPENING_QUOTE = re.compile(r"\s*[“\"]")
MAX_QUOTE_EXTENSION = 400


def _quote_open(text: str) -> bool:
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def quote_span(doc: Document, group: list[Sentence], wants_speech: bool) -> tuple[int, int]:
    """The group's span, extended so that a quotation is never cut off: to the closing quote mark
    of an opened quote, and, for "what did X say" questions, over a quotation that directly
    follows the sentence introducing it ("... summed it up in an interview: “...”")."""
    start, end = group[0].start, group[-1].end
    text = doc.text
    if text[start:end].count("”") > text[start:end].count("“"):  # begins inside a quotation
        opening = text.rfind("“", max(0, start - MAX_QUOTE_EXTENSION), start)
        if opening >= 0:
            start = _sentence_start(text, opening)
    limit = min(len(text), end + MAX_QUOTE_EXTENSION)
    if _quote_open(text[start:end]):
        for close in ("”", '"'):
            at = text.find(close, end, limit)
            if at >= 0 and not _quote_open(text[start : at + 1]):
                return start, _sentence_end(text, at + 1, limit)
    if wants_speech and OPENING_QUOTE.match(text, end):
        following = text[end:limit].lstrip()
        offset = end + (len(text[end:limit]) - len(following))
        closing = max(following.find("”", 1), following.find('"', 1))
        if closing > 0:
            return start, _sentence_end(text, offset + closing + 1, limit)
    return start, end


def _sentence_start(text: str, position: int) -> int:
    """Back to the start of the sentence (or line) an opening quote mark sits in."""
    before = text[max(0, position - MAX_QUOTE_EXTENSION) : position]
    cut = max(before.rfind(". "), before.rfind("\n"), before.rfind("? "), before.rfind("! "))
    return position - len(before) + cut + 1 + (before[cut + 1 : cut + 2] == " ") if cut >= 0 else position


def _sentence_end(text: str, position: int, limit: int) -> int:
    """Carry on to the end of the sentence the quote sits in ("...,” he said.")."""
    m = re.compile(r"[^.!?\n]*[.!?]?").match(text, position, limit)
    return m.end() if m else position
