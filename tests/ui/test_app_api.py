"""The web app's API (`/ask`) and routes, through gradio_client against a real `python app.py`.

Run: pytest tests/ui/test_app_api.py   (starts the app on a free port over a temporary copy
of the corpus plus an article full of HTML/markdown injection attempts; ~15 s).
"""

from __future__ import annotations

import html
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio_client imports huggingface_hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from rag.web.render import passage_path  # noqa: E402
from tests.ui.app_server import XSS_FILE, app_server  # noqa: E402

pytestmark = pytest.mark.ui

MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def server():
    with app_server() as s:
        print(f"\napp.py ready after {s.ready_seconds:.1f} s (index built from scratch)")
        yield s


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url + "/", verbose=False)


def ask(client, question, history=None, top_k=None) -> dict:
    return client.predict(question, history or [], top_k, api_name="/ask")


def get(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def article_text(page: str) -> tuple[str, str]:
    """(whole article text, highlighted text) as a reader sees them on a /passage page."""
    body = re.search(r"<article>(.*)</article>", page, re.S).group(1)
    marked = re.search(r'<mark id="hl">(.*?)</mark>', body, re.S)
    return html.unescape(re.sub(r"</?mark[^>]*>", "", body)), html.unescape(marked.group(1)) if marked else ""


# ----------------------------------------------------------------------------- the app


def test_health(server):
    status, _, body = get(f"{server.url}/health")
    assert (status, body) == (200, "ok")


def test_answer_cites_verbatim_quotes(server, client):
    r = ask(client, "What did Rubio say about Istanbul?")
    assert r["error"] is None and r["answerable"] is True
    assert r["mode"] == "extractive"
    assert len(r["citations"]) >= 1
    assert "Rubio" in r["text"]
    numbers = [c["number"] for c in r["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(n) for n in MARKER.findall(r["text"])} == set(numbers)
    for c in r["citations"]:
        assert c["quote"].strip()
        status, headers, page = get(server.url + passage_path(c["doc_id"], c["start"], c["end"]))
        assert status == 200
        text, marked = article_text(page)
        assert c["quote"] in text, f"quote [{c['number']}] is not verbatim in {c['doc_id']}"
        assert text[c["start"] : c["end"]] == c["quote"] == marked
        if c["url"].startswith(server.url):  # no original URL known: the citation links to the app
            assert get(c["url"])[0] == 200


def test_declined_question(client):
    r = ask(client, "What did Angela Merkel say about the ceasefire?")
    assert r["answerable"] is False
    assert r["citations"] == []
    assert "Merkel" in r["text"]


def test_follow_up_uses_history(client):
    first = ask(client, "Who led the Russian delegation?")
    assert "Medinsky" in first["text"]
    history = [["Who led the Russian delegation?", first["text"]]]
    r = ask(client, "What did he warn?", history)
    assert r["answerable"] is True and r["citations"]
    assert "Medinsky" in r["text"]
    assert "warn" in r["text"].lower()
    # The same history given as a JSON string (for clients that can only send text).
    import json

    assert ask(client, "What did he warn?", json.dumps(history))["text"] == r["text"]
    assert "JSON list" in ask(client, "What did he warn?", "not json")["error"]


def test_as_of_is_the_fourth_ask_value(client):
    # The seed articles carry no dates, so they stay in at any as_of; a bad date is a one-line error.
    r = client.predict("Who led the Russian delegation?", [], 5, "2025-05-20", api_name="/ask")
    assert r["error"] is None and "Medinsky" in r["text"]
    assert "as_of" in client.predict("Who led the Russian delegation?", [], 5, "2025-13-40", api_name="/ask")["error"]


def test_top_k_limits_citations(client):
    r = ask(client, "What did Rubio say about Istanbul?", top_k=1)
    assert len(r["citations"]) == 1


def test_overlong_question_is_rejected_and_app_keeps_answering(client):
    r = ask(client, "Why? " * 20_000)  # 100 KB
    assert r["answerable"] is False and r["citations"] == []
    assert "limit is" in r["error"] and "shorten" in r["error"]
    assert "Traceback" not in r["text"]
    assert ask(client, "")["error"] == "Please type a question."
    assert ask(client, "Who led the Russian delegation?")["answerable"] is True


def test_concurrent_questions_are_queued(client):
    questions = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?"] * 3
    started = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(lambda q: ask(client, q), questions))
    assert all(r["answerable"] and r["citations"] for r in results)
    print(f"\n{len(questions)} concurrent questions answered in {time.perf_counter() - started:.1f} s")


def test_passage_page(server):
    status, headers, page = get(f"{server.url}/passage/putin-trump-bail-on-istanbul-talks?start=0&end=60")
    assert status == 200
    assert '<mark id="hl">' in page and "scrollIntoView" in page
    assert "script-src 'nonce-" in headers["content-security-policy"]
    status, _, page = get(f"{server.url}/passage/putin-trump-bail-on-istanbul-talks")  # no span: no mark
    assert status == 200 and "<mark" not in page
    assert get(f"{server.url}/passage/putin-trump-bail-on-istanbul-talks?start=5&end=999999")[0] == 200
    assert get(f"{server.url}/passage/no-such-article?start=0&end=5")[0] == 404


def test_passage_page_escapes_document_html(server):
    doc_id = XSS_FILE.rsplit(".", 1)[0]
    status, _, page = get(f"{server.url}/passage/{doc_id}?start=0&end=40")
    assert status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title, as text
    assert "&lt;script&gt;alert(" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script>alert" not in page and "<img" not in page and "<b>" not in page
    assert page.count("<script") == 1  # only the page's own nonce'd scroll script
    assert 'href="javascript' not in page


# ------------------------------------------------------------------------------ login


def test_login_protects_chat_api_and_passages(app_folders):
    import httpx
    from gradio_client import Client

    corpus, index = app_folders()
    with app_server(env={"RAG_AUTH": "alice:s3cret"}, corpus_dir=corpus, index_dir=index) as s:
        web = httpx.Client(base_url=s.url, follow_redirects=False)
        assert web.get("/health").text == "ok"  # stays open for health checks
        assert web.get("/config").status_code == 401
        passage = "/passage/putin-trump-bail-on-istanbul-talks?start=0&end=20"
        assert web.get(passage).status_code == 307  # to the login page
        assert web.post("/login", data={"username": "alice", "password": "wrong"}).status_code == 400
        assert web.post("/login", data={"username": "alice", "password": "s3cret"}).status_code == 200
        assert "<mark" in web.get(passage).text
        assert web.get("/openapi.json").status_code == 200  # logged in
        r = Client(s.url + "/", auth=("alice", "s3cret"), verbose=False).predict(
            "Who led the Russian delegation?", [], None, api_name="/ask"
        )
        assert r["answerable"] is True

        stranger = httpx.Client(base_url=s.url, follow_redirects=False)
        assert stranger.get("/openapi.json").status_code == 401
        assert stranger.get("/docs").status_code == 404
        # Password guessing is slowed down: after five failures this address must wait (the wrong
        # password above counts: alice's login since cleared only her name's record)...
        codes = [stranger.post("/login", data={"username": "alice", "password": f"guess{i}"}).status_code for i in range(7)]
        assert codes[:4] == [400] * 4 and codes[4] == 429 and codes[-1] == 429
        # ...even with the right password, until the wait is over.
        assert stranger.post("/login", data={"username": "alice", "password": "s3cret"}).status_code == 429
