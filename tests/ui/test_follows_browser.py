"""Following a question in a real browser (Chromium) against `python app.py`, with the news site on
127.0.0.1 (tests/fetching/newsserver.py) as its feed: the site publishes "the bridge will reopen in
May"; alice follows "When will the bridge reopen?" (`rag follow add`, before the app starts, so that
the app's first scheduled poll, 10 s after it starts, is the one that matters); the site publishes
"reopening delayed to September"; the poll fetches it; alice sees one unread update with both
answers and the new article's date, her private Atom feed holds the entry, and stops working when
she revokes it; she follows another question with the chat's Follow button; bob sees none of it.
(tests/fetching/test_follows.py covers unchanged polls, unrelated and repeating articles.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.fetching.bridge_stories import MAY, QUESTION, SEPTEMBER, publish
from tests.fetching.newsserver import NewsServer
from tests.ui.app_server import ROOT, app_server
from tests.ui.test_browser import ANSWER_TIMEOUT_MS, ARTIFACTS, ask, browser, expect, last_answer  # noqa: F401
from tests.ui.test_team_browser import add_accounts

pytestmark = pytest.mark.ui

USERS = {"alice": ("alice-password", "reader"), "bob": ("bob-password", "reader")}
# The app polls its feeds 10 s after it starts, then every RAG_FEED_INTERVAL minutes (1, the least).
ENV = {"RAG_FETCH_ALLOW_PRIVATE": "1", "RAG_FETCH_HOST_DELAY": "0", "RAG_FEED_INTERVAL": "1"}


def log_in(browser, server, user: str):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(server.url, wait_until="load")
    page.locator("input[type=text]").fill(user)
    page.locator("input[type=password]").fill(USERS[user][0])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)
    return page


def test_a_followed_question_shows_its_update_in_the_sidebar_and_the_feed(browser, app_folders):  # noqa: F811
    corpus, index = app_folders()
    add_accounts(index, USERS)
    with NewsServer() as site:
        site.feed_slugs = []
        publish(site, MAY)
        env = {**os.environ, **ENV, "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1"}

        def rag(*argv: str) -> None:
            done = subprocess.run([sys.executable, "-m", "rag", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, done.stderr

        rag("feeds", "add", site.url("/feed.xml"))
        rag("follow", "add", QUESTION, "--user", "alice")  # the command line's follow; the button's is below
        with app_server(env=ENV, corpus_dir=corpus, index_dir=index) as server:
            publish(site, SEPTEMBER)  # the app's first scheduled poll, 10 s after it started, fetches it
            alice = log_in(browser, server, "alice")
            followed = alice.locator("#followed label")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "1 new" not in (followed.first.text_content() or ""):
                time.sleep(2)
                alice.reload(wait_until="load")
                expect(alice.locator("#question textarea")).to_be_visible(timeout=30_000)
            expect(followed).to_have_text([f"{QUESTION} · 1 new"])

            followed.first.click()
            view = alice.locator("#follow-view")
            expect(view.locator(".follow-update")).to_have_count(1, timeout=30_000)
            expect(view.locator(".follow-answer.old")).to_contain_text("May")
            expect(view.locator(".follow-answer.new")).to_contain_text("September")
            expect(view.locator(".follow-article")).to_contain_text(SEPTEMBER.published)
            expect(view.locator(".follow-article")).to_contain_text("Valley Herald")
            expect(followed).to_have_text([QUESTION])  # seen: no longer unread
            ARTIFACTS.mkdir(exist_ok=True)
            alice.screenshot(path=str(ARTIFACTS / "follow-update.png"), full_page=True)

            alice.locator("#follow-feed").click()
            link = alice.locator("#follow-feed-link")
            expect(link).to_contain_text("/feeds/follows/", timeout=30_000)
            url = re.search(r"http://\S+/feeds/follows/[\w-]+", link.text_content()).group()
            feed = httpx.get(url, timeout=30)
            assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
            assert feed.text.count("<entry>") == 1 and "September" in feed.text and QUESTION in feed.text
            alice.locator("#revoke-feed").click()
            expect(link).to_contain_text("no longer works", timeout=30_000)
            assert httpx.get(url, timeout=30).status_code == 404

            ask(alice, "What will commuters use over the summer?")  # following from the chat
            alice.locator("#follow").click()
            expect(alice.locator("#follow-status")).to_contain_text("Following", timeout=ANSWER_TIMEOUT_MS)
            expect(followed).to_have_count(2)

            bob = log_in(browser, server, "bob")
            expect(bob.locator("#who")).to_contain_text("bob")
            expect(bob.locator("#followed label")).to_have_count(0)
