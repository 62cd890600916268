"""The search query for a question in a conversation.

A follow-up ("what did he warn?") is searched together with the turn it refers to: the earlier
question and the names the earlier answer mentions. A self-contained question is searched as is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rag.text import MARKER, PRONOUNS, names, words


def retrieval_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    if not history:
        return question
    tokens = [w.lower() for w in words(question)]
    refers_back = any(t in PRONOUNS for t in tokens) or (len(tokens) <= 6 and not names(question))
    if not refers_back:
        return question
    last_question, last_answer = history[-1]
    mentioned = Counter(names(MARKER.sub("", last_answer or "")))
    context = " ".join(name for name, _ in mentioned.most_common(3))
    return f"{question} {last_question} {context}".strip()
