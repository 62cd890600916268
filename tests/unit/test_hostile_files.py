"""Hostile input the loaders and the chunker must survive quickly, with no index and no model:
alias bombs and pipes posing as the metadata sidecar, devices and folders, repeated passages,
pathological punctuation. The whole hostile corpus indexed for real is in
tests/integration/test_hostile_corpus.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rag.config import Config
from rag.ingest.chunking import Chunker
from rag.ingest.corpus import load_corpus
from rag.ingest.loading import BadFile, read_bytes
from rag.types import Document
from tests.integration.test_hostile_corpus import BILLION_LAUGHS, BODY, PASSAGE


def test_repeated_passages_get_unique_chunk_ids_and_true_offsets():
    text = "\n\n".join([PASSAGE] * 30 + ["A closing line that differs from the rest of it."] + [PASSAGE] * 5)
    doc = Document("repeated", text, "Repeated", "repeated.txt", "hash")
    chunks = Chunker(Config()).split(doc)
    assert len(chunks) > 5
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:]))
    assert all(text[c.start : c.end] == c.text for c in chunks)




@pytest.mark.timeout(60)
def test_splitter_is_linear_on_pathological_punctuation():
    # NLTK's sentence tokenizer took about 45 s on the first 80,000 characters of this.
    text = "It began with a shout. " + "?!)(" * 50_000
    doc = Document("punct", text, "Punct", "punct.txt", "hash")
    chunker = Chunker(Config())
    started = time.monotonic()
    chunks = chunker.split(doc)
    assert time.monotonic() - started < 20
    assert all(text[c.start : c.end] == c.text for c in chunks)




def test_alias_bomb_in_the_sidecar_is_ignored(tmp_path):
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "metadata.yaml").write_text(BILLION_LAUGHS + "\na.txt:\n  publisher: *i\n", encoding="utf-8")
    documents, skipped, _ = load_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["a"]
    assert [(s.source, s.reason) for s in skipped] == [("metadata.yaml", "ignored: YAML aliases are not allowed")]




def test_a_sidecar_that_is_a_named_pipe_is_ignored(tmp_path):
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    os.mkfifo(tmp_path / "metadata.yaml")
    documents, skipped, _ = load_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["a"]
    assert [(s.source, s.reason) for s in skipped] == [("metadata.yaml", "ignored: not a regular file (a named pipe)")]




def test_only_regular_files_are_read():
    with pytest.raises(BadFile, match="a device"):
        read_bytes(Path("/dev/zero"), Path("/dev"), 1024)
    with pytest.raises(BadFile, match="a folder"):
        read_bytes(Path("/etc"), Path("/"), 1024)




def test_a_pdf_of_many_near_empty_pages_is_refused_before_its_pages_are_read(tmp_path):
    from rag.ingest.loading import load_file
    from tests.pdfs import many_pages_pdf

    (tmp_path / "pages.pdf").write_bytes(many_pages_pdf(20_000))
    skipped = []
    assert load_file(tmp_path / "pages.pdf", tmp_path, {}, skipped, 50_000_000) == []
    assert [s.reason for s in skipped] == [f"too many pages for its size (20,000 pages in "
                                           f"{(tmp_path / 'pages.pdf').stat().st_size / 1024:,.0f} KB)"]
    # A real document of a few pages a kilobyte or so each still loads.
    (tmp_path / "report.pdf").write_bytes(many_pages_pdf(30, words="The harbour council met again on Monday"))
    assert load_file(tmp_path / "report.pdf", tmp_path, {}, [], 50_000_000)
