"""The JSON API (/api/v1), MCP (/mcp and `rag mcp`) and /metrics against `python app.py` over real
HTTP, with personal tokens for three accounts: alice (editor), bob (reader), boss (admin)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys

import httpx
import pytest
from sqlalchemy import update

from rag.team.accounts import Accounts
from rag.team.db import open_url
from rag.team.models import ApiToken
from rag.team.tokens import ApiTokens
from tests.ui.app_server import ROOT, app_server
from tests.ui.test_browser import browser  # noqa: F401 - a fixture

pytestmark = pytest.mark.ui

USERS = {"alice": ("alice-password", "editor"), "bob": ("bob-password", "reader"), "boss": ("boss-password", "admin")}
QUESTION = "Who led the Russian delegation?"


def make_tokens(index_dir) -> dict[str, str]:
    """Accounts and tokens in the app's database before it starts: one token each, plus bob's
    expired and revoked ones, and one for carol, who is removed later."""
    database = open_url(f"sqlite:///{index_dir / 'team.sqlite3'}")
    accounts = Accounts(database)
    for name, (password, role) in USERS.items():
        accounts.add(name, password, role)
    carol = accounts.add("carol", "carol-password", "reader")
    tokens = ApiTokens(database, accounts)
    made = {name: tokens.create(accounts.get(name), "tests").token for name in USERS}
    made["carol"] = tokens.create(carol).token
    expired = tokens.create(accounts.get("bob"), "expired", expires_days=1)
    with database.writing() as session:
        session.execute(update(ApiToken).where(ApiToken.id == expired.info.id)
                        .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
    made["expired"] = expired.token
    revoked = tokens.create(accounts.get("bob"), "revoked")
    tokens.remove(accounts.get("bob"), revoked.info.id)
    made["revoked"] = revoked.token
    database.close()
    return made


@pytest.fixture(scope="module")
def app(app_folders):
    corpus, index = app_folders()
    tokens = make_tokens(index)
    with app_server(corpus_dir=corpus, index_dir=index, env={"RAG_METRICS": "1"}) as server:
        with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as client:
            yield server, client, tokens


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_requests_without_a_valid_token_get_401_json(app):
    server, client, tokens = app
    for headers in ({}, {"Authorization": "Basic Ym9iOmJvYi1wYXNzd29yZA=="}, auth("nrag_not-a-token"),
                    auth(tokens["expired"]), auth(tokens["revoked"])):
        response = client.post("/ask", json={"question": QUESTION}, headers=headers)
        assert response.status_code == 401, headers
        assert set(response.json()) == {"error"} and "token" in response.json()["error"]


def test_a_login_cookie_is_not_a_token(app):
    """The browser's session must not work here: a cross-site page could spend it."""
    server, _, _ = app
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        logged_in = browser.post("/login/", data={"username": "bob", "password": "bob-password"})
        assert logged_in.status_code == 200 and browser.cookies
        assert browser.get("/api/v1/me").status_code == 401


def test_a_token_acts_as_its_user(app):
    _, client, tokens = app
    assert client.get("/me", headers=auth(tokens["bob"])).json() == {"user": "bob", "role": "reader"}
    assert client.get("/me", headers=auth(tokens["alice"])).json() == {"user": "alice", "role": "editor"}


def test_ask_answers_with_citations(app):
    _, client, tokens = app
    response = client.post("/ask", json={"question": QUESTION, "top_k": 3}, headers=auth(tokens["bob"]))
    assert response.status_code == 200
    answer = response.json()
    assert answer["answerable"] and answer["citations"]
    assert "[1]" in answer["text"] and "Medinsky" in answer["text"]
    assert {"doc_id", "quote", "title", "url"} <= set(answer["citations"][0])


def test_ask_streams_server_sent_events(app):
    _, client, tokens = app
    events = []
    with client.stream("POST", "/ask", json={"question": QUESTION, "stream": True}, headers=auth(tokens["bob"])) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
    assert events and events[-1][0] == "answer"
    assert all(kind == "delta" for kind, _ in events[:-1])
    assert events[-1][1]["answerable"] and events[-1][1]["citations"]


