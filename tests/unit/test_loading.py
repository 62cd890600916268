"""Each loader, the metadata sidecar, and bad input that must be skipped with a reason."""

import json
import os
from pathlib import Path

from rag.ingest.corpus import load_corpus
from tests.pdfs import text_pdf

BODY = (
    "The harbour authority approved a new ferry timetable on Monday after months of talks.\n\n"
    "“We listened to the islanders,” said the harbour master, Ines Varga. The first sailing leaves at six."
)


def load(folder: Path):
    documents, skipped, duplicates = load_corpus(folder)
    return {d.doc_id: d for d in documents}, {s.source: s.reason for s in skipped}, duplicates


def test_text_markdown_front_matter_and_sidecar(tmp_path):
    (tmp_path / "a.txt").write_text("Ferry Timetable Changes For The Islands\n\n" + BODY, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text(
        "---\ntitle: Island ferries\npublisher: Harbour Times\nauthor: J. Doe\npublished: 2025-05-01\n"
        "url: https://example.org/ferries\n---\n" + BODY.replace("Monday", "Tuesday"), encoding="utf-8")
    (tmp_path / "metadata.yaml").write_text("a.txt:\n  publisher: Coast Weekly\n  published: '2025-04-30'\n")
    docs, skipped, _ = load(tmp_path)
    assert skipped == {}
    a, b = docs["a"], docs["sub/b"]
    assert (a.title, a.publisher, a.published) == ("Ferry Timetable Changes For The Islands", "Coast Weekly", "2025-04-30")
    assert (b.title, b.publisher, b.author, b.url) == ("Island ferries", "Harbour Times", "J. Doe", "https://example.org/ferries")
    assert "title:" not in b.text and "Tuesday" in b.text


def test_front_matter_that_is_not_usable_yaml_is_text(tmp_path):
    # PyYAML raises ValueError, not a YAMLError, for a date that does not exist.
    (tmp_path / "a.md").write_text("---\npublished: 2025-02-30\n---\n" + BODY, encoding="utf-8")
    docs, skipped, _ = load(tmp_path)
    assert skipped == {} and "harbour master" in docs["a"].text and docs["a"].published is None


def test_html_uses_trafilatura_for_text_and_metadata(tmp_path):
    html = f"""<html><head><title>Ferry timetable | Harbour Times</title>
    <meta property="og:title" content="Ferry timetable changes">
    <meta property="og:site_name" content="Harbour Times">
    <meta name="author" content="Ines Varga"></head>
    <body><nav>Home | World | Sport</nav><article><h1>Ferry timetable changes</h1>
    {''.join(f'<p>{p}</p>' for p in BODY.split(chr(10)*2))}</article>
    <footer>Subscribe to our newsletter</footer></body></html>"""
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    docs, skipped, _ = load(tmp_path)
    doc = docs["page"]
    assert "harbour master" in doc.text and "Home | World" not in doc.text and "Subscribe" not in doc.text
    assert doc.title == "Ferry timetable changes"
    assert doc.publisher == "Harbour Times"


def test_a_short_html_article_keeps_its_headline_byline_and_paragraphs_apart(tmp_path):
    (tmp_path / "brief.html").write_text(
        "<html><head><title>Bridge timetable | Coastal Times</title></head><body><article>"
        "<h1>Engineers confirm the bridge timetable</h1><p class='byline'>By Tom Berg</p>"
        "<p>Engineers confirmed again that the harbour bridge will reopen in May.</p>"
        "<p>The work on the supports is on schedule, they said.</p></article></body></html>", encoding="utf-8")
    docs, skipped, _ = load(tmp_path)
    lines = docs["brief"].text.splitlines()
    assert "Engineers confirmed again that the harbour bridge will reopen in May." in lines
    assert not any("timetable By Tom" in line for line in lines)


def test_pdf_text_per_page(tmp_path):
    (tmp_path / "ferry.pdf").write_bytes(text_pdf("The ferry timetable changes on Monday for all islands.", title="Ferry timetable"))
    docs, skipped, _ = load(tmp_path)
    assert skipped == {}
    assert "ferry timetable changes on Monday" in docs["ferry"].text
    assert docs["ferry"].title == "Ferry timetable"


def test_jsonl_records_and_malformed_lines(tmp_path):
    lines = [
        json.dumps({"id": "n1", "title": "Ferries", "url": "https://example.org/1", "published": "2022/06/01", "text": BODY}),
        "{not json",
        json.dumps({"id": "n2", "title": "No text"}),
        json.dumps(["a", "list"]),
        json.dumps({"text": BODY.replace("ferry", "bus")}),
    ]
    (tmp_path / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs, skipped, _ = load(tmp_path)
    assert set(docs) == {"n1", "news-5"}
    assert docs["n1"].url == "https://example.org/1" and docs["n1"].published == "2022/06/01"
    assert {"news.jsonl:2", "news.jsonl:3", "news.jsonl:4"} == set(skipped)
    assert all("malformed JSONL" in reason for reason in skipped.values())


def test_bad_files_are_skipped_with_reasons_and_good_ones_still_load(tmp_path):
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (tmp_path / "latin1.txt").write_bytes(BODY.replace("“", '"').replace("”", '"').replace("Ines", "Inès").encode("cp1252"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    with open(tmp_path / "huge.txt", "wb") as handle:
        handle.truncate(21 * 1024 * 1024)
    os.symlink(tmp_path / "nowhere.txt", tmp_path / "dangling.txt")
    docs, skipped, _ = load(tmp_path)
    assert set(docs) == {"good", "latin1"}
    assert "Inès" in docs["latin1"].text
    assert skipped["empty.txt"] == "empty file"
    assert "binary" in skipped["binary.txt"]
    assert "PDF" in skipped["broken.pdf"]
    assert "unsupported" in skipped["image.png"]
    assert "too large" in skipped["huge.txt"]
    assert "unreadable" in skipped["dangling.txt"]


def test_identical_documents_are_kept_once(tmp_path):
    (tmp_path / "one.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "copy.txt").write_text(BODY, encoding="utf-8")
    docs, _, duplicates = load(tmp_path)
    assert len(docs) == 1
    assert len(duplicates) == 1 and "same text" in duplicates[0].reason


def test_shipped_corpus_metadata():
    docs, skipped, _ = load(Path(__file__).resolve().parents[2] / "corpus")
    assert len(docs) == 5 and skipped == {}
    assert all(d.title for d in docs.values())
    assert docs["wsj-diplomatic-defeat-for-putin"].author == "Bojan Pancevski and Alan Cullison"
    assert docs["post-alley-delay-and-distract"].publisher == "Post Alley"
