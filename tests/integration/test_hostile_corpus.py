"""Hostile files beside good articles: each is skipped with a reason (or read safely), the good
articles are still indexed, and the run ends in bounded time and memory."""

from __future__ import annotations

import codecs
import io
import json
import os
import shutil
import signal
import threading
import time
import zlib
from pathlib import Path

import pytest

from rag.config import Config
from rag.ingest.isolation import LoaderWorker, check_file
from rag.service import Service
from tests.pdfs import page_objects, pdf

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
ARTICLES = {
    "analysis-illusion-of-progress",
    "ft-putin-trump-peace-obstacle",
    "post-alley-delay-and-distract",
    "putin-trump-bail-on-istanbul-talks",
    "wsj-diplomatic-defeat-for-putin",
}

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
)

BODY = (
    "The harbour authority approved a new ferry timetable on Monday after months of talks.\n\n"
    "“We listened to the islanders,” said the harbour master, Ines Varga. The first sailing leaves at six."
)
PASSAGE = (
    "The council met again on Thursday to discuss the harbour budget. Members argued about the ferry "
    "subsidy for an hour, and the mayor promised a decision before the summer timetable is printed."
)


def aes_pdf() -> bytes:
    """AES-256 encryption (/V 5 /R 6), which pypdf cannot even open without `cryptography`."""
    hexes = {n: b"<" + os.urandom(n).hex().encode() + b">" for n in (16, 32, 48)}
    encrypt = (
        b"<< /Filter /Standard /V 5 /R 6 /Length 256 /P -4 /StmF /StdCF /StrF /StdCF "
        b"/CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >> >> "
        b"/O %s /U %s /OE %s /UE %s /Perms %s >>" % (hexes[48], hexes[48], hexes[32], hexes[32], hexes[16])
    )
    objects = page_objects(b"BT /F1 12 Tf 72 720 Td (Secret ferry plans) Tj ET") + [encrypt]
    return pdf(objects, b"/Encrypt 6 0 R /ID [%s %s]" % (hexes[16], hexes[16]))


