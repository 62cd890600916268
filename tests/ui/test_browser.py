"""The chat page in a real browser (Playwright + Debian's headless Chromium).

Needs /usr/bin/chromium (`apt-get install -y chromium`). Run: pytest tests/ui/test_browser.py -s
Screenshots go to test-artifacts/ at the repository root.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.ui.app_server import ROOT, XSS_TITLE, app_server

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
ANSWER_TIMEOUT_MS = 60_000

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect


@pytest.fixture(scope="module")
def server(app_folders):
    corpus, index = app_folders()
    with app_server(corpus_dir=corpus, index_dir=index) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def dialogs():
    return []


@pytest.fixture
def context(browser, dialogs):
    """A fresh browser context; every alert/confirm/prompt on any of its pages is recorded."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})

    def watch(page):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    ctx.on("page", watch)
    yield ctx
    ctx.close()


def open_chat(context, server):
    page = context.new_page()
    page.goto(server.url, wait_until="load")  # never "networkidle": Gradio keeps a stream open
    expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)
    return page


def sources_boxes(page):
    return page.locator("#chat").get_by_text("Sources (")


def ask(page, question: str, expect_sources: bool = True, refused: bool = False):
    """Type a question, press Enter, and wait until the answer (and its source box) is in; the
    box is then empty, or still holds a `refused` question, to be corrected."""
    before = sources_boxes(page).count()
    bots_before = page.locator('#chat [data-testid="bot"]').count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    if expect_sources:
        expect(sources_boxes(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    else:
        expect(page.locator('#chat [data-testid="bot"]')).not_to_have_count(bots_before, timeout=ANSWER_TIMEOUT_MS)
    expect(box).to_have_value(question if refused else "")


def last_answer(page):
    answers = page.locator('#chat [data-testid="bot"]').filter(has_not_text="Sources (")
    return answers.last


def test_ask_and_open_cited_passage(context, server, dialogs):
    page = open_chat(context, server)
    ask(page, "What did Rubio say about Istanbul?")
    since_start = time.perf_counter() - server.started
    print(f"\nfirst answer in the browser {since_start:.1f} s after `python app.py` started (index already built)")
    answer = last_answer(page)
    expect(answer).to_contain_text("Rubio")
    expect(answer.locator("a", has_text="[1]")).to_be_visible()

    sources_boxes(page).last.click()  # expand the collapsible source list
    chat = page.locator("#chat")
    expect(chat.get_by_role("link", name="open passage").first).to_be_visible()
    expect(chat.locator("blockquote").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answered.png"), full_page=True)

    with context.expect_page() as popup:  # links open in a new tab
        answer.locator("a", has_text="[1]").first.click()
    passage = popup.value
    passage.wait_for_load_state("load")
    assert "/passage/" in passage.url
    mark = passage.locator("mark#hl")
    expect(mark).to_be_visible()
    expect(mark).to_be_in_viewport()
    assert len(mark.inner_text().split()) >= 5

    with context.expect_page() as popup:
        chat.get_by_role("link", name="open passage").first.click()
    expect(popup.value.locator("mark#hl")).to_be_in_viewport()
    assert dialogs == []


def test_injected_html_renders_as_text(context, server, dialogs):
    page = open_chat(context, server)
    ask(page, "What do the rangers say about the zebra migration?")
    sources_boxes(page).last.click()
    chat = page.locator("#chat")
    expect(chat.get_by_text(XSS_TITLE).first).to_be_visible()  # the headline, tags and all, as text
    expect(chat.get_by_text("<script>", exact=False).first).to_be_visible()
    assert chat.locator("script, img[onerror], a[href^='javascript']").count() == 0
    # Bare addresses in a document are text: only the links the app makes are live.
    expect(chat.get_by_text("www.zebra-map.example.org", exact=False).first).to_be_visible()
    assert chat.locator("a[href*='zebra-map']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "injected-html.png"), full_page=True)

    with context.expect_page() as popup:
        chat.get_by_role("link", name="open passage").last.click()
    passage = popup.value
    passage.wait_for_load_state("load")
    expect(passage.get_by_text("<img src=x onerror=alert(2)>", exact=False)).to_be_visible()
    expect(passage.get_by_text("[click](javascript:alert(3))", exact=False)).to_be_visible()

    page.get_by_role("tab", name="Corpus").click()
    expect(page.get_by_role("gridcell", name=XSS_TITLE)).to_be_visible()
    expect(page.get_by_role("gridcell", name="<img src=x onerror=alert(4)>")).to_be_visible()
    page.wait_for_timeout(500)  # give any injected handler a chance to fire
    assert dialogs == [], f"a dialog opened: {dialogs}"


def test_follow_up_from_example_buttons_and_clear(context, server):
    page = open_chat(context, server)
    page.get_by_role("button", name="Who led the Russian delegation?").click()
    expect(sources_boxes(page)).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(last_answer(page)).to_contain_text("Medinsky")
    page.get_by_role("button", name="What did he warn?").click()
    expect(sources_boxes(page)).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    expect(last_answer(page)).to_contain_text("Medinsky")
    expect(last_answer(page)).to_contain_text("warning")
    page.get_by_role("button", name="Clear conversation").click()
    expect(page.locator('#chat [data-testid="bot"]')).to_have_count(0)


def test_declined_and_overlong_questions_show_messages(context, server):
    page = open_chat(context, server)
    ask(page, "What did Angela Merkel say about the ceasefire?", expect_sources=False)
    expect(last_answer(page)).to_contain_text("do not mention")
    expect(sources_boxes(page)).to_have_count(0)
    ask(page, "Why? " * 20_000, expect_sources=False, refused=True)  # 100 KB
    expect(last_answer(page)).to_contain_text("the limit is")
    ask(page, "Who led the Russian delegation?")  # and the chat still works
    expect(last_answer(page)).to_contain_text("Medinsky")


def test_settings_outlet_filter(context, server):
    page = open_chat(context, server)
    page.get_by_text("Settings").click()
    dropdown = page.get_by_label("Only this outlet")
    dropdown.click()
    page.get_by_role("option", name="The Wall Street Journal").click()
    ask(page, "Who led the Russian delegation?")
    sources_boxes(page).last.click()
    sources = page.locator('#chat [data-testid="bot"]').filter(has_text="open passage").last
    expect(sources).to_contain_text("The Wall Street Journal")
    expect(sources).not_to_contain_text("Post Alley")


def test_upload_bad_file_changes_nothing_then_good_file_is_added(context, server, tmp_path):
    page = open_chat(context, server)
    page.get_by_role("tab", name="Corpus").click()
    rows = page.locator("#corpus-table").get_by_role("row").filter(has=page.get_by_role("gridcell"))
    expect(rows.first).to_be_visible()
    count = rows.count()
    corpus_files = sorted(p.name for p in server.corpus_dir.iterdir())

    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a PDF \x00\x01\x02")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.locator("#upload input[type=file]").set_input_files([str(bad), str(empty)])
    page.get_by_role("button", name="Add to corpus").click()
    report = page.locator("#upload-report")
    expect(report).to_contain_text("Nothing was added", timeout=ANSWER_TIMEOUT_MS)
    expect(report).to_contain_text("broken.pdf: unreadable PDF")
    expect(report).to_contain_text("empty.txt: empty file")
    assert rows.count() == count
    assert sorted(p.name for p in server.corpus_dir.iterdir()) == corpus_files

    # Gradio itself refuses files over RAG_MAX_UPLOAD_BYTES (default 5 MB) and other types.
    big, exe = tmp_path / "big.txt", tmp_path / "tool.exe"
    big.write_text("Many words in a very large file. " * 200_000, encoding="utf-8")  # 6.6 MB
    exe.write_text("Some words in a file of a type that is not allowed.", encoding="utf-8")
    upload = page.locator("#upload input[type=file]")
    upload.set_input_files(str(big))
    expect(page.get_by_text("exceed the maximum allowed size", exact=False)).to_be_visible()
    upload.set_input_files(str(exe))
    expect(page.get_by_text("Invalid file type", exact=False)).to_be_visible()
    assert sorted(p.name for p in server.corpus_dir.iterdir()) == corpus_files

    good = tmp_path / "platypus-report.txt"
    good.write_text(
        "Platypus survey finds more animals\n\nA survey of the platypus population in Tasmania counted more "
        "animals than expected, the researchers said on Tuesday.\n", encoding="utf-8",
    )
    upload.set_input_files(str(good))
    page.get_by_role("button", name="Add to corpus").click()
    expect(report).to_contain_text("Added 1, updated 0", timeout=ANSWER_TIMEOUT_MS)
    expect(rows).to_have_count(count + 1)
    expect(page.get_by_role("gridcell", name="Platypus survey finds more animals")).to_be_visible()
    page.get_by_role("tab", name="Chat").click()
    ask(page, "How many platypus animals did the Tasmania survey count?")
    expect(last_answer(page)).to_contain_text("platypus")


def test_time_to_answer_with_index_already_built(browser, app_folders):
    """`python app.py` over an existing index: seconds until the page answers a question."""
    corpus, index = app_folders()  # a copy of an index built by `python -m rag index`
    with app_server(corpus_dir=corpus, index_dir=index) as s:
        ctx = browser.new_context()
        page = open_chat(ctx, s)
        ask(page, "What did Rubio say about Istanbul?")
        seconds = time.perf_counter() - s.started
        ctx.close()
    print(f"\nindex already built: {s.ready_seconds:.1f} s to /health, {seconds:.1f} s to the first answer in the browser")
    assert seconds < 60


def test_adding_a_link_needs_a_login(context, server):
    """Without a login nobody may fetch: the section says so instead of offering buttons that refuse."""
    page = open_chat(context, server)
    page.get_by_role("tab", name="Corpus").click()
    page.get_by_text("Add a link or feed").click()
    expect(page.locator("#web-report")).to_contain_text("Only a logged-in editor can add links and feeds")
    expect(page.get_by_role("button", name="Add link or feed")).to_have_count(0)
