"""Accounts, saved conversations, permalinks and feedback in a real browser (Playwright + Debian's
Chromium), against `python app.py` with three accounts in its team database (SQLite in the index
folder): alice (editor), bob (reader) and boss (admin)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest

from rag.evals.gold import load_gold
from rag.team.accounts import Accounts
from rag.team.conversations import Conversations
from rag.team.db import open_url
from rag.team.sessions import CACHE_SECONDS
from tests.ui.app_server import ROOT, app_server
from tests.ui.test_browser import ask, browser, expect, last_answer  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.ui

USERS = {"alice": ("alice-password", "editor"), "bob": ("bob-password", "reader"), "boss": ("boss-password", "admin")}
LOAD_USERS = {f"user{n:02d}": (f"password-{n:02d}", "reader") for n in range(20)}


def add_accounts(index_dir, users=USERS) -> None:
    database = open_url(f"sqlite:///{index_dir / 'team.sqlite3'}")
    accounts = Accounts(database)
    for name, (password, role) in users.items():
        accounts.add(name, password, role)
    database.close()


@pytest.fixture(scope="module")
def server(app_folders):
    corpus, index = app_folders()
    add_accounts(index, USERS | LOAD_USERS)
    with app_server(corpus_dir=corpus, index_dir=index) as s:
        yield s


def log_in(browser, server, user: str):
    """A new browser context logged in as `user`, and its chat page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(server.url, wait_until="load")
    page.locator("input[type=text]").fill(user)
    page.locator("input[type=password]").fill(USERS[user][0])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)
    expect(page.locator("#who")).to_contain_text(user)
    return context, page


def sidebar(page):
    return page.locator("#conversations label")


def test_two_users_at_once_each_see_only_their_own_conversations(browser, server):
    (alice_ctx, alice), (bob_ctx, bob) = log_in(browser, server, "alice"), log_in(browser, server, "bob")
    try:
        # Both ask at the same time; each answer lands in its asker's own conversation.
        alice.locator("#question textarea").fill("Who led the Russian delegation?")
        bob.locator("#question textarea").fill("What did Rubio say about Istanbul?")
        alice.locator("#question textarea").press("Enter")
        bob.locator("#question textarea").press("Enter")
        for page, title in ((alice, "Who led the Russian delegation?"), (bob, "What did Rubio say about Istanbul?")):
            expect(sidebar(page)).to_have_text([title], timeout=60_000)
        ask(alice, "What did he warn?")  # a follow-up stays in the same conversation
        expect(sidebar(alice)).to_have_count(1)

        # A reload (a new session) lists the saved conversations; opening one resumes it.
        alice.reload(wait_until="load")
        expect(sidebar(alice)).to_have_text(["Who led the Russian delegation?"], timeout=30_000)
        sidebar(alice).first.click()
        expect(alice.locator('#chat [data-testid="user"]')).to_have_count(2, timeout=30_000)
        ask(alice, "Which outlet reported it?")  # asked with the resumed conversation as context
        expect(alice.locator('#chat [data-testid="user"]')).to_have_count(3)
        expect(sidebar(alice)).to_have_count(1)
        bob.reload(wait_until="load")
        expect(sidebar(bob)).to_have_text(["What did Rubio say about Istanbul?"], timeout=30_000)

        # Search (titles, questions, answers), rename and delete act on the user's own list.
        search = alice.locator("#search textarea, #search input").first
        search.fill("zebra stripes")
        expect(sidebar(alice)).to_have_count(0, timeout=30_000)
        search.fill("WHAT DID HE WARN")
        expect(sidebar(alice)).to_have_count(1, timeout=30_000)
        search.fill("")
        alice.get_by_text("This conversation").click()
        alice.locator("#title textarea, #title input").first.fill("Istanbul delegation")
        alice.get_by_role("button", name="Rename").click()
        expect(sidebar(alice)).to_have_text(["Istanbul delegation"], timeout=30_000)
        alice.get_by_role("button", name="Delete").click()
        alice.get_by_role("button", name="Yes, delete it").click()
        expect(sidebar(alice)).to_have_count(0, timeout=30_000)
        bob.reload(wait_until="load")
        expect(sidebar(bob)).to_have_text(["What did Rubio say about Istanbul?"], timeout=30_000)
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_a_permalink_opens_for_logged_in_users_only_and_stops_when_revoked(browser, server):
    (alice_ctx, alice), (bob_ctx, bob) = log_in(browser, server, "alice"), log_in(browser, server, "bob")
    stranger = browser.new_context()
    try:
        alice.get_by_role("button", name="New conversation").click()
        ask(alice, "Who is Germany's chancellor?")
        alice.locator("#share").get_by_text("Share an answer").click()
        alice.get_by_role("button", name="Create a read-only link").click()
        link = alice.locator("#link a")
        expect(link).to_be_visible(timeout=30_000)
        url = link.get_attribute("href")
        assert "/shared/" in url

        shared = bob.context.new_page()
        shared.goto(url, wait_until="load")
        expect(shared.locator("#question")).to_have_text("Who is Germany's chancellor?")
        expect(shared.locator("#answer")).to_contain_text("Merz")
        expect(shared.locator("#sources blockquote").first).to_be_visible()
        expect(shared.get_by_text("Shared by alice")).to_be_visible()

        outsider = stranger.new_page()
        response = outsider.goto(url, wait_until="load")
        assert response.status == 401
        expect(outsider.locator("body")).not_to_contain_text("Merz")

        alice.get_by_role("button", name="Revoke link").click()
        expect(alice.locator("#link")).to_contain_text("no longer opens", timeout=30_000)
        response = shared.goto(url, wait_until="load")
        assert response.status == 404
        expect(shared.locator("body")).not_to_contain_text("Merz")
    finally:
        for context in (alice_ctx, bob_ctx, stranger):
            context.close()


