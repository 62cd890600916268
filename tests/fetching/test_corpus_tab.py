"""The Corpus tab's links-and-feeds handlers (rag/web/links.py) over the local news site: adding
streams what it is doing before its report, a feed is removed from the tab (by the address the
user added, with its articles), and the feed list's timer picks up polls the tab did not run."""

from __future__ import annotations

import gradio as gr

from rag.web.links import FEED, LinkHandlers


def handlers(service) -> LinkHandlers:
    return LinkHandlers(service, corpus_rows=lambda: [[s.title] for s in service.sources()], permit=lambda request: None)


def test_adding_streams_progress_then_the_report(service, site):
    tab = handlers(service)
    updates = list(tab.add(site.url("/"), FEED, None))
    statuses = [update[0] for update in updates[:-1]]
    assert statuses and all(text.startswith("⏳") for text in statuses)
    assert any("Reading" in text for text in statuses)
    text, feeds, added, corpus = updates[-1]
    assert text.startswith("**Following Coastal Times**") and "Added 3, updated 0" in text
    assert feeds[0][0].endswith(f"({site.url('/feed.xml')})") and added == site.url("/") and len(corpus) == 3
    refused = list(tab.add("https://", FEED, None))
    assert refused[-1][0].startswith("⚠️ Cannot add https&#58;//") and refused[-1][2] == ""


def test_a_feed_is_removed_from_the_tab_with_its_articles(service, site):
    tab = handlers(service)
    list(tab.add(site.url("/"), FEED, None))
    missing = tab.remove("https://example.org/feed", False, None)
    assert missing[0].startswith("⚠️ No such feed")
    text, feeds, box, corpus = tab.remove(site.url("/"), True, None)  # the address the user added
    assert f"No longer following {site.url('/feed.xml')}".replace(":", "&#58;", 1) in text and "Deleted 3 articles" in text
    assert feeds == [] and corpus == []


def test_the_feed_list_refreshes_after_polls_it_did_not_run(service, site):
    tab = handlers(service)
    service.feeds.add(site.url("/feed.xml"), poll=False)
    rows, key = tab.feeds_shown()
    assert rows[0][3] == "never"
    unchanged, same = tab.refresh(key)
    assert unchanged == gr.update() and same == key
    service.feeds.poll()  # the app's schedule, or another process
    rows, new_key = tab.refresh(key)
    assert new_key != key and rows[0][3] != "never" and rows[0][4] == 3
