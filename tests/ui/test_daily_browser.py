"""A team's daily use on a phone (390 px wide) and a desktop (1280 px) in a real browser (Playwright
+ Debian's Chromium): the layout, the Quality page, deleting, the title box, empty lists, what a
reader sees, feedback, share links after a login, and a screenshot of each main view in
test-artifacts/screenshots/ (kept by CI; look at them after a layout change)."""

from __future__ import annotations

import re

import pytest

from tests.ui.app_server import app_server
from tests.ui.test_browser import ANSWER_TIMEOUT_MS, ARTIFACTS, ask, browser, expect, last_answer  # noqa: F401
from tests.ui.test_team_browser import USERS, add_accounts

pytestmark = pytest.mark.ui

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOTS = ARTIFACTS / "screenshots"

# Single words (a heading, a number, a date) laid out on more than one line: "D a t e", "1 0".
BROKEN_WORDS_JS = """(root) => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text || /\\s/.test(text) || !node.parentElement.closest("th, td")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (tops.size > 1) broken.push(text);
  }
  return broken;
}"""
# Whether the element at the centre of `element` is it (or inside it): nothing covers it.
UNCOVERED_JS = """(element) => {
  const r = element.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return hit !== null && (element === hit || element.contains(hit));
}"""
OVERLAP_JS = """(chat) => {
  const messages = chat.querySelector(".bubble-wrap").getBoundingClientRect();
  return [...chat.querySelectorAll("label[data-testid=block-label]")].some(label => {
    const r = label.getBoundingClientRect();
    return r.height > 0 && r.bottom > messages.top + 1 && r.top < messages.bottom;
  });
}"""


@pytest.fixture(scope="module")
def server(app_folders):
    corpus, index = app_folders()
    add_accounts(index)
    with app_server(corpus_dir=corpus, index_dir=index) as s:
        yield s


def log_in(browser, server, user: str, viewport: dict, path: str = "/"):  # noqa: F811
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(server.url + path, wait_until="load")
    page.locator("input[type=text]").fill(user)
    page.locator("input[type=password]").fill(USERS[user][0])
    page.get_by_role("button", name="Login").click()
    return context, page


def chat_ready(page):
    expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)
    expect(page.locator("#who")).to_contain_text("(")  # the page's load events have run
    page.wait_for_timeout(300)  # the sidebar's slide


def sidebar_open(page) -> bool:
    return "open" in (page.locator("#sidebar").get_attribute("class") or "")


def toggle_sidebar(page):
    page.locator("#sidebar .toggle-button").click()
    page.wait_for_timeout(400)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_the_layout_fits_a_phone_and_a_desktop(browser, server, viewport):  # noqa: F811
    context, page = log_in(browser, server, "boss", viewport)
    try:
        chat_ready(page)
        phone = viewport is PHONE
        # The sidebar starts closed on a phone (it would cover the page), open on a desktop.
        assert sidebar_open(page) is not phone
        question = page.locator("#question textarea")
        question.scroll_into_view_if_needed()
        assert question.evaluate(UNCOVERED_JS), "something covers the question box"
        ask(page, "Who led the Russian delegation?")
        page.locator("#chat .bubble-wrap").evaluate("e => { e.scrollTop = e.scrollHeight / 3; }")
        assert not page.locator("#chat").evaluate(OVERLAP_JS), "the chat's label covers the answer"
        if phone:  # choosing in the sidebar closes it again, to show the chat
            closed = re.compile(r"^(?!.*\bopen\b)")
            toggle_sidebar(page)
            page.get_by_role("button", name="New conversation").click()
            expect(page.locator("#sidebar")).to_have_class(closed)
            expect(page.locator('#chat [data-testid="bot"]')).to_have_count(0)
            toggle_sidebar(page)
            page.locator("#conversations label").first.click()
            expect(page.locator("#sidebar")).to_have_class(closed)
            expect(page.locator('#chat [data-testid="bot"]').first).to_be_visible(timeout=30_000)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

        page.get_by_role("tab", name="Corpus").click()
        table = page.locator("#corpus-table")
        expect(table.get_by_role("gridcell").first).to_be_visible()
        assert table.evaluate(BROKEN_WORDS_JS) == []
        page.get_by_role("tab", name="Quality").click()
        expect(page.locator("#slowest").get_by_role("gridcell").first).to_be_visible(timeout=30_000)
        assert page.locator("#slowest").evaluate(BROKEN_WORDS_JS) == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()


def quality_summary(page) -> str:
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("tab", name="Quality").click()  # no Refresh: opening the tab fills it
    summary = page.locator("#quality-summary")
    expect(summary).to_have_text(re.compile(r"^\s*Last \d+ days: \d+ questions"), timeout=30_000)  # loaded
    return summary.inner_text().strip()