def test_a_thumbs_down_with_a_correction_becomes_a_gold_item(browser, server, tmp_path):
    context, page = log_in(browser, server, "alice")
    try:
        page.get_by_role("button", name="New conversation").click()
        ask(page, "Which think tank does Sinan Ulgen direct?")
        expect(last_answer(page)).to_be_visible()
        page.locator("#chat").get_by_role("button", name="Dislike").last.click()
        expect(page.get_by_text("Thumbs down saved")).to_be_visible(timeout=30_000)
        page.locator("#feedback-comment textarea").fill("Too long")
        page.locator("#feedback-correction textarea").fill("Sinan Ulgen directs EDAM, the Istanbul think tank.")
        page.get_by_role("button", name="Send feedback").click()
        expect(page.locator("#feedback-sent")).to_contain_text("Thank you", timeout=30_000)
    finally:
        context.close()
    target = tmp_path / "from-feedback.yaml"
    env = {"RAG_INDEX_DIR": str(server.index_dir), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "rag", "eval", "--from-feedback", str(target), "--rating", "down"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    (item,) = [i for i in load_gold(target) if i.question == "Which think tank does Sinan Ulgen direct?"]
    assert [r"\bedam\b"] in item.facts and [r"\bistanbul\b"] in item.facts
    assert "Too long" in item.note


def test_a_reader_cannot_upload_and_only_an_admin_manages_accounts(browser, server):
    reader_ctx, reader = log_in(browser, server, "bob")
    admin_ctx, admin = log_in(browser, server, "boss")
    try:
        reader.get_by_role("tab", name="Corpus").click()
        expect(reader.locator("#corpus-table")).to_be_visible()
        expect(reader.locator("#upload")).to_be_hidden()
        expect(reader.get_by_role("tab", name="Users")).to_have_count(0)
        expect(reader.get_by_role("tab", name="Quality")).to_have_count(0)

        admin.get_by_role("tab", name="Quality").click()
        admin.get_by_role("button", name="Refresh").click()
        expect(admin.locator("#quality-summary")).to_contain_text("questions", timeout=30_000)
        admin.get_by_role("tab", name="Users").click()
        expect(admin.locator("#users-table")).to_contain_text("alice")
    finally:
        reader_ctx.close()
        admin_ctx.close()


def logged_in_client(server, user: str) -> httpx.Client:
    web = httpx.Client(base_url=server.url, timeout=120)
    assert web.post("/login", data={"username": user, "password": USERS[user][0]}).status_code == 200
    return web


def run_event(web: httpx.Client, dep: dict, data: list) -> str:
    """One queue request as the browser's client sends it (so hidden buttons are no protection)."""
    import uuid

    session = uuid.uuid4().hex[:12]
    body = {"fn_index": dep["id"], "data": data, "session_hash": session, "event_data": None,
            "trigger_id": dep["targets"][0][0]}
    assert web.post("/gradio_api/queue/join", json=body).status_code == 200
    with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as r:
        return "".join(r.iter_text())


def test_roles_are_checked_on_the_server_for_hand_made_requests(server, tmp_path):
    article = tmp_path / "reader-upload.txt"
    article.write_text("Title: Reader upload\n\nA reader tried to add this article about zebras to the corpus.\n")
    for user, allowed in (("bob", False), ("alice", True)):
        web = logged_in_client(server, user)
        config = web.get("/config").json()
        button = next(c["id"] for c in config["components"] if c.get("props", {}).get("value") == "Add to corpus")
        dep = next(d for d in config["dependencies"] if [button, "click"] in [list(t) for t in d["targets"]])
        with article.open("rb") as handle:
            sent = web.post("/gradio_api/upload", files={"files": (f"{user}-upload.txt", handle)})
        assert (sent.status_code == 200) is allowed  # a reader may not even store a file (issue 28)
        if allowed:
            files = [{"path": sent.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": f"{user}-upload.txt"}]
            stream = run_event(web, dep, [files])
            assert f"{user}-upload.txt" in {p.name for p in server.corpus_dir.iterdir()}, stream
        else:
            assert "needs an editor" in sent.json()["detail"]

        manage = next(c["id"] for c in config["components"] if c.get("props", {}).get("value") == "Add account")
        dep = next(d for d in config["dependencies"] if [manage, "click"] in [list(t) for t in d["targets"]])
        stream = run_event(web, dep, [f"intruder-{user}", "intruder-password", "admin"])
        assert "needs an admin" in stream
    database = open_url(f"sqlite:///{server.index_dir / 'team.sqlite3'}")
    assert not any(a.username.startswith("intruder") for a in Accounts(database).list())
    database.close()
    assert httpx.get(f"{server.url}/shared/anything").status_code == 401


def test_twenty_users_asking_and_saving_at_once(server):
    """Load: 20 accounts ask through the `/ask_saved` API at once, each a question and a follow-up
    saved into a new conversation; none is lost and none lands in another user's conversation."""
    questions = ["Who led the Russian delegation?", "What did Rubio say about Istanbul?",
                 "Who is Germany's chancellor?", "Which think tank does Sinan Ulgen direct?"]
    results: dict[str, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(LOAD_USERS))

    def user(name: str, n: int) -> None:
        try:
            web = httpx.Client(base_url=server.url, timeout=300)
            assert web.post("/login", data={"username": name, "password": LOAD_USERS[name][0]}).status_code == 200
            start.wait()
            first = f"{questions[n % 4]} (asked by {name})"
            reply = call_ask(web, [first, "new", None, None])
            follow = call_ask(web, [f"And what else? ({name})", reply["conversation"], None, None])
            results[name] = [first, reply, follow]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(name, n)) for n, name in enumerate(LOAD_USERS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    print(f"\n20 users, 40 saved answers: {time.perf_counter() - began:.1f} s")
    assert not errors, errors[:3]
    assert len(results) == 20
    database = open_url(f"sqlite:///{server.index_dir / 'team.sqlite3'}")
    store, accounts = Conversations(database), Accounts(database)
    for name, (first, reply, follow) in results.items():
        assert reply["error"] is None and follow["conversation"] == reply["conversation"]
        owner = accounts.get(name).id
        (summary,) = store.list(owner)
        turns = store.open(owner, summary.conversation_id).turns
        assert [t.question for t in turns] == [first, f"And what else? ({name})"]
        assert turns[0].answer == reply["text"] and turns[1].answer == follow["text"]
    database.close()


def test_the_login_throttle_guards_every_account(server):
    """Last of the tests on `server`: it leaves 127.0.0.1 waiting to log in."""
    web = httpx.Client(base_url=server.url, timeout=60)
    codes = []
    for n in range(10):  # the sixth try comes within the first 1 s wait, unless hashing took that long
        response = web.post("/login", data={"username": "bob", "password": f"guess-{n}"})
        codes.append(response.status_code)
        if response.status_code == 429:
            break
    assert codes[:5] == [400] * 5 and codes[-1] == 429 and "Retry-After" in response.headers


def call_ask(web: httpx.Client, data: list) -> dict:
    import json

    event = web.post("/gradio_api/call/ask_saved", json={"data": data})
    assert event.status_code == 200, event.text
    stream = web.get(f"/gradio_api/call/ask_saved/{event.json()['event_id']}").text
    assert "event: complete" in stream, stream
    payload = json.loads(stream.split("data:", 2)[-1].strip().splitlines()[0])
    return payload[0] if isinstance(payload, list) else payload


def test_processes_share_logins_and_conversations_through_postgresql(app_folders, postgres):
    """Several processes serving one team (RAG_DATABASE_URL): a login made in one app works in the
    other and after a restart, a conversation started in one continues in the other, and logging
    out in one ends the login everywhere."""
    url = postgres.new_database()
    database = open_url(url)
    Accounts(database).add("alice", USERS["alice"][0], "editor")
    database.close()
    env = {"RAG_DATABASE_URL": url}
    (corpus_a, index_a), (corpus_b, index_b) = app_folders(), app_folders()
    with app_server(env=env, corpus_dir=corpus_a, index_dir=index_a) as first, \
            app_server(env=env, corpus_dir=corpus_b, index_dir=index_b) as second:
        web_a = logged_in_client(first, "alice")
        # One session table, one cookie name: the second process knows the first one's login.
        web_b = httpx.Client(base_url=second.url, timeout=120, cookies=web_a.cookies)
        started = call_ask(web_a, ["Who led the Russian delegation?", "new", None, None])
        continued = call_ask(web_b, ["What did he warn?", started["conversation"], None, None])
        assert continued["error"] is None and continued["conversation"] == started["conversation"]
        assert not (index_a / "team.sqlite3").exists() and not (index_b / "team.sqlite3").exists()
    with app_server(env=env, corpus_dir=corpus_a, index_dir=index_a) as restarted:
        web = httpx.Client(base_url=restarted.url, timeout=120, cookies=web_a.cookies)
        again = call_ask(web, ["Which outlet reported it?", started["conversation"], None, None])
        assert again["error"] is None  # the login outlived the restart
        assert web.post("/logout", follow_redirects=False).status_code == 303
        time.sleep(CACHE_SECONDS)  # how long a process may still trust a token it checked
        web = httpx.Client(base_url=restarted.url, timeout=120, cookies=web_a.cookies)
        refused = web.post("/gradio_api/call/ask_saved", json={"data": ["Who?", "new", None, None]})
        assert refused.status_code in (401, 403), refused.text
    database = open_url(url)
    turns = Conversations(database).open(Accounts(database).get("alice").id, started["conversation"]).turns
    assert [t.question for t in turns] == ["Who led the Russian delegation?", "What did he warn?", "Which outlet reported it?"]
    database.close()
