"""The Corpus tab's "Add a link or feed" in a real browser: a logged-in user adds a feed from a
news site on 127.0.0.1 (the report shows what it is doing meanwhile, and an address typed
meanwhile stays in the box), its articles are indexed and cited with their own links, then removes
the feed with its articles; without a login the section refuses (tests/ui/test_browser.py's app
has none)."""

from __future__ import annotations

import pytest

from tests.fetching.newsserver import NewsServer
from tests.ui.app_server import app_server
from tests.ui.test_browser import ANSWER_TIMEOUT_MS, ARTIFACTS, ask, browser, expect, last_answer  # noqa: F401

pytestmark = pytest.mark.ui


def test_a_logged_in_user_adds_a_feed_and_its_articles_answer(browser, app_folders):  # noqa: F811
    corpus, index = app_folders()
    env = {"RAG_AUTH": "alice:s3cret", "RAG_FETCH_ALLOW_PRIVATE": "1", "RAG_FETCH_HOST_DELAY": "0"}
    with NewsServer() as site, app_server(env=env, corpus_dir=corpus, index_dir=index) as server:
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.goto(server.url, wait_until="load")
        page.get_by_label("username").fill("alice")
        page.get_by_label("password").fill("s3cret")
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)

        page.get_by_role("tab", name="Corpus").click()
        page.get_by_text("Add a link or feed").click()
        address = page.locator("#web-url textarea, #web-url input").first
        address.fill(site.url("/"))  # the home page: feeds discovered
        page.get_by_label("Feed, sitemap or site").check()
        page.get_by_role("button", name="Add link or feed").click()
        report = page.locator("#web-report")
        expect(report).to_contain_text("⏳")  # what it is doing, while it fetches and indexes
        address.fill("https://next.example/feed")  # typed while it works: the end of the fetch keeps it
        expect(report).to_contain_text("Following Coastal Times", timeout=ANSWER_TIMEOUT_MS)
        expect(report).to_contain_text("Added 3, updated 0")
        expect(address).to_have_value("https://next.example/feed")
        expect(page.locator("#feeds-table")).to_contain_text(site.url("/feed.xml"))
        expect(page.get_by_role("gridcell", name="Riverton maritime museum reopens after flood")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "links-and-feeds.png"), full_page=True)

        page.get_by_role("tab", name="Chat").click()
        ask(page, "When did the Riverton maritime museum reopen after the flood?")
        expect(last_answer(page)).to_contain_text("The Riverton maritime museum reopened")
        page.locator("#chat").get_by_text("Sources (").last.click()
        original = page.locator(f'#chat a[href="{site.url("/articles/museum-reopens")}"]')  # "original article"
        expect(original.first).to_be_visible()

        page.get_by_role("tab", name="Corpus").click()  # the feed goes, by the address added, with its articles
        page.locator("#remove-feed-url textarea, #remove-feed-url input").first.fill(site.url("/"))
        page.get_by_label("also delete its articles").check()
        page.get_by_role("button", name="Remove feed").click()
        expect(report).to_contain_text("Deleted 3 articles", timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#feeds-table")).not_to_contain_text(site.url("/feed.xml"))
        expect(page.get_by_role("gridcell", name="Riverton maritime museum reopens after flood")).to_have_count(0)

        address.fill(site.url("/articles/museum-reopens"))  # one article by its link: then the box empties
        page.get_by_label("Article link").check()
        page.get_by_role("button", name="Add link or feed").click()
        expect(report).to_contain_text("Added 1", timeout=ANSWER_TIMEOUT_MS)
        expect(address).to_have_value("")