def test_saved_conversations_are_their_owners_only(app):
    _, client, tokens = app
    first = client.post("/ask", json={"question": QUESTION, "conversation": "new"}, headers=auth(tokens["bob"])).json()
    conversation = first["conversation"]
    follow = client.post("/ask", json={"question": "What did he say?", "conversation": conversation},
                         headers=auth(tokens["bob"]))
    assert follow.status_code == 200 and follow.json()["conversation"] == conversation
    listed = client.get("/conversations", headers=auth(tokens["bob"])).json()["conversations"]
    assert conversation in [c["conversation_id"] for c in listed]
    view = client.get(f"/conversations/{conversation}", headers=auth(tokens["bob"])).json()
    assert [t["question"] for t in view["turns"]] == [QUESTION, "What did he say?"]
    # Another user can neither read nor continue it.
    assert client.get(f"/conversations/{conversation}", headers=auth(tokens["alice"])).status_code == 404
    stolen = client.post("/ask", json={"question": "x?", "conversation": conversation}, headers=auth(tokens["alice"]))
    assert stolen.status_code == 404 and "error" in stolen.json()
    assert conversation not in [c["conversation_id"] for c in
                                client.get("/conversations", headers=auth(tokens["alice"])).json()["conversations"]]


def test_search_sources_and_documents(app):
    _, client, tokens = app
    found = client.post("/search", json={"query": "Istanbul talks delegation", "top_k": 3}, headers=auth(tokens["bob"]))
    assert found.status_code == 200
    passages = found.json()["passages"]
    assert 1 <= len(passages) <= 3 and all({"doc_id", "text", "score", "title"} <= set(p) for p in passages)
    assert passages[0]["score"] >= passages[-1]["score"]
    sources = client.get("/sources", headers=auth(tokens["bob"])).json()["sources"]
    assert len(sources) >= 5
    doc = client.get(f"/documents/{sources[0]['doc_id']}", headers=auth(tokens["bob"]))
    assert doc.status_code == 200 and doc.json()["text"]
    missing = client.get("/documents/no-such-document", headers=auth(tokens["bob"]))
    assert missing.status_code == 404 and missing.json() == {"error": "No such document."}


