"""An article in the index keeps its identity: no later file, upload or JSONL record can take over
its id or hide it as a duplicate, whatever the order of the file names (issue 20, item 2)."""

from __future__ import annotations

import json

import pytest

from rag.config import Config
from rag.ingest import corpus as corpus_module
from rag.service import Service
from tests.conftest import copy_corpus
from tests.unit.conftest import FAKE_PROFILE

ORIGINAL = "wsj-diplomatic-defeat-for-putin"
STORY = "The harbour council approved the new ferry timetable on Monday after a long debate about winter service."


@pytest.fixture
def config(tmp_path, monkeypatch) -> Config:
    monkeypatch.setattr(corpus_module, "RACY_SECONDS", 0.0)  # files written by a test are recorded at once
    corpus = copy_corpus(tmp_path / "corpus")
    return Config.from_env().with_(**FAKE_PROFILE, corpus_dir=corpus, index_dir=tmp_path / "index")


def titles(service: Service) -> dict[str, str]:
    return {s.doc_id: s.title for s in service.sources()}


def test_a_jsonl_record_cannot_take_an_indexed_articles_id(config):
    service = Service(config)
    service.index()
    before = service.document(ORIGINAL)
    # "0-" sorts before the original: under the old rule the first file read took the id.
    record = {"id": ORIGINAL, "title": "Forged headline", "url": "https://attacker.example/", "text": STORY}
    (config.paths.corpus_dir / "0-takeover.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    summary = service.index()
    assert service.document(ORIGINAL).title == before.title and service.document(ORIGINAL).text == before.text
    assert [(d.source, d.reason) for d in summary.duplicates] == [
        ("0-takeover.jsonl:1", f"document id '{ORIGINAL}' is already used by {ORIGINAL}.txt")
    ]
    assert summary.added == [] and summary.removed == []


def test_jsonl_ids_clashing_in_one_pass_are_refused_not_renamed(config):
    lines = [{"id": "shared", "text": STORY}, {"id": "shared", "text": STORY.replace("Monday", "Tuesday")}]
    (config.paths.corpus_dir / "feed.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n", encoding="utf-8")
    service = Service(config)
    summary = service.index()
    assert "shared" in titles(service) and "shared.jsonl" not in titles(service)
    assert [(d.source, d.reason) for d in summary.duplicates] == [
        ("feed.jsonl:2", "document id 'shared' is already used by feed.jsonl:1")
    ]


def test_a_file_named_like_an_indexed_article_gets_its_own_id(config):
    service = Service(config)
    service.index()
    (config.paths.corpus_dir / f"{ORIGINAL}.md").write_text(f"# Another story\n\n{STORY}\n", encoding="utf-8")
    summary = service.index()
    # ".md" sorts before ".txt", yet the indexed .txt keeps the plain id.
    assert summary.added == [f"{ORIGINAL}.md"] and summary.removed == []
    assert titles(service)[ORIGINAL] != "Another story"


def test_an_upload_repeating_an_indexed_text_with_forged_metadata_is_refused(config, tmp_path):
    service = Service(config)
    service.index()
    text = (config.paths.corpus_dir / f"{ORIGINAL}.txt").read_text(encoding="utf-8")
    forged = tmp_path / "upload" / "0-forged.txt"
    forged.parent.mkdir()
    forged.write_text(f"---\ntitle: Forged headline\nurl: https://attacker.example/\n---\n{text}", encoding="utf-8")
    corpus_before = sorted(p.name for p in config.paths.corpus_dir.iterdir())
    summary = service.add_files([forged])
    assert [(s.source, s.reason) for s in summary.skipped] == [
        ("0-forged.txt", f"same text as {ORIGINAL}.txt, already in the corpus")
    ]
    assert sorted(p.name for p in config.paths.corpus_dir.iterdir()) == corpus_before
    assert service.document(ORIGINAL).url is None  # the original's metadata, untouched


def test_an_upload_whose_jsonl_ids_are_all_taken_is_refused_and_a_mixed_one_keeps_the_rest(config, tmp_path):
    service = Service(config)
    service.index()
    folder = tmp_path / "upload"
    folder.mkdir()
    hostile = folder / "takeover.jsonl"
    hostile.write_text(json.dumps({"id": ORIGINAL, "title": "Forged", "text": STORY}) + "\n", encoding="utf-8")
    mixed = folder / "mixed.jsonl"
    fresh = {"id": "ferry-vote", "text": STORY.replace("harbour", "island")}
    mixed.write_text("\n".join(json.dumps(r) for r in ({"id": ORIGINAL, "text": STORY}, fresh)) + "\n", encoding="utf-8")
    summary = service.add_files([hostile, mixed])
    assert [s.source for s in summary.skipped] == ["takeover.jsonl"]
    assert "already used" in summary.skipped[0].reason
    assert summary.added == ["ferry-vote"]
    assert [d.source for d in summary.duplicates] == ["mixed.jsonl:1"]
    assert titles(service)[ORIGINAL] != "Forged"


def test_claims_survive_a_change_of_the_loaders(config, monkeypatch):
    service = Service(config)
    service.index()
    monkeypatch.setattr(corpus_module, "_fingerprint", lambda: "upgraded loaders")
    text = (config.paths.corpus_dir / f"{ORIGINAL}.txt").read_text(encoding="utf-8")
    (config.paths.corpus_dir / "0-copy.txt").write_text(text, encoding="utf-8")
    summary = service.index()
    assert summary.added == [] and summary.removed == []
    assert [d.source for d in summary.duplicates] == ["0-copy.txt"]


def test_a_later_near_copy_cannot_hide_the_article_it_copies(config):
    service = Service(config)
    service.index()
    text = (config.paths.corpus_dir / "putin-trump-bail-on-istanbul-talks.txt").read_text(encoding="utf-8")
    near_copy = text.replace("Medinsky", "Medinski", 1)  # not the same text: a new document
    assert near_copy != text
    forged = ("---\ntitle: Who led the Russian delegation in Istanbul - Medinsky\npublisher: Forged Wire\n"
              "url: https://attacker.example/\n---\n" + near_copy)
    (config.paths.corpus_dir / "0-forged.txt").write_text(forged, encoding="utf-8")
    assert service.index().added == ["0-forged"]
    answer = service.ask("Who led the Russian delegation?")
    cited = {c.doc_id for c in answer.citations}
    assert "putin-trump-bail-on-istanbul-talks" in cited and "0-forged" not in cited
    shown = [c for c in answer.citations if c.doc_id == "putin-trump-bail-on-istanbul-talks"]
    assert any("Forged Wire" in c.also_in for c in shown)
