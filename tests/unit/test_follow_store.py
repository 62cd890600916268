"""The follows' storage (rag/follows/store.py) in a SQLite team database: private to their owner,
gone with the owner's account, and a feed token that is stored only hashed and stops on revoking."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from rag.follows.changes import UPDATE, Change
from rag.follows.store import FollowNotFound, FollowStore
from rag.team.accounts import Accounts
from rag.team.cli import run_users
from rag.team.db import open_url

ALICE, BOB = 1, 2  # account ids: the store owns by id and does not look accounts up

SEEN = {"short_answer": None, "text": "It reopens in May. [1]", "answerable": True, "seen_at": "",
        "citations": [{"number": 1, "doc_id": "may", "title": "May", "publisher": "Coastal Times",
                       "published": "2025-04-02", "url": "u", "quote": "It reopens in May."}]}


@pytest.fixture
def database(tmp_path):
    db = open_url(f"sqlite:///{tmp_path / 'team.sqlite3'}")
    yield db
    db.close()


def test_follows_are_private_and_updates_are_counted_until_seen(database):
    store = FollowStore(database)
    mine = store.add(ALICE, "When will the bridge reopen?", {"publisher": "Coastal Times", "since": None}, SEEN)
    assert mine.filters == {"publisher": "Coastal Times"} and mine.sources[0]["published"] == "2025-04-02"
    assert store.add(ALICE, "when will the bridge reopen? ", {"publisher": "Coastal Times"}, SEEN).follow_id == mine.follow_id
    new = dict(SEEN, text="Delayed to September. [1]")
    store.record([(mine.follow_id, Change(UPDATE, "A new article states September.", {"doc_id": "sept"}))], new)
    assert store.list(ALICE)[0].unread == 1
    assert store.list(BOB) == []
    for verb in (store.get, store.remove, store.mark_read):
        with pytest.raises(FollowNotFound):
            verb(BOB, mine.follow_id)
    store.mark_read(ALICE, mine.follow_id)
    followed = store.get(ALICE, mine.follow_id)
    assert followed.unread == 0 and followed.answer["text"] == new["text"] and followed.updates[0].old == SEEN


def test_the_feed_token_is_stored_hashed_and_revocable(database):
    store = FollowStore(database)
    token = store.new_feed_token(ALICE)
    with database.reading() as session:
        stored = session.execute(text("SELECT token_hash FROM follow_feeds")).scalars().all()
    assert token not in stored and len(stored) == 1
    assert store.feed_owner(token) == ALICE
    replaced = store.new_feed_token(ALICE)
    with pytest.raises(FollowNotFound):
        store.feed_owner(token)  # a new address replaces the old one
    assert store.revoke_feed(ALICE)
    with pytest.raises(FollowNotFound):
        store.feed_owner(replaced)


def test_removing_an_account_removes_its_follows_updates_and_feed(database, tmp_path):
    accounts = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # not under test
    alice = accounts.add("alice", "alice-password-1", "reader").id
    store = FollowStore(database)
    follow = store.add(alice, "When will the bridge reopen?", {}, SEEN)
    store.record([(follow.follow_id, Change(UPDATE, "changed", {}))], SEEN)
    store.add(BOB, "Who chairs the council?", {}, SEEN)
    token = store.new_feed_token(alice)

    class Args:
        action, name = "remove", "alice"

    from rag.config import Config

    run_users(Args, Config.from_env().with_(index_dir=tmp_path))
    assert store.list(alice) == [] and store.feed_updates(alice) == []
    with pytest.raises(FollowNotFound):
        store.feed_owner(token)
    assert store.counts() == {BOB: 1}
