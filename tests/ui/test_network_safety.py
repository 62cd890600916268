"""The app on a network, attacked as a hostile web page or client would (issue 20).

One app serves as it would behind a proxy: a login, a real host name (news.test, mapped to
loopback in Chromium; a Host header for httpx), a trusted proxy on 127.0.0.1 (so requests can
carry the client addresses a proxy would give them), an allow-listed origin on the same site
(portal.news.test) and a low rate limit. A second web server on loopback plays the other sites.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import re
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.ui.app_server import app_server, free_port  # noqa: E402

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
USER, PASSWORD = "alice", "s3cret"
RATE = 40  # work-starting requests a minute per user or client address, in this app
QUESTION = ["Who led the Russian delegation?", [], None, None]


@pytest.fixture(scope="module")
def pages():
    """Blank pages served on loopback, for other origins' scripts to run in: (port, stop)."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>another site</title><p>another site</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def app(app_folders, pages, tmp_path_factory):
    corpus, index = app_folders()
    uploads = tmp_path_factory.mktemp("gradio-uploads")
    env = {
        "RAG_AUTH": f"{USER}:{PASSWORD}",
        "RAG_ALLOWED_ORIGINS": f"http://portal.news.test:{pages}",
        "RAG_TRUSTED_PROXIES": "127.0.0.1",
        "RAG_RATE_LIMIT": str(RATE),
        "GRADIO_TEMP_DIR": str(uploads),
    }
    with app_server(env=env, corpus_dir=corpus, index_dir=index) as server:
        server.uploads, server.allowed_origin = uploads, env["RAG_ALLOWED_ORIGINS"]
        yield server


def client(app, host: str = "news.example.org", **headers) -> httpx.Client:
    """A logged-in client that names `host`, as a browser behind the proxy would."""
    web = httpx.Client(base_url=app.url, timeout=60, headers={"Host": host, **headers})
    assert web.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
    return web


def answer(web: httpx.Client, data: list, **headers) -> tuple[int, str]:
    started = web.post("/gradio_api/call/ask", json={"data": data}, headers=headers)
    if started.status_code != 200:
        return started.status_code, started.text
    return 200, web.get(f"/gradio_api/call/ask/{started.json()['event_id']}", headers=headers).text


def test_no_other_site_gets_a_credentialed_grant(app):
    web = client(app)
    evil = {"Origin": "https://evil.example"}
    for method, path in [("GET", "/config"), ("GET", "/gradio_api/info"), ("POST", "/gradio_api/queue/join"),
                         ("POST", "/gradio_api/call/ask"), ("POST", "/gradio_api/upload"), ("POST", "/login"),
                         ("OPTIONS", "/gradio_api/call/ask")]:
        extra = {"Access-Control-Request-Method": "POST"} if method == "OPTIONS" else {}
        r = web.request(method, path, headers={**evil, **extra}, json={"data": QUESTION} if method == "POST" else None)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "access-control-allow-origin" not in r.headers and "access-control-allow-credentials" not in r.headers
        assert list(r.json()) == ["detail"] and "\n" not in r.json()["detail"]
    for origin in ("null", "https://news.example.org.evil.example", "http://news.example.org:8080"):
        assert web.get("/config", headers={"Origin": origin}).status_code == 403, origin

    # The app's own pages (same host, either scheme behind a TLS proxy) and the allow-listed origin pass.
    assert web.get("/config", headers={"Origin": "https://news.example.org"}).status_code == 200
    friend = web.get("/config", headers={"Origin": app.allowed_origin})
    assert friend.status_code == 200
    assert friend.headers["access-control-allow-origin"] == app.allowed_origin
    assert friend.headers["access-control-allow-credentials"] == "true"


def test_the_login_cookie_is_same_site_lax_and_secure_over_https(app):
    plain = httpx.Client(base_url=app.url, headers={"Host": "news.example.org"})
    cookies = plain.post("/login", data={"username": USER, "password": PASSWORD}).headers.get_list("set-cookie")
    assert cookies and all("SameSite=Lax" in c and "SameSite=none" not in c for c in cookies)
    assert not any("Secure" in c for c in cookies)  # a browser would drop a Secure cookie sent over plain HTTP
    # Behind the trusted TLS proxy, which says the client came over HTTPS:
    tls = httpx.Client(base_url=app.url, headers={"Host": "news.example.org", "X-Forwarded-Proto": "https"})
    cookies = tls.post("/login", data={"username": USER, "password": PASSWORD}).headers.get_list("set-cookie")
    assert cookies and all(c.endswith("SameSite=Lax; Secure") for c in cookies)


