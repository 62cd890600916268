"""`python -m rag add` and `python -m rag feeds add|list|poll|remove` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def rag(tmp_path, *args, allow_private: bool = True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env.update(RAG_EMBED_MODEL="fake:hashing", RAG_NER="none", RAG_CORPUS_DIR=str(tmp_path / "corpus"),
               RAG_INDEX_DIR=str(tmp_path / "index"), RAG_FETCH_HOST_DELAY="0", RAG_FETCH_DEADLINE="3")
    if allow_private:
        env["RAG_FETCH_ALLOW_PRIVATE"] = "1"
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def test_feeds_and_links_from_the_command_line(tmp_path, site):
    (tmp_path / "corpus").mkdir()
    refused = rag(tmp_path, "add", site.url("/articles/museum-reopens"), allow_private=False)
    assert refused.returncode == 0 and "0 added" in refused.stdout
    assert "is a loopback address (RAG_FETCH_ALLOW_PRIVATE=1 allows it)" in refused.stdout
    assert sum(site.hits.values()) == 0

    added = rag(tmp_path, "feeds", "add", site.url("/"))
    assert added.returncode == 0, added.stderr
    assert f"Following {site.url('/feed.xml')} (rss, Coastal Times)" in added.stdout
    assert "3 added, 0 updated, 0 unchanged, 0 skipped from 1 feeds" in added.stdout

    links = rag(tmp_path, "add", site.url("/articles/harbour-bridge-shut"), "file:///etc/passwd")
    assert "1 added" in links.stdout and "skipped: file:///etc/passwd: only http and https" in links.stdout

    listed = json.loads(rag(tmp_path, "feeds", "list", "--json").stdout)
    assert [(f["url"], f["articles"], f["new_articles"], f["last_error"]) for f in listed] == [
        (site.url("/feed.xml"), 3, 3, None)]

    polled = rag(tmp_path, "feeds", "poll")
    assert "0 added, 0 updated" in polled.stdout and "chunks embedded" not in polled.stdout

    removed = rag(tmp_path, "feeds", "remove", site.url("/feed.xml"), "--delete-articles")
    assert removed.returncode == 0 and "3 removed" in removed.stdout
    assert [p.name for p in (tmp_path / "corpus").rglob("*.md")] == [
        next(p.name for p in (tmp_path / "corpus").rglob("harbour-bridge-shut*"))]


def test_removing_what_a_user_added_removes_its_articles(tmp_path, site):
    (tmp_path / "corpus").mkdir()
    assert rag(tmp_path, "feeds", "add", site.url("/")).returncode == 0  # the home page: its RSS feed
    assert rag(tmp_path, "feeds", "add", site.url("/news-sitemap.xml")).returncode == 0  # the same three stories
    assert rag(tmp_path, "add", site.url("/articles/harbour-bridge-shut")).returncode == 0

    first = rag(tmp_path, "feeds", "remove", site.url("/"), "--delete-articles")  # the address added, not the feed's
    assert first.returncode == 0, first.stderr
    assert f"No longer following {site.url('/feed.xml')}" in first.stdout and "0 skipped" in first.stdout
    second = rag(tmp_path, "feeds", "remove", site.url("/news-sitemap.xml"), "--delete-articles")
    assert second.returncode == 0 and "3 removed" in second.stdout

    sources = json.loads(rag(tmp_path, "sources", "--json").stdout)
    assert [s["url"] for s in sources] == [site.url("/articles/harbour-bridge-shut")]
    removed = rag(tmp_path, "remove", sources[0]["doc_id"])
    assert removed.returncode == 0 and "1 removed" in removed.stdout, removed.stderr
    assert list((tmp_path / "corpus").rglob("*.md")) == []
    missing = rag(tmp_path, "remove", "https://example.org/never-added")
    assert missing.returncode == 1 and missing.stderr.startswith("error: No article https://example.org/never-added")
