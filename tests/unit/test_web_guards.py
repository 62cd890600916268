"""Request checks of the web layer and upload admission, without a server or a model."""

from __future__ import annotations

import os

import pytest

from rag.config import Config
from rag.errors import ConfigError, RagError
from rag.types import Document, Skipped
from rag.ingest.uploads import admit, safe_name
from rag.web import guards


def test_question_history_and_top_k_are_type_checked():
    assert guards.question_text("Who?", 100) == "Who?"
    for bad, message in (
        ({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "must be text"),
        ("Who led \ud800 the delegation?", "not valid UTF-8"),  # JSON can carry a lone surrogate
        ("x" * 101, "the limit is 100"),
    ):
        with pytest.raises(RagError, match=message):
            guards.question_text(bad, 100)
    assert guards.history_pairs('[["q", "a"]]') == [("q", "a")]
    assert guards.history_pairs([["q", None]]) == [("q", "")]
    for bad in ("not json", [["q"]], [["q", {"path": "/etc/passwd"}]], {"q": "a"}):
        with pytest.raises(guards.BadRequest):
            guards.history_pairs(bad)
    assert guards.top_k(None, 5) == 5 and guards.top_k(3.0, 5) == 3 and guards.top_k("4", 5) == 4
    for bad in ("abc", -3, 0, 11, 2.5, [1], True, 10**400, "1" * 400, float("nan"), float("inf")):
        with pytest.raises(guards.BadRequest, match="top_k must be a whole number"):
            guards.top_k(bad, 5)


def test_only_files_recorded_as_uploads_are_accepted(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "abc").mkdir(parents=True)
    good = uploads / "abc" / "article.txt"
    good.write_text("text")
    copied = uploads / "def" / "passwd"  # in the upload folder, but copied there, not uploaded
    copied.parent.mkdir()
    copied.write_text("root:x:0:0")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    link = uploads / "abc" / "link.txt"
    link.symlink_to(outside)
    recorded = {str(good), str(link)}
    assert guards.uploaded_paths([str(good)], recorded.__contains__) == [good]
    messages = set()
    for bad in ([str(copied)], [str(outside)], [str(uploads / "abc" / ".." / ".." / "secret.txt")], [str(link)],
                [{"path": 1}], [str(uploads)], [str(good)] * 21):
        with pytest.raises(guards.BadRequest) as refused:
            guards.uploaded_paths(bad, recorded.__contains__)
        messages.add(str(refused.value))
    # One message whatever the reason, so a refusal tells nothing about the server's files.
    assert messages == {"Uploads must be files sent through the upload button.", "At most 20 files at a time."}


def test_login_throttle_waits_grow_after_free_attempts_and_success_clears_its_name():
    now = [1000.0]
    throttle = guards.LoginThrottle(free=3, name_free=5, window=60, max_wait=10, clock=lambda: now[0])
    for _ in range(3):
        wait, attempt = throttle.reserve("a", "alice")
        assert wait == 0 and attempt is not None
        throttle.finish(attempt, succeeded=False)
    wait, attempt = throttle.reserve("a", "bob")
    assert wait == pytest.approx(1.0) and attempt is None
    assert throttle.reserve("b", "carol")[0] == 0  # another address and name are not affected
    now[0] += 61  # outside the window: forgotten
    wait, attempt = throttle.reserve("a", "alice")
    assert wait == 0
    throttle.finish(attempt, succeeded=True)
    assert throttle.reserve("a", "alice")[0] == 0


def test_login_attempts_are_counted_before_they_are_checked():
    """Parallel guesses: reserved one after another, none finished yet; only `free` get through."""
    throttle = guards.LoginThrottle(free=5, name_free=10, clock=lambda: 1000.0)
    granted = [throttle.reserve("203.0.113.9", "boss")[1] for _ in range(60)]
    assert sum(a is not None for a in granted) == 10
    # Colleagues behind one address logging in at once are not held up by each other.
    assert all(throttle.reserve("203.0.113.9", f"user{n}")[1] for n in range(20))


def test_a_success_clears_only_its_own_names_record():
    """A reader logging in between guesses at the admin's password resets nothing about the admin."""
    now = [1000.0]
    throttle = guards.LoginThrottle(free=5, name_free=10, window=900, clock=lambda: now[0])
    checked = 0
    for round_ in range(40):
        now[0] += 1
        wait, attempt = throttle.reserve("203.0.113.9", "boss" if round_ % 4 else "reader")
        if attempt is None:
            continue
        checked += attempt.name == "boss"
        throttle.finish(attempt, succeeded=attempt.name == "reader")
    assert checked <= 10  # of 30 guesses (all 30 were checked when a success cleared the address)
    # Guesses at one name from many addresses are throttled by the name.
    spread = [throttle.reserve(f"198.51.100.{n}", "admin")[1] for n in range(30)]
    assert sum(a is not None for a in spread) == 10


def test_bad_settings_are_one_line_config_errors(monkeypatch):
    monkeypatch.setenv("RAG_TOP_K", "abc")
    with pytest.raises(ConfigError, match="RAG_TOP_K must be a whole number"):
        Config.from_env()
    monkeypatch.setenv("RAG_TOP_K", "0")
    with pytest.raises(ConfigError, match="RAG_TOP_K must be between 1 and 50"):
        Config.from_env()
    monkeypatch.delenv("RAG_TOP_K")
    monkeypatch.setenv("RAG_AUTH", "alice")
    with pytest.raises(ConfigError, match="user:password"):
        Config.from_env()
    monkeypatch.setenv("RAG_AUTH", "alice:pw")
    assert Config.from_env().web.auth_pair == ("alice", "pw")


def test_citation_urls_are_http_or_the_apps_own_links():
    from rag.answer.citations import passage_url

    def doc(url):
        return Document("d", "text", "T", "d.txt", "h", url=url)

    assert passage_url("http://app", doc("https://news.example/a"), 0, 4) == "https://news.example/a"
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//evil", "https:///nohost", " JavaScript:x"):
        assert passage_url("http://app", doc(bad), 0, 4) == "http://app/passage/d?start=0&end=4"


def fake_check(path):
    """Stands in for the real load-and-chunk check: a file whose text says BAD is rejected."""
    text = path.read_text(errors="replace")
    if "BAD" in text:
        return [], [Skipped(path.name, "broken")]
    return [Document(path.stem, text, path.stem, path.name, "h")], []


def test_upload_names_are_plain():
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name(".env.md") == "env.md"
    assert safe_name("a b<script>.HTML") == "a-b-script.html"
    assert safe_name("..\\..\\x.txt") == "x.txt"


def test_a_rejected_upload_changes_nothing_and_a_name_clash_keeps_both(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text("the original story")
    uploads = tmp_path / "up"
    uploads.mkdir()
    bad = uploads / "broken.txt"
    bad.write_text("BAD bytes")
    clash = uploads / "story.txt"
    clash.write_text("another story with the same name")
    same = tmp_path / "again" / "story.txt"
    same.parent.mkdir()
    same.write_text("the original story")
    fifo = uploads / "pipe.txt"
    os.mkfifo(fifo)
    exe = uploads / "tool.exe"
    exe.write_text("MZ")

    result = admit([bad, clash, same, fifo, exe], corpus, max_bytes=1000, check=fake_check)

    assert sorted(p.name for p in corpus.iterdir()) == ["story-2.txt", "story.txt"]  # no staging left over
    assert (corpus / "story.txt").read_text() == "the original story"
    assert (corpus / "story-2.txt").read_text() == "another story with the same name"
    assert [p.name for p in result.added] == ["story-2.txt"]
    assert any("kept both" in note and "story-2.txt" in note for note in result.notes)
    reasons = {s.source: s.reason for s in result.rejected}
    assert reasons["broken.txt"] == "broken"
    assert "already in the corpus" in reasons["story.txt"]
    assert reasons["pipe.txt"] == "not a regular file"
    assert "unsupported file type" in reasons["tool.exe"]


def test_an_oversized_upload_is_refused_before_it_is_read(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000)
    result = admit([big], corpus, max_bytes=1000, check=fake_check)
    assert not result.added and "larger than" in result.rejected[0].reason
    assert list(corpus.iterdir()) == []
