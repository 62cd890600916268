"""Generated answers: the prompt an LLM reads, and the check of what it wrote.

The model sees numbered sources built from the retrieved passages (as many as fit the token budget)
and the prompts in prompts/. Its answer is then checked: repetition from looping models removed,
markers that point at no source removed and reported, sources renumbered in citation order, and
each citation pinned to the sentences of its source that back the claim.
"""

from __future__ import annotations

from collections.abc import Mapping

from rag.answer.citations import check_markers, claims_citing, collapse_repetition, make_citation, supporting_span
from rag.answer.support import decline_text
from rag.config import PROMPTS_DIR
from rag.ingest.chunking import count_tokens
from rag.retrieval.stats import CorpusStats
from rag.types import Answer, Document, Passage

DECLINE_PHRASES = ("the sources do not say", "sources do not contain", "cannot answer", "not mentioned in the sources")


def load_prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")


def build_context(passages: list[Passage], budget_tokens: int) -> list[Passage]:
    """As many of the passages (best first) as fit in the token budget; always at least one."""
    kept, used = [], 0
    for passage in passages:
        cost = count_tokens(passage.text) + 20
        if kept and used + cost > budget_tokens:
            break
        kept.append(passage)
        used += cost
    return kept


def format_sources(passages: list[Passage]) -> str:
    template = load_prompt("source")
    parts = []
    for number, p in enumerate(passages, 1):
        byline = ", ".join(x for x in (p.publisher, p.published) if x)
        parts.append(template.format(number=number, title=p.title, byline=f" ({byline})" if byline else "", text=p.text).strip())
    return "\n\n".join(parts)


def messages(question: str, passages: list[Passage], history: list[tuple[str, str]]) -> list[dict]:
    out = [{"role": "system", "content": load_prompt("system")}]
    for user, assistant in history[-3:]:
        out.append({"role": "user", "content": user})
        out.append({"role": "assistant", "content": assistant})
    out.append({"role": "user", "content": load_prompt("question").format(sources=format_sources(passages), question=question)})
    return out


def is_decline(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in DECLINE_PHRASES)


def checked_answer(
    question: str, raw: str, context: list[Passage], documents: Mapping[str, Document], stats: CorpusStats,
    app_url: str, mode: str,
) -> Answer:
    """Repair a generated answer: drop repetition and invalid markers, renumber, attach quotes."""
    checked = check_markers(collapse_repetition(raw), len(context))
    if not checked.used:
        if is_decline(checked.text) or not checked.text.strip():
            return Answer(question, decline_text([]), [], False, mode)
        return Answer(
            question, checked.text, [], True, mode,
            notice="Unsupported: the answer cites none of the sources it was given; check it against the articles.",
            supported=False, removed_markers=checked.removed,
        )
    citations = []
    for new, old in enumerate(checked.used, 1):
        p = context[old - 1]
        start, end = supporting_span(claims_citing(checked.text, new), p, stats.idf)
        citations.append(make_citation(new, documents[p.doc_id], start, end, app_url, p.chunk_id))
    notice = None
    if checked.removed:
        notice = f"Removed citation markers that point at no source: {', '.join(checked.removed)}."
    return Answer(question, checked.text, citations, True, mode, notice=notice, removed_markers=checked.removed)