def rc4_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    text = pdf(page_objects(b"BT /F1 12 Tf 72 720 Td (The ferry timetable changes on Monday for all islands.) Tj ET"))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_pdf() -> bytes:
    """80 KB that inflate to 80 MB, past pypdf's 75 MB limit."""
    compressor = zlib.compressobj(9)
    content = compressor.compress(b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET ")
    block = b" " * (1024 * 1024)
    content += b"".join(compressor.compress(block) for _ in range(80)) + compressor.flush()
    return pdf(page_objects(content, b"/Filter /FlateDecode"))


def build_hostile(corpus: Path) -> None:
    """Every kind of hostile file, beside the shipped articles."""
    (corpus / "bomb.md").write_text(f"---\n{BILLION_LAUGHS}\ntitle: *i\n---\n{BODY}\n", encoding="utf-8")
    (corpus / "aes.pdf").write_bytes(aes_pdf())
    (corpus / "password.pdf").write_bytes(rc4_pdf("secret"))
    (corpus / "owner-only.pdf").write_bytes(rc4_pdf(""))  # encrypted, but opens with the empty password
    (corpus / "zip-bomb.pdf").write_bytes(zip_bomb_pdf())
    (corpus / "random.pdf").write_bytes(os.urandom(4096).replace(b"%PDF", b"xxxx"))
    (corpus / "utf16-odd.txt").write_bytes(codecs.BOM_UTF16_LE + BODY.encode("utf-16-le") + b"\x00")
    (corpus / "utf32-bad.txt").write_bytes(codecs.BOM_UTF32_LE + b"\xff\xff\xff\x7f" * 50)
    (corpus / "utf32.txt").write_bytes(codecs.BOM_UTF32_LE + BODY.replace("Monday", "Friday").encode("utf-32-le"))
    (corpus / "nul.txt").write_bytes(BODY.encode() + b"\x00\x00" + BODY.encode())
    (corpus / "invalid-utf8.txt").write_bytes(bytes(range(0x80, 0x100)) * 40)
    (corpus / "controls.txt").write_bytes(bytes(range(1, 9)) * 200 + BODY.encode())
    sentence = "Talks resumed in the capital and the delegates said little about the ceasefire terms "
    (corpus / "huge.txt").write_text(sentence * (5_000_000 // len(sentence)), encoding="utf-8")
    (corpus / "repeated.txt").write_text("\n\n".join([PASSAGE] * 40), encoding="utf-8")
    os.mkfifo(corpus / "fifo.txt")
    (corpus / "folder.txt").mkdir()
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    os.symlink("/dev/zero", corpus / "zero.txt")  # endless; devices inside the corpus: test_only_regular_files_are_read
    os.symlink(corpus / "wsj-diplomatic-defeat-for-putin.txt", corpus / "zz-link.txt")  # sorts after its target
    lines = [
        "{not json",
        json.dumps({"id": "n-number", "text": 42}),
        json.dumps({"id": "n-list", "text": ["a", "list"]}),
        json.dumps({"id": "n-dict", "text": {"a": "dict"}}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"id": "n-good", "title": "Ferries \ud800", "text": BODY.replace("ferry", "bus") + " \ud800"}),
    ]
    (corpus / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")  # json escapes the lone surrogate


# What each hostile file's reason must mention.
EXPECTED = {
    "aes.pdf": "encrypted",
    "password.pdf": "encrypted PDF (needs a password)",
    "zip-bomb.pdf": "LimitReachedError",
    "random.pdf": "PDF",
    "utf16-odd.txt": "not valid UTF-16",
    "utf32-bad.txt": "not valid UTF-32",
    "nul.txt": "binary",
    "invalid-utf8.txt": "not a text file",
    "controls.txt": "control",
    "huge.txt": "too long",
    "fifo.txt": "named pipe",
    "passwd.txt": "outside the corpus folder",
    "zero.txt": "outside the corpus folder",
    "bad.jsonl:1": "malformed",
    "bad.jsonl:2": "'text' is not a string (int)",
    "bad.jsonl:3": "'text' is not a string (list)",
    "bad.jsonl:4": "'text' is not a string (dict)",
    "bad.jsonl:5": "nested too deeply",
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    corpus = Path(shutil.copytree(CORPUS, base / "corpus"))
    build_hostile(corpus)
    service = Service(Config.from_env().with_(corpus_dir=corpus, index_dir=base / "index"))
    started = time.monotonic()
    summary = service.index()
    return service, summary, time.monotonic() - started


@pytest.mark.timeout(240)
def test_hostile_files_are_skipped_with_reasons_and_good_ones_indexed(hostile_run):
    service, summary, seconds = hostile_run
    skipped = {s.source: s.reason for s in summary.skipped}
    for source, words in EXPECTED.items():
        assert words in skipped.get(source, ""), (source, skipped.get(source))
    assert set(skipped) == set(EXPECTED)
    assert all("\n" not in reason for reason in skipped.values())
    # Read safely rather than refused: the good text of these files is indexed.
    indexed = {s.doc_id: s for s in service.sources()}
    assert ARTICLES | {"bomb", "owner-only", "utf32", "repeated", "n-good"} == set(indexed)
    assert "Friday" in service.document("utf32").text
    assert "harbour master" in service.document("bomb").text and "lol" not in service.document("bomb").text
    # A lone surrogate (Chroma cannot store one) is dropped from text and title alike.
    assert "\ud800" not in service.document("n-good").text and indexed["n-good"].title == "Ferries "
    assert [d.source for d in summary.duplicates] == ["zz-link.txt"]  # a link inside the corpus is followed
    assert seconds < 120


def test_nothing_from_outside_the_corpus_is_indexed(hostile_run):
    service, _, _ = hostile_run
    texts = [service.document(s.doc_id).text for s in service.sources()]
    assert not any("root:x:0:0" in text for text in texts)


@pytest.mark.timeout(60)
def test_a_file_over_the_time_limit_is_stopped_and_the_next_one_loads(tmp_path):
    # Text with no whitespace goes to the splitter's character-by-character path: seconds, not one.
    (tmp_path / "slow.txt").write_text("It began with a shout. " + "x" * 1_900_000, encoding="utf-8")
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    started = time.monotonic()
    with LoaderWorker(Config().with_(load_timeout=1.0), chunk=True) as worker:
        slow_docs, slow_skipped = worker.load(tmp_path / "slow.txt", tmp_path, {}, 20 * 1024 * 1024)
        good_docs, good_skipped = worker.load(tmp_path / "good.txt", tmp_path, {}, 20 * 1024 * 1024)
    assert slow_docs == []
    assert [s.reason for s in slow_skipped] == ["took longer than 1 s to load (RAG_LOAD_TIMEOUT); stopped"]
    assert [d.doc_id for d in good_docs] == ["good"] and good_skipped == []
    assert time.monotonic() - started < 30


@pytest.mark.timeout(60)
def test_a_jsonl_file_has_a_limit_in_all_and_keeps_what_it_loaded_in_time(tmp_path):
    # Each record takes a tenth of a second or so to chunk, all of them several seconds; under 1 MB,
    # the file as a whole gets the time of one record.
    records = [{"id": f"r{i}", "text": f"Record {i} begins here. " + "y" * 30_000} for i in range(30)]
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    with LoaderWorker(Config().with_(load_timeout=2.0), chunk=True) as worker:
        documents, skipped = worker.load(tmp_path / "many.jsonl", tmp_path, {}, 20 * 1024 * 1024)
    assert 0 < len(documents) < 30
    assert [s.reason for s in skipped] == ["took longer than 2 s in all to load (RAG_LOAD_TIMEOUT per MB); stopped"]


@pytest.mark.timeout(60)
def test_a_file_over_the_memory_limit_is_skipped(tmp_path):
    (tmp_path / "big.txt").write_text((BODY + "\n\n") * 60_000, encoding="utf-8")  # 15 MB
    documents, skipped = check_file(tmp_path / "big.txt", Config().with_(load_memory_mb=8))
    assert documents == []
    assert [s.reason for s in skipped] == ["needs more than 8 MB of memory to load (RAG_LOAD_MEMORY_MB)"]


def our_workers() -> list[int]:
    """This process's loader workers (other test runs may have their own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"rag.ingest.isolation" in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.timeout(60)
def test_a_crashed_worker_is_reported_and_replaced(tmp_path):
    (tmp_path / "slow.txt").write_text("It began with a shout. " + "x" * 1_900_000, encoding="utf-8")
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")

    def crash_the_worker():
        time.sleep(0.5)
        for pid in our_workers():
            os.kill(pid, signal.SIGSEGV)

    with LoaderWorker(Config().with_(load_timeout=30.0), chunk=True) as worker:
        worker.load(tmp_path / "good.txt", tmp_path, {}, 20 * 1024 * 1024)  # started and warm
        threading.Thread(target=crash_the_worker).start()
        _, skipped = worker.load(tmp_path / "slow.txt", tmp_path, {}, 20 * 1024 * 1024)
        documents, _ = worker.load(tmp_path / "good.txt", tmp_path, {}, 20 * 1024 * 1024)
    assert [s.reason for s in skipped] == ["the loader process died (SIGSEGV) reading it"]
    assert [d.doc_id for d in documents] == ["good"]


def test_check_file_loads_and_chunks_one_upload(tmp_path):
    (tmp_path / "story.txt").write_text(BODY, encoding="utf-8")
    os.symlink("/etc/passwd", tmp_path / "passwd.txt")
    documents, skipped = check_file(tmp_path / "story.txt", Config())
    assert [d.doc_id for d in documents] == ["story"] and skipped == []
    documents, skipped = check_file(tmp_path / "passwd.txt", Config())
    assert documents == [] and "outside" in skipped[0].reason
