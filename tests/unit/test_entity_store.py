"""Entities found when articles are indexed are read back at question time, by sentence text."""

import sqlite3

from rag.backends.entity_store import EntityStore, StoredEntities
from rag.backends.ner import Entity, ListedEntities
from rag.types import Document


class Counting(ListedEntities):
    """ListedEntities that records every text it is asked to read."""

    def __init__(self, listed):
        super().__init__(listed)
        self.read: list[str] = []

    def entities(self, texts):
        self.read += list(texts)
        return super().entities(texts)


ARTICLE = "Anna Berg met Tom Lund in Oslo. They spoke for an hour. Berg left for Bergen on Friday."


def _article(doc_id="a1", version="v1", text=ARTICLE):
    return Document(doc_id=doc_id, text=text, title="t", source="s", content_hash=version)


def test_sentences_read_when_indexed_are_not_read_again(tmp_path):
    inner = Counting({"Anna Berg": "PERSON", "Oslo": "GPE", "Bergen": "GPE"})
    stored = StoredEntities(inner, EntityStore(tmp_path / "entities.sqlite3", "model 1"))
    assert stored.read_ahead([_article()]) == 3
    assert len(inner.read) == 3
    first = "Anna Berg met Tom Lund in Oslo."
    got = stored.entities([first, "Berg left for Bergen on Friday."])
    assert got == [[Entity(0, 9, "PERSON"), Entity(26, 30, "GPE")], [Entity(14, 20, "GPE")]]
    assert len(inner.read) == 3  # all from the store
    assert stored.entities(["A new sentence in Oslo."]) == [[Entity(18, 22, "GPE")]]
    assert inner.read[-1] == "A new sentence in Oslo."  # what was never indexed goes to the model
    assert stored.read_ahead([_article()]) == 0  # nothing new: nothing read


def test_unread_articles_and_removed_ones(tmp_path):
    store = EntityStore(tmp_path / "entities.sqlite3", "model 1")
    stored = StoredEntities(Counting({}), store)
    stored.read_ahead([_article("a1"), _article("a2", text="Short one here.")])
    assert store.unread([("a1", "v1"), ("a2", "v1"), ("a3", "v1")]) == [("a3", "v1")]
    assert store.unread([("a1", "v2")]) == [("a1", "v2")]  # a new version is read again
    rows = sqlite3.connect(tmp_path / "entities.sqlite3").execute("SELECT doc_id FROM articles").fetchall()
    assert rows == []  # articles no longer in the index are forgotten
    text = sqlite3.connect(tmp_path / "entities.sqlite3").execute("SELECT * FROM entities").fetchall()
    assert not any("Anna" in str(row) for row in text)  # hashes and labels, never the text


def test_another_model_starts_empty(tmp_path):
    path = tmp_path / "entities.sqlite3"
    StoredEntities(Counting({"Oslo": "GPE"}), EntityStore(path, "model 1")).read_ahead([_article()])
    inner = Counting({"Oslo": "LOC"})
    again = StoredEntities(inner, EntityStore(path, "model 2"))
    assert again.entities(["Anna Berg met Tom Lund in Oslo."]) == [[Entity(26, 30, "LOC")]]
    assert inner.read == ["Anna Berg met Tom Lund in Oslo."]
    assert EntityStore(path, "model 2").unread([("a1", "v1")]) == [("a1", "v1")]


def test_a_question_never_creates_the_file_and_a_damaged_one_reads_as_empty(tmp_path):
    path = tmp_path / "entities.sqlite3"
    inner = Counting({"Oslo": "GPE"})
    assert StoredEntities(inner, EntityStore(path, "m")).entities(["We met in Oslo."]) == [[Entity(10, 14, "GPE")]]
    assert not path.exists()
    path.write_bytes(b"not a database" * 100)
    assert StoredEntities(inner, EntityStore(path, "m")).entities(["We met in Oslo."]) == [[Entity(10, 14, "GPE")]]


def test_an_article_the_model_cannot_read_does_not_stop_the_others(tmp_path):
    class Refusing(Counting):
        def entities(self, texts):
            if any("poison" in t for t in texts):
                raise ValueError("text too long")
            return super().entities(texts)

    inner = Refusing({"Oslo": "GPE"})
    store = EntityStore(tmp_path / "entities.sqlite3", "m")
    stored = StoredEntities(inner, store)
    read = stored.read_ahead([_article("bad", text="A poison sentence here."), _article("good", text="We met in Oslo today.")])
    assert read == 1 and inner.read == ["We met in Oslo today."]
    assert store.unread([("bad", "v1"), ("good", "v1")]) == []  # neither is tried again at every index


def test_a_sentence_longer_than_any_passage_is_not_read_when_indexed(tmp_path):
    inner = Counting({})
    stored = StoredEntities(inner, EntityStore(tmp_path / "entities.sqlite3", "m"))
    stored.read_ahead([_article(text="word " * 5000 + ". Then a short one.")])
    assert inner.read == ["Then a short one."]