def test_one_clients_flood_is_cut_off_and_others_are_still_answered(app):
    flood = httpx.Client(base_url=app.url, timeout=60, headers={"Host": "news.example.org",
                                                                "X-Forwarded-For": "203.0.113.66"})
    # Not logged in: counted by the address the trusted proxy reports (and refused by the login
    # once let through), so a flood is cut off before it reaches the queue.
    codes = [flood.post("/gradio_api/call/ask", json={"data": QUESTION}).status_code for _ in range(RATE + 5)]
    assert codes.count(429) >= 5 and 429 not in codes[: RATE // 2]
    refused = flood.post("/gradio_api/call/ask", json={"data": QUESTION})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("Too many requests; try again in ") and " 0 s" not in refused.json()["detail"]
    # A logged-in user behind the same address has an allowance of her own, and is answered at once.
    status, stream = answer(client(app, **{"X-Forwarded-For": "203.0.113.66"}), QUESTION)
    assert status == 200 and "Medinsky" in stream


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"data": ["Who?", ' + "[" * 100_000 + "]" * 100_000 + ", null, null]}", "nested more than"),
        ('{"data": []}', "takes 4 values"),
        ('{"data": "Who?"}', "takes 4 values"),
        ('{"data": ["Who?", [], 5, null', "not valid JSON"),
        ('{"data": ["' + "x" * 5_000_000 + '", [], 5, null]}', "larger than"),
    ],
)
def test_malformed_or_oversized_requests_get_one_line_at_once(app, body, message):
    web = client(app, **{"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"})
    r = web.post("/gradio_api/call/ask", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413) and message in r.json()["detail"] and "\n" not in r.json()["detail"]


@pytest.mark.parametrize(
    "data, message",
    [
        (["Who?", [], 10**400, None], "top_k must be a whole number"),
        (["Who led \ud800 the delegation?", [], None, None], "not valid UTF-8"),
        (["Who?", [["x" * 2001, "a"]], None, None], "earlier question is 2,001 characters"),
        (["Who?", [["q", "a"]] * 21, None, None], "limit is 20"),
        (["Who?", [], None, "2025-05-16" * 1000], "as_of must be a date"),
        ([{"type": "component", "component": "file", "value": {"path": "/etc/passwd"}}, [], None, None], "must be text"),
    ],
)
def test_bad_values_get_the_apps_one_line_message(app, data, message):
    web = client(app, **{"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"})
    body = json.dumps({"data": data})  # json.dumps writes a lone surrogate as the escape \ud800
    started = web.post("/gradio_api/call/ask", content=body, headers={"Content-Type": "application/json"})
    stream = web.get(f"/gradio_api/call/ask/{started.json()['event_id']}").text
    result = json.loads(stream.split("data:", 2)[-1].strip().splitlines()[0])[0]
    assert message in result["error"] and "\n" not in result["error"]
    assert "Traceback" not in stream and " at 0x" not in stream and not re.search(r"/\w+/", result["error"])


