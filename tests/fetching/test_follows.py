"""A followed question lives through the news (rag/follows), on the fake backends with a news site
on 127.0.0.1: the site publishes "the bridge will reopen in May", alice follows "When will the
bridge reopen?", the site publishes "reopening delayed to September", the feed schedule polls, and
alice has one unread update with both answers and the new article's date. An unchanged poll, an
unrelated article and an article repeating the answer add no update; bob sees none of it; a
removed owner's follows go; a revoked feed token opens nothing."""

from __future__ import annotations

import time

import pytest

from rag.follows.api import Follows, watch
from rag.follows.store import FollowNotFound
from rag.ingest.schedule import FeedSchedule
from rag.team.db import open_url

ALICE, BOB = 1, 2  # account ids: the store owns by id and does not look accounts up
from tests.fetching.bridge_stories import MAY, QUESTION, REPEAT, SEPTEMBER, UNRELATED, publish


@pytest.fixture
def database(tmp_path):
    database = open_url(f"sqlite:///{tmp_path / 'team.sqlite3'}")
    yield database
    database.close()


def wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_followed_question_gets_one_update_when_the_news_changes(service, site, database):
    site.feed_slugs = []
    publish(site, MAY)
    service.feeds.add(site.url("/feed.xml"))
    follows = Follows(service, database)
    watcher = watch(service, database)
    mine = follows.add(ALICE, QUESTION)
    assert "May" in mine.answer["text"] and mine.answer["citations"][0]["published"] == MAY.published
    follows.add(BOB, "What did the maritime museum show?")

    service.feeds.poll()  # nothing new on the site: nothing indexed, nothing asked
    assert watcher.drain() and watcher.last.asked == 0

    publish(site, UNRELATED)
    service.feeds.poll()
    assert watcher.drain()
    assert follows.list(ALICE)[0].updates == []  # the chess story could not change the bridge's answer

    publish(site, REPEAT)
    service.feeds.poll()
    assert watcher.drain()
    followed = follows.list(ALICE)[0]
    assert followed.updates == []  # it repeats "May": a source, no update
    assert REPEAT.title in {s["title"] for s in followed.sources}

    publish(site, SEPTEMBER)
    schedule = FeedSchedule(service.feeds, seconds=0.3)  # the app's scheduled poll
    schedule.start()
    try:
        assert wait_for(lambda: len(service.sources()) == 4)
    finally:
        schedule.stop()
    assert watcher.drain()
    followed = follows.list(ALICE)[0]
    assert len(followed.updates) == 1 and followed.unread == 1
    update = followed.updates[0]
    assert "May" in update.old["text"] and "September" in update.new["text"]
    assert update.article["title"] == SEPTEMBER.title and update.article["published"] == SEPTEMBER.published
    assert update.article["publisher"] == "Valley Herald"

    service.feeds.poll()  # unchanged again
    assert watcher.drain() and len(follows.list(ALICE)[0].updates) == 1

    assert [f.updates for f in follows.list(BOB)] == [[]]  # bob's follow saw none of it
    with pytest.raises(FollowNotFound):
        follows.store.get(BOB, followed.follow_id)

    token = follows.store.new_feed_token(ALICE)
    assert follows.store.feed_owner(token) == ALICE
    assert [u.update_id for u in follows.store.feed_updates(ALICE)] == [update.update_id]
    follows.store.revoke_feed(ALICE)
    with pytest.raises(FollowNotFound):
        follows.store.feed_owner(token)

    follows.store.mark_read(ALICE, followed.follow_id)
    assert follows.list(ALICE)[0].unread == 0
    assert follows.remove_owner(ALICE) == 1
    assert follows.list(ALICE) == [] and follows.store.feed_updates(ALICE) == []
    assert len(follows.list(BOB)) == 1
