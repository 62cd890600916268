"""The search query for a question in a conversation.

A follow-up ("what did he warn?", "why was it cut?") is searched together with the turn it refers
to: the earlier question and the names the earlier answer mentions. A question that stands alone
is searched as is, so no earlier turn's articles come into its sources: one that names its own
subject ("How much is the sea wall?", "Who is Tomas Rieder and what did he say?"), even when it
is short or holds a pronoun that points inside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rag.text import MARKER, PRONOUNS, names, normalize_word, terms, words

# Pronouns for people: "he" needs a person, which only a name before it in the question gives.
PERSONAL = frozenset({"he", "she", "they", "his", "her", "their", "them", "him"})


def refers_back(question: str) -> bool:
    """Whether `question` leans on an earlier turn: a pronoun with nothing in the question before
    it to stand for (a name for "he", a subject of two content words or a name for "it"; "it" as
    the last word always looks back), or no subject of its own at all (no name and under two
    content words: "What about the ferry?")."""
    tokens = words(question)
    subject = bool(names(question)) or len(set(terms(question))) >= 2
    if not subject:
        return True
    for i, token in enumerate(tokens):
        word = normalize_word(token)
        if word not in PRONOUNS:
            continue
        before = " ".join(tokens[:i])
        named = bool(names(before))
        if word in PERSONAL and not named:
            return True
        # "How did Putin respond to it?": a thing named last points out of the question.
        if word not in PERSONAL and (i == len(tokens) - 1 or not (named or len(set(terms(before))) >= 2)):
            return True
    return False


def retrieval_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    if not history or not refers_back(question):
        return question
    last_question, last_answer = history[-1]
    mentioned = Counter(names(MARKER.sub("", last_answer or "")))
    context = " ".join(name for name, _ in mentioned.most_common(3))
    return f"{question} {last_question} {context}".strip()