def test_the_quality_page_is_filled_when_opened_and_keeps_counts_after_deletes(browser, server):  # noqa: F811
    (alice_ctx, alice), (boss_ctx, boss) = log_in(browser, server, "alice", DESKTOP), log_in(browser, server, "boss", DESKTOP)
    try:
        chat_ready(alice)
        chat_ready(boss)
        alice.get_by_role("button", name="New conversation").click()
        ask(alice, "What did Rubio say about Istanbul?")
        before = quality_summary(boss)
        asked = int(re.search(r"(\d+) questions", before).group(1))
        assert asked >= 1
        alice.get_by_text("This conversation").click()
        alice.get_by_role("button", name="Delete").click()
        alice.get_by_role("button", name="Yes, delete it").click()
        expect(alice.locator("#delete-report")).to_contain_text("Deleted", timeout=30_000)
        assert quality_summary(boss) == before
    finally:
        alice_ctx.close()
        boss_ctx.close()


def test_delete_asks_first_and_says_what_it_deleted_and_empty_lists_say_so(browser, server):  # noqa: F811
    context, page = log_in(browser, server, "bob", DESKTOP)
    try:
        chat_ready(page)
        conversations = page.locator("#conversations")
        expect(conversations).to_contain_text("No conversations yet")
        ask(page, "Who is Germany's chancellor?")
        expect(conversations.locator("label")).to_have_count(1, timeout=30_000)
        expect(conversations).not_to_contain_text("No conversations yet")
        page.get_by_text("This conversation").click()
        expect(page.locator("#title textarea, #title input").first).to_have_value("Who is Germany's chancellor?")
        search = page.locator("#search textarea, #search input").first
        search.fill("zebra stripes")
        expect(conversations).to_contain_text("No conversation matches “zebra stripes”", timeout=30_000)
        search.fill("")
        expect(conversations.locator("label")).to_have_count(1, timeout=30_000)

        page.get_by_role("button", name="Delete").click()
        expect(page.locator("#confirm-delete")).to_contain_text("Delete “Who is Germany's chancellor?” and its 1 answer?")
        page.get_by_role("button", name="Keep it").click()
        expect(page.locator("#confirm-delete")).to_be_hidden()
        expect(conversations.locator("label")).to_have_count(1)
        page.get_by_role("button", name="Delete").click()
        page.get_by_role("button", name="New conversation").click()  # the question goes with its conversation
        expect(page.locator("#confirm-delete")).to_be_hidden()
        conversations.locator("label").first.click()
        expect(page.locator("#title textarea, #title input").first).to_have_value("Who is Germany's chancellor?")
        page.get_by_role("button", name="Delete").click()
        page.get_by_role("button", name="Yes, delete it").click()
        expect(page.locator("#delete-report")).to_contain_text("Deleted “Who is Germany's chancellor?”", timeout=30_000)
        expect(conversations.locator("label")).to_have_count(0)
        expect(conversations).to_contain_text("No conversations yet")
    finally:
        context.close()


def test_a_reader_sees_no_buttons_that_would_refuse(browser, server):  # noqa: F811
    context, page = log_in(browser, server, "bob", DESKTOP)
    try:
        chat_ready(page)
        page.get_by_role("tab", name="Corpus").click()
        page.get_by_text("Add a link or feed").click()
        expect(page.locator("#web-report")).to_contain_text("needs an editor")
        expect(page.get_by_role("button", name="Add link or feed")).to_have_count(0)
        expect(page.get_by_role("button", name="Poll feeds now")).to_have_count(0)
        expect(page.locator("#feeds-table")).to_be_visible()
    finally:
        context.close()


