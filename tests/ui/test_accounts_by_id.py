"""Accounts by id against a running app over real HTTP: when an admin removes "sam" and makes a new
account "sam", the new one sees none of the old one's conversations, the old one's share links
and login open nothing, at once (issue 28, item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from argon2 import PasswordHasher

from rag.team.accounts import Accounts
from rag.team.conversations import Conversations
from rag.team.db import open_url
from tests.ui.app_server import ROOT, app_server

pytestmark = pytest.mark.ui

OLD_QUESTION = "Who led the Russian delegation? (asked by the first sam)"


def log_in(server, user: str, password: str) -> httpx.Client:
    web = httpx.Client(base_url=server.url, timeout=120)
    assert web.post("/login", data={"username": user, "password": password}).status_code == 200
    return web


def ask_saved(web: httpx.Client, question: str, conversation: str) -> dict:
    """The `/ask_saved` API's reply, or {"error": ...} when the login itself is refused."""
    event = web.post("/gradio_api/call/ask_saved", json={"data": [question, conversation, None, None]})
    if event.status_code in (401, 403):
        return {"error": f"HTTP {event.status_code}"}
    assert event.status_code == 200, event.text
    stream = web.get(f"/gradio_api/call/ask_saved/{event.json()['event_id']}").text
    assert "event: complete" in stream, stream
    payload = json.loads(stream.split("data:", 2)[-1].strip().splitlines()[0])
    return payload[0] if isinstance(payload, list) else payload


def sidebar(web: httpx.Client) -> str:
    """What the sidebar's conversation search (empty: all of them) sends this user, as the page asks it."""
    config = web.get("/config").json()
    box = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "search")
    dep = next(d for d in config["dependencies"] if [box, "change"] in [list(t) for t in d["targets"]])
    session = uuid.uuid4().hex[:12]
    body = {"fn_index": dep["id"], "data": [""], "session_hash": session, "event_data": None, "trigger_id": box}
    assert web.post("/gradio_api/queue/join", json=body).status_code == 200
    with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as response:
        stream = "".join(response.iter_text())
    assert "process_completed" in stream, stream
    return stream


def users_command(server, *args: str, stdin: str = "") -> None:
    """`python -m rag users ...` in its own process, as an admin would run it beside the app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env["RAG_INDEX_DIR"] = str(server.index_dir)
    done = subprocess.run([sys.executable, "-m", "rag", "users", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_recreated_sam_sees_none_of_the_old_sams_data_and_old_links_stop(app_folders):
    corpus, index = app_folders()
    database = open_url(f"sqlite:///{index / 'team.sqlite3'}")
    accounts = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts.add("boss", "boss-password", "admin")
    old_sam = accounts.add("sam", "first-sam-password", "reader")
    try:
        with app_server(corpus_dir=corpus, index_dir=index) as server:
            old = log_in(server, "sam", "first-sam-password")
            first = ask_saved(old, OLD_QUESTION, "new")
            assert first["error"] is None
            # Sharing is a button of the page; the link it makes is what must stop opening.
            token = Conversations(database).share(old_sam.id, first["turn"])
            boss = log_in(server, "boss", "boss-password")
            opened = boss.get(f"/shared/{token}")
            assert opened.status_code == 200 and "first sam" in opened.text
            assert "first sam" in sidebar(old)

            users_command(server, "remove", "sam")
            users_command(server, "add", "sam", "--password-stdin", stdin="second-sam-password\n")

            # At once, with no wait for the app's login cache: the old login opens nothing.
            refused = ask_saved(old, "Am I still in?", "new")["error"]
            assert "log in again" in refused or refused.startswith("HTTP 40"), refused
            new = log_in(server, "sam", "second-sam-password")
            assert "first sam" not in sidebar(new)
            assert "No such conversation" in ask_saved(new, "And then?", first["conversation"])["error"]
            for web in (new, boss):
                assert web.get(f"/shared/{token}").status_code == 404
            mine = ask_saved(new, "Who is Germany's chancellor?", "new")
            assert mine["error"] is None and mine["conversation"] != first["conversation"]
            assert "Germany" in sidebar(new) and "first sam" not in sidebar(new)
    finally:
        database.close()
