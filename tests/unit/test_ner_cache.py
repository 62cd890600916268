"""The entity recognizer reads each sentence once: a sentence seen again comes from its cache."""

from types import SimpleNamespace

from rag.backends import ner
from rag.backends.ner import Entity, SpacyEntities


class CountingPipeline:
    """Stands in for spaCy: every capitalised word is a PERSON; counts the texts it reads."""

    def __init__(self):
        self.read = []

    def pipe(self, texts):
        for text in texts:
            self.read.append(text)
            ents, at = [], 0
            for word in text.split():
                at = text.index(word, at)
                if word[0].isupper():
                    ents.append(SimpleNamespace(start_char=at, end_char=at + len(word), label_="PERSON"))
                at += len(word)
            yield SimpleNamespace(ents=ents)


def test_a_sentence_is_read_once_and_the_cache_is_bounded(monkeypatch):
    recognizer = SpacyEntities()
    recognizer._nlp = pipeline = CountingPipeline()
    first = recognizer.entities(["met Anna today", "saw Tom", "met Anna today"])
    assert first[0] == first[2] == [Entity(4, 8, "PERSON")] and first[1] == [Entity(4, 7, "PERSON")]
    assert pipeline.read == ["met Anna today", "saw Tom"]
    assert recognizer.entities(["saw Tom", "hi Bo"]) == [[Entity(4, 7, "PERSON")], [Entity(3, 5, "PERSON")]]
    assert pipeline.read == ["met Anna today", "saw Tom", "hi Bo"]
    monkeypatch.setattr(ner, "CACHED_SENTENCES", 2)
    recognizer.entities(["new one"])
    assert len(recognizer._cache) == 2 and "met Anna today" not in recognizer._cache  # the least recently used goes
