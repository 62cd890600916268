"""Extractive answers: a first line that answers, then sentences cut verbatim from the articles,
each followed by its [n].

The first line is the best sentence, led by the short answer in bold (a name, number or date,
verbatim from that sentence) when the scorer (rag/answer/scorer.py) is sure enough of it; a short
answer that is likely but not that sure still makes its sentence the first line, without bold. The best-scored sentences
(rag/answer/support.py), from several articles where they agree, follow as support; a quotation is
never cut off, a quote that leans on the sentence before it brings that sentence, and every quote
is a citation into its document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.answer.citations import make_citation
from rag.answer.question import NONE, Question
from rag.answer.scorer import best_answer
from rag.answer.support import Sentence, Support
from rag.text import jaccard, sentence_spans, shingles
from rag.types import Answer, Citation, Document

MIN_RELATIVE = 0.25  # a sentence joins the answer if it scores at least this share of the best
# Quoted sentences from one article. A question asking for one name, number or date is answered
# by one article's account, often a sentence or two past the best one: 3 measured +2.1 points of
# answer-in-text on the news-QA training split (held out +1.3) at about 40 more characters. An open
# question ("what sanctions are discussed") is answered across outlets, and keeps room for them.
MAX_PER_ARTICLE = 3
MAX_PER_ARTICLE_OPEN = 2
# A short answer this likely, though not sure enough to be shown in bold, says which sentence
# answers: its sentence leads. Measured on the 1,317 training questions (benchmarks/answers/lead.py):
# the gold answer in the first line 20.8% -> 21.8%, ahead in all five date blocks, where 0.3 was
# not; with the models retrained on whole names since, 21.0% -> 21.9% (0.3: 22.0%, a tie).
LEAD_CONFIDENCE = 0.4


def compose(question: Question, support: Support, documents: Mapping[str, Document], max_quotes: int, app_url: str,
            short_answer: bool = True, min_confidence: float | None = None,
            lead_confidence: float = LEAD_CONFIDENCE) -> Answer:
    """The extractive answer: a first line that answers, then a few supporting quotes, each with its
    citation. The first line is the best sentence, led by the short answer (a name, number or date
    verbatim from it) when its probability clears `min_confidence` (None: the scorer's threshold).
    A likely short answer not sure enough to be shown still picks the first line from
    `lead_confidence` up: the sentence that holds it."""
    best = best_answer(question, support, min_confidence=min_confidence) if short_answer else None
    direct = best if best and best.shown else None
    wants_speech = question.wants_speech
    likely = best if best and (best.shown or best.probability >= lead_confidence) else None
    lead = likely.sentence if likely else quoted_lead(support) if wants_speech else None
    per_article = MAX_PER_ARTICLE_OPEN if question.answer_type == NONE or wants_speech else MAX_PER_ARTICLE
    groups = select_sentences(support, max_sentences=max_quotes, lead=lead, per_article=per_article,
                              one_fact=question.answer_type != NONE)
    spans: list[list] = []  # [doc, start, end, chunk_id], in answer order
    length = 0
    for group in groups:
        doc = documents[group[0].doc_id]
        start, end = quote_span(doc, group, wants_speech)
        start = self_contained_start(doc, start, lead=not spans)
        if start is None:
            continue
        for span in spans:  # a quotation extended over another chosen sentence: one citation
            if span[0] is doc and span[1] <= end and start <= span[2]:
                span[1], span[2] = min(span[1], start), max(span[2], end)
                break
        else:
            if spans and length + end - start > MAX_ANSWER_CHARS:
                continue
            spans.append([doc, start, end, group[0].passage.chunk_id])
        length += end - start
    citations: list[Citation] = []
    lines: list[str] = []
    for number, (doc, start, end, chunk_id) in enumerate(_whole_quotations(spans), 1):
        citations.append(make_citation(number, doc, start, end, app_url, chunk_id))
        lines.append(f"{' '.join(doc.text[start:end].split())} [{number}]")
    short = direct.text if direct else ""
    if short and lines and short in lines[0]:
        # The short answer leads, with the sentence it was cut from on the same line: a reader sees
        # the answer at once and, when the extraction picked the wrong name, the evidence beside it.
        lines[0] = f"**{short}** — {lines[0]}"
    else:
        short = ""
    text = "\n".join(lines[:1] + [f"- {line}" for line in lines[1:]])
    return Answer(question.text, text, citations, bool(citations), "extractive", short_answer=short or None,
                  short_answer_confidence=round(best.probability, 4) if best else None)


# A quote opening with a pronoun or a connective leans on the sentence before it.
DEPENDENT_OPENING = re.compile(
    r"[“\"‘']?(?:He|She|It|They|This|These|Those|That|His|Her|Its|Their|Them|But|However|And|Also|Yet|So|Still|"
    r"Instead|Meanwhile|Moreover|Furthermore|Nevertheless|Nonetheless|Or|Then|Such)\b"
)
MAX_ANSWER_CHARS = 1200  # of quoted text; the first quote always stays
QUOTED_LEAD_SHARE = 0.85
QUOTATION = re.compile(r"[“\"][^”\"]{12,}")


def quoted_lead(support: Support) -> Sentence | None:
    """For "what did X say" and "how did X describe" questions, the person's own words answer best:
    a sentence holding a quotation leads when it scores nearly as well as the best sentence."""
    best = support.sentences[0] if support.sentences else None
    if best is None or QUOTATION.search(best.text):
        return None
    return next((s for s in support.sentences[1:6] if s.score >= QUOTED_LEAD_SHARE * best.score and QUOTATION.search(s.text)), None)
MAX_CONTEXT_CHARS = 500  # the sentence brought in before a dependent quote


def self_contained_start(doc: Document, start: int, lead: bool) -> int | None:
    """Where a quote must start to read on its own: one sentence earlier when it opens with a
    pronoun or a connective ("He said ...", "But ..."), or None (drop it) when that sentence is
    missing or too long. The first quote is never dropped: it carries the answer."""
    if not DEPENDENT_OPENING.match(doc.text, start):
        return start
    window = max(0, start - 2000)
    before = sentence_spans(doc.text[window:start], window)
    if before and start - before[-1][0] <= MAX_CONTEXT_CHARS and doc.text[before[-1][1] : start].strip() == "":
        return before[-1][0]
    return start if lead else None


def select_sentences(support: Support, max_sentences: int, lead: Sentence | None = None,
                     per_article: int = MAX_PER_ARTICLE_OPEN, one_fact: bool = True) -> list[list[Sentence]]:
    """The best sentences, no near-duplicates, at most `per_article` from one article, only from
    articles about what the question asks (`Support.bears_on`; `one_fact`: the question asks for a
    name, number or date); adjacent ones grouped. `lead`, the
    sentence holding the short answer, comes first.

    Returns groups in answer order; each group becomes one citation (a contiguous quote).
    """
    if not support.sentences:
        return []
    best = support.sentences[0].score
    chosen: list[Sentence] = [lead] if lead else []
    per_doc: dict[str, int] = {lead.doc_id: 1} if lead else {}
    for sentence in support.sentences:
        if sentence is lead:
            continue
        if len(chosen) >= max_sentences or sentence.score < MIN_RELATIVE * best:
            break
        # The best sentence always answers; the others must come from articles about the question.
        if per_doc.get(sentence.doc_id, 0) >= per_article or (chosen and not support.bears_on(sentence, one_fact)):
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


def _whole_quotations(spans: list[list]) -> list[list]:
    """The spans once more closed over their quotations: a span merged from two, or started one
    sentence earlier to read on its own, may open a quotation the sentences it was cut from did not.
    Spans of one article that then overlap become one."""
    out: list[list] = []
    for doc, start, end, chunk_id in spans:
        start, end = close_quotation(doc.text, start, end)
        for span in out:
            if span[0] is doc and span[1] <= end and start <= span[2]:
                span[1], span[2] = min(span[1], start), max(span[2], end)
                break
        else:
            out.append([doc, start, end, chunk_id])
    return out


def close_quotation(text: str, start: int, end: int) -> tuple[int, int]:
    """`text[start:end]` widened so that no quotation in it is cut off: back to the sentence that
    opens a quotation it begins inside, on to the closing mark of one it opens."""
    if text[start:end].count("”") > text[start:end].count("“"):  # begins inside a quotation
        opening = text.rfind("“", max(0, start - MAX_QUOTE_EXTENSION), start)
        if opening >= 0:
            start = _sentence_start(text, opening)
    # Straight marks do not say which way they face: inside a quotation when an odd number of them
    # stand before the span in its paragraph.
    paragraph = max(text.rfind("\n", 0, start) + 1, start - MAX_QUOTE_EXTENSION)
    if text[paragraph:start].count('"') % 2:
        start = _sentence_start(text, text.rfind('"', paragraph, start))
    limit = min(len(text), end + MAX_QUOTE_EXTENSION)
    if _quote_open(text[start:end]):
        for close in ("”", '"'):
            at = text.find(close, end, limit)
            if at >= 0 and not _quote_open(text[start : at + 1]):
                return start, _sentence_end(text, at + 1, limit)
    return start, end


def quote_span(doc: Document, group: list[Sentence], wants_speech: bool) -> tuple[int, int]:
    """The group's span, extended so that a quotation is never cut off (`close_quotation`), and,
    for "what did X say" questions, over a quotation that directly follows the sentence
    introducing it ("... summed it up in an interview: “...”")."""
    text = doc.text
    start, end = close_quotation(text, group[0].start, group[-1].end)
    if end != group[-1].end:
        return start, end
    limit = min(len(text), end + MAX_QUOTE_EXTENSION)
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