def test_errors_are_one_line_json(app):
    _, client, tokens = app
    cases = [
        client.post("/ask", json={"question": ""}, headers=auth(tokens["bob"])),
        client.post("/ask", json={"question": "x" * 100_000}, headers=auth(tokens["bob"])),
        client.post("/ask", json={"question": QUESTION, "top_k": 99}, headers=auth(tokens["bob"])),
        client.post("/ask", json={"question": QUESTION, "as_of": "yesterday"}, headers=auth(tokens["bob"])),
        client.post("/ask", content=b"{not json", headers=auth(tokens["bob"]) | {"Content-Type": "application/json"}),
        client.post("/ask", json={"question": QUESTION, "history": [["q", "a"]], "conversation": "new"},
                    headers=auth(tokens["bob"])),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert isinstance(body["error"], str) and "\n" not in body["error"], body


def test_links_and_feeds_need_an_editor(app):
    _, client, tokens = app
    refused = client.post("/links", json={"urls": ["http://127.0.0.1:9/story"]}, headers=auth(tokens["bob"]))
    assert refused.status_code == 403 and "editor" in refused.json()["error"]
    assert client.post("/feeds", json={"url": "http://127.0.0.1:9/feed"}, headers=auth(tokens["bob"])).status_code == 403
    # An editor gets through to the fetcher, whose address rule refuses a loopback address.
    tried = client.post("/links", json={"urls": ["http://127.0.0.1:9/story"]}, headers=auth(tokens["alice"]))
    assert tried.status_code in (200, 400), tried.text
    if tried.status_code == 200:
        assert tried.json()["added"] == [] and tried.json()["skipped"]


def test_removing_the_user_or_changing_the_role_applies_at_once(app):
    server, client, tokens = app
    assert client.get("/me", headers=auth(tokens["carol"])).status_code == 200
    database = open_url(f"sqlite:///{server.index_dir / 'team.sqlite3'}")
    try:
        accounts = Accounts(database)
        accounts.set_role("carol", "editor")
        assert client.get("/me", headers=auth(tokens["carol"])).json()["role"] == "editor"
        accounts.remove("carol")
        accounts.add("carol", "new-carol-password", "reader")  # the same name, a new account
    finally:
        database.close()
    assert client.get("/me", headers=auth(tokens["carol"])).status_code == 401


def test_openapi_document_describes_the_routes(app):
    server, _, _ = app
    schema = httpx.get(server.url + "/api/v1/openapi.json", timeout=30).json()
    assert {"/ask", "/search", "/sources", "/documents/{doc_id}", "/conversations", "/links", "/feeds"} <= set(schema["paths"])


def test_metrics_count_questions_from_loopback(app):
    server, client, tokens = app
    client.post("/ask", json={"question": QUESTION}, headers=auth(tokens["bob"]))
    text = httpx.get(server.url + "/metrics", timeout=30).text
    assert 'newsrag_questions_total{mode="extractive",outcome="answered"}' in text
    assert "newsrag_answer_seconds_bucket" in text
    assert "newsrag_index_documents" in text and "newsrag_index_chunks" in text
    assert 'newsrag_login_failures_total{kind="api_token"}' in text


def test_mcp_over_http_with_the_sdk_client(app):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    server, _, tokens = app

    async def session(token: str):
        http = httpx2.AsyncClient(headers=auth(token), timeout=60)
        async with http, Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            answer = await client.call_tool("ask", {"question": QUESTION, "top_k": 3})
            sources = await client.call_tool("list_sources", {})
            return names, answer, sources

    names, answer, sources = asyncio.run(session(tokens["bob"]))
    assert names == {"ask", "search", "get_document", "list_sources"}
    assert not answer.is_error and "Medinsky" in answer.structured_content["text"]
    assert len(sources.structured_content["sources"]) >= 5
    refused = httpx.post(server.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                         headers=auth(tokens["revoked"]) | {"Accept": "application/json, text/event-stream"})
    assert refused.status_code == 401


def test_mcp_over_stdio(app):
    from mcp import Client, StdioServerParameters

    server, _, _ = app

    async def session():
        params = StdioServerParameters(
            command=sys.executable, cwd=str(ROOT),
            args=["-m", "rag", "mcp", "--corpus", str(server.corpus_dir), "--index", str(server.index_dir)],
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        async with Client(params) as client:
            found = await client.call_tool("search", {"query": "Istanbul delegation", "top_k": 2})
            doc_id = found.structured_content["passages"][0]["doc_id"]
            doc = await client.call_tool("get_document", {"doc_id": doc_id})
            missing = await client.call_tool("get_document", {"doc_id": "nope"})
            return found, doc, missing

    found, doc, missing = asyncio.run(session())
    assert len(found.structured_content["passages"]) == 2
    assert doc.structured_content["text"]
    assert missing.is_error


def test_rate_limit_and_metrics_token(app_folders):
    corpus, index = app_folders()
    tokens = make_tokens(index)
    env = {"RAG_RATE_LIMIT": "3", "RAG_METRICS": "1", "RAG_METRICS_TOKEN": "scrape-secret"}
    with app_server(corpus_dir=corpus, index_dir=index, env=env) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            codes = [client.post("/api/v1/search", json={"query": "Istanbul"}, headers=auth(tokens["bob"])).status_code
                     for _ in range(5)]
            assert codes[:3] == [200, 200, 200] and codes[3] == 429
            limited = client.post("/api/v1/ask", json={"question": QUESTION}, headers=auth(tokens["bob"]))
            assert limited.status_code == 429 and "error" in limited.json() and limited.headers["Retry-After"]
            # Another user has an allowance of their own.
            assert client.post("/api/v1/search", json={"query": "Istanbul"}, headers=auth(tokens["alice"])).status_code == 200
            assert client.get("/metrics").status_code == 403
            scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
            assert scraped.status_code == 200 and "newsrag_rate_limited_requests_total 3.0" in scraped.text


def test_a_user_makes_and_revokes_a_token_in_the_app(app, browser):  # noqa: F811 - browser is a fixture
    from playwright.sync_api import expect

    server, client, _ = app
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server.url, wait_until="load")
        page.locator("input[type=text]").fill("alice")
        page.locator("input[type=password]").fill(USERS["alice"][0])
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#who")).to_contain_text("alice", timeout=60_000)
        page.locator("#api-tokens").get_by_text("API tokens").click()
        page.locator("#token-name textarea, #token-name input").first.fill("laptop script")
        page.locator("#make-token").click()
        report = page.locator("#token-report")
        expect(report).to_contain_text("nrag_", timeout=30_000)
        token = next(word.strip("`") for word in report.inner_text().split() if word.strip("`").startswith("nrag_"))
        assert client.get("/me", headers=auth(token)).json() == {"user": "alice", "role": "editor"}
        expect(page.locator("#tokens-table")).to_contain_text("laptop script")
        page.locator("#token-choice input").click()
        page.get_by_role("option", name="laptop script").first.click()
        page.locator("#revoke-token").click()
        expect(report).to_contain_text("Revoked", timeout=30_000)
        assert client.get("/me", headers=auth(token)).status_code == 401
    finally:
        context.close()