def test_feedback_resets_for_each_answer_ids_are_unique_and_no_emoji_is_needed(browser, server):  # noqa: F811
    context, page = log_in(browser, server, "alice", DESKTOP)
    try:
        chat_ready(page)
        page.get_by_role("button", name="New conversation").click()
        ask(page, "Who led the Russian delegation?")
        page.locator("#chat").get_by_role("button", name="Like").last.click()
        expect(page.get_by_text("Thumbs up saved")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Send feedback").click()
        expect(page.locator("#feedback-sent")).to_contain_text("Thank you", timeout=30_000)
        ask(page, "What did he warn?")
        page.locator("#chat").get_by_role("button", name="Dislike").last.click()
        expect(page.get_by_text("Thumbs down saved")).to_be_visible(timeout=30_000)
        expect(page.locator("#feedback-sent")).not_to_contain_text("Thank you")
        duplicates = page.evaluate("""() => {
            const seen = {}; for (const e of document.querySelectorAll("[id]")) seen[e.id] = (seen[e.id] || 0) + 1;
            return Object.keys(seen).filter(id => id && seen[id] > 1);
        }""")
        assert duplicates == []
        # Debian's Chromium has no emoji font: an emoji would show as an empty box.
        text = page.locator("body").inner_text()
        assert not re.search("[\U0001F300-\U0001FAFF]", text), re.findall("[\U0001F300-\U0001FAFF]", text)
    finally:
        context.close()


def test_opened_sources_scroll_into_view(browser, server):  # noqa: F811
    context, page = log_in(browser, server, "alice", PHONE)  # a long answer on a narrow screen
    try:
        chat_ready(page)
        ask(page, "Who led the Russian delegation?")
        page.locator("#chat").get_by_text("Sources (").last.click()
        expect(page.locator("#chat blockquote").first).to_be_in_viewport(timeout=5_000)
    finally:
        context.close()


def share(page) -> str:
    page.locator("#share").get_by_text("Share an answer").click()
    page.get_by_role("button", name="Create a read-only link").click()
    link = page.locator("#link a")
    expect(link).to_be_visible(timeout=30_000)
    return link.get_attribute("href")


def test_a_share_link_opens_after_the_login_and_shows_bullets_as_a_list(browser, server):  # noqa: F811
    context, page = log_in(browser, server, "alice", DESKTOP)
    visitor = browser.new_context(viewport=DESKTOP)
    try:
        chat_ready(page)
        page.get_by_role("button", name="New conversation").click()
        ask(page, "Who led the Russian delegation?")
        url = share(page)
        shared = context.new_page()
        shared.goto(url, wait_until="load")
        answer = shared.locator("#answer")
        expect(answer.locator("li").first).to_be_visible()
        assert not re.search(r"(^|\n)\s*- ", answer.inner_text())

        # Logged out: the login brings the visitor back to the link.
        outsider = visitor.new_page()
        assert outsider.goto(url, wait_until="load").status == 401
        outsider.locator("#login").click()
        outsider.locator("input[type=text]").fill("bob")
        outsider.locator("input[type=password]").fill(USERS["bob"][0])
        outsider.get_by_role("button", name="Login").click()
        expect(outsider.locator("#question")).to_have_text("Who led the Russian delegation?", timeout=30_000)
        assert outsider.url == url

        # Only a path on this site: another site's address is not followed.
        for unsafe in ("//example.org/x", "https://example.org/x", "/\\example.org/x", "javascript:alert(1)"):
            outsider.goto(f"{server.url}/?next={unsafe}", wait_until="load")
            chat_ready(outsider)
            assert outsider.url.startswith(server.url + "/")
    finally:
        context.close()
        visitor.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_screenshots_of_the_main_views(browser, server, viewport):  # noqa: F811
    """test-artifacts/screenshots/<width>-<view>.png: login, chat with an answer, sources opened,
    sidebar, corpus, quality, shared page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]

    def shot(page, view: str):
        page.wait_for_timeout(400)  # animations
        page.screenshot(path=str(SHOTS / f"{width}-{view}.png"))

    context = browser.new_context(viewport=viewport)
    login = context.new_page()
    login.goto(server.url, wait_until="load")
    expect(login.get_by_role("button", name="Login")).to_be_visible(timeout=30_000)
    shot(login, "login")
    context.close()
    context, page = log_in(browser, server, "boss", viewport)
    try:
        chat_ready(page)
        if sidebar_open(page):
            toggle_sidebar(page)
        ask(page, "Who led the Russian delegation?")  # a fresh page: a new conversation
        shot(page, "chat")
        page.locator("#chat").get_by_text("Sources (").last.click()
        expect(page.locator("#chat blockquote").first).to_be_visible()
        shot(page, "sources")
        toggle_sidebar(page)
        shot(page, "sidebar")
        if width < 768:
            toggle_sidebar(page)
        page.get_by_role("tab", name="Corpus").click()
        expect(page.locator("#corpus-table").get_by_role("gridcell").first).to_be_visible()
        shot(page, "corpus")
        page.get_by_role("tab", name="Quality").click()
        expect(page.locator("#quality-summary")).to_contain_text("questions", timeout=30_000)
        expect(page.locator("#quality-plots img, #quality-plots svg, #quality-plots canvas").first).to_be_visible(timeout=30_000)
        shot(page, "quality")
        page.get_by_role("tab", name="Chat").click()
        url = share(page)
        shared = context.new_page()
        shared.goto(url, wait_until="load")
        shot(shared, "shared")
    finally:
        context.close()
    assert len(list(SHOTS.glob(f"{width}-*.png"))) >= 7