def test_proxy_headers_from_an_untrusted_client_are_ignored(app_folders):
    corpus, index = app_folders()
    with app_server(env={"RAG_AUTH": f"{USER}:{PASSWORD}"}, corpus_dir=corpus, index_dir=index) as plain:
        web = httpx.Client(base_url=plain.url)
        # Rotating X-Forwarded-For does not give a password guesser fresh addresses.
        codes = [web.post("/login", data={"username": USER, "password": f"guess{i}"},
                          headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(7)]
        assert codes[:5] == [400] * 5 and codes[-1] == 429
        # Even the right password waits: the address is the connection's, whatever the header says.
        fresh = httpx.Client(base_url=plain.url, headers={"X-Forwarded-For": "10.9.9.9"})
        assert fresh.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 429


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_a_page_on_another_site_cannot_use_the_login_in_chromium(app, pages):
    from playwright.sync_api import sync_playwright

    from tests.ui.test_browser import CHROMIUM_ARGS

    base = f"http://news.test:{app.port}"
    rules = "MAP news.test 127.0.0.1, MAP portal.news.test 127.0.0.1, MAP evil.test 127.0.0.1"
    marker = f"planted-{uuid.uuid4().hex}"
    probe = """async ([base, marker]) => {
        const out = {};
        for (const path of ["/config", "/gradio_api/info"]) {
            try {
                const r = await fetch(base + path, {credentials: "include"});
                out[path] = r.status + " " + (await r.text()).slice(0, 40);
            } catch (e) { out[path] = "blocked"; }
        }
        // Blind writes: the page cannot read the reply, so the server must refuse them itself.
        const form = new FormData();
        form.append("files", new Blob(["An article by " + marker + " on the zebra migration and its routes."]), "x.txt");
        await fetch(base + "/gradio_api/upload", {method: "POST", mode: "no-cors", credentials: "include", body: form});
        await fetch(base + "/gradio_api/call/ask", {method: "POST", mode: "no-cors", credentials: "include",
            headers: {"Content-Type": "text/plain"}, body: JSON.stringify({data: ["Who?", [], null, null]})});
        return out;
    }"""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS + [f"--host-resolver-rules={rules}"])
        context = browser.new_context()
        own = context.new_page()
        own.goto(f"{base}/health")
        status = own.evaluate("""([user, password]) => fetch("/login", {method: "POST",
            body: new URLSearchParams({username: user, password: password})}).then(r => r.status)""", [USER, PASSWORD])
        assert status == 200
        own.goto(f"{base}/gradio_api/info")
        assert '"named_endpoints"' in own.content()  # the login works on the app's own pages

        evil = context.new_page()
        evil.goto(f"http://evil.test:{pages}/")
        out = evil.evaluate(probe, [base, marker])
        assert out == {"/config": "blocked", "/gradio_api/info": "blocked"}

        portal = context.new_page()  # the allow-listed origin, on the same site
        portal.goto(f"http://portal.news.test:{pages}/")
        out = portal.evaluate(probe, [base, marker])
        assert out["/config"].startswith("200 ") and out["/gradio_api/info"].startswith("200 ")
        browser.close()
    planted = [p for p in app.uploads.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    # Only the allow-listed portal's upload went through (once), none from evil.test.
    assert len(planted) == 1


def test_indexing_an_upload_does_not_hold_up_answers(app):
    web = client(app, **{"X-Forwarded-For": "198.51.100.250"})
    words = ("harbour ferry council budget timetable islanders vote tunnel bridge winter schedule mayor port "
             "crossing fares subsidy captain season storm repairs").split()
    rng = random.Random(7)
    sentences = (" ".join(rng.choice(words) for _ in range(14)).capitalize() + "." for _ in range(900))
    article = "Island ferry report\n\n" + " ".join(sentences)  # about 90 KB: a few hundred chunks to embed
    uploaded = web.post("/gradio_api/upload", files={"files": ("ferries.txt", article.encode())}).json()
    config = web.get("/config").json()
    file_ids = {c["id"] for c in config["components"] if c.get("type") == "file"}
    event = next(d for d in config["dependencies"] if len(d["inputs"]) == 1 and d["inputs"][0] in file_ids)
    session = uuid.uuid4().hex[:12]
    payload = [[{"path": uploaded[0], "meta": {"_type": "gradio.FileData"}, "orig_name": "ferries.txt"}]]
    joined = web.post("/gradio_api/queue/join", json={"fn_index": event["id"], "data": payload, "session_hash": session,
                                                       "event_data": None, "trigger_id": event["targets"][0][0]})
    assert joined.status_code == 200
    finished: dict[str, float] = {}

    def indexing():
        with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=300) as r:
            text = "".join(r.iter_text())
        finished["upload"] = time.monotonic()
        finished["report"] = text

    thread = threading.Thread(target=indexing)
    thread.start()
    time.sleep(1.0)  # the upload is being checked and embedded now
    status, stream = answer(web, QUESTION)
    finished["answer"] = time.monotonic()
    thread.join()
    assert status == 200 and "Medinsky" in stream
    assert "Added 1" in finished["report"]
    assert finished["answer"] < finished["upload"]  # answered while the upload was still indexing
