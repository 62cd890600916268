"""Logging out in Chromium (issue 28 item 3, issue 30 item 2): the link logs out in the same tab;
afterwards any action in another tab that was open leads to the login page, not to red "Error"
badges; and a page on another site cannot log anyone out, by link, image or form.

The app is reached as news.test and the other site as evil.test (both mapped to loopback).
"""

from __future__ import annotations

import http.server
import os
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from tests.ui.app_server import app_server, free_port  # noqa: E402
from tests.ui.test_browser import CHROMIUM_ARGS, expect  # noqa: E402 - skips without Chromium
from tests.ui.test_team_browser import add_accounts  # noqa: E402

pytestmark = pytest.mark.ui

USERS = {"alice": ("alice-password", "editor")}


@pytest.fixture(scope="module")
def sites(app_folders):
    """(the app's URL as news.test, the other site's URL as evil.test)."""
    corpus, index = app_folders()
    add_accounts(index, USERS)
    evil_port = free_port()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            target = f"http://news.test:{app.port}/logout"
            body = (f'<!doctype html><title>evil</title><img src="{target}"><iframe src="{target}"></iframe>'
                    f'<form id="f" method="post" action="{target}"></form>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with app_server(env={"RAG_AUTH": "admin:admin-password"}, corpus_dir=corpus, index_dir=index) as app:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", evil_port), Evil)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://news.test:{app.port}", f"http://evil.test:{evil_port}"
        server.shutdown()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP news.test 127.0.0.1, MAP evil.test 127.0.0.1"],
        )
        yield browser
        browser.close()


def logged_in(chromium, app_url):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.locator("input[type=text]").fill("alice")
    page.locator("input[type=password]").fill(USERS["alice"][0])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#who")).to_contain_text("alice", timeout=30_000)
    return context, page


def login_form(page):
    return page.locator("input[type=password]")


def test_another_site_cannot_log_a_user_out(chromium, sites):
    app_url, evil_url = sites
    context, page = logged_in(chromium, app_url)
    try:
        evil = context.new_page()
        evil.goto(evil_url, wait_until="load")
        with evil.expect_navigation(wait_until="load"):
            evil.evaluate("document.getElementById('f').submit()")
        assert "Requests from other sites are refused" in evil.content()
        evil.close()
        page.reload(wait_until="load")
        expect(page.locator("#who")).to_contain_text("alice", timeout=30_000)  # still logged in
        expect(login_form(page)).to_have_count(0)
    finally:
        context.close()


def test_log_out_in_the_same_tab_and_old_tabs_go_to_the_login_page(chromium, sites):
    app_url, _ = sites
    context, page = logged_in(chromium, app_url)
    try:
        other = context.new_page()  # a second tab, open before the logout
        other.goto(app_url, wait_until="load")
        expect(other.locator("#question textarea")).to_be_visible(timeout=30_000)

        page.locator("#who").get_by_text("Log out").click()
        expect(login_form(page)).to_be_visible(timeout=30_000)  # this tab shows the login page
        assert len(context.pages) == 2  # and no new tab was opened
        assert not any(c["name"].startswith("access-token") for c in context.cookies())

        box = other.locator("#question textarea")
        try:  # unless one of its own requests already took it to the login page
            box.fill("Who led the Russian delegation?", timeout=5_000)
            box.press("Enter", timeout=5_000)
        except PlaywrightTimeout:
            pass
        expect(login_form(other)).to_be_visible(timeout=30_000)  # the old tab goes to the login page
        expect(other.get_by_text("Error", exact=True)).to_have_count(0)
    finally:
        context.close()
