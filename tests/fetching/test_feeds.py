"""Feeds, sitemaps and links end to end: from the local news site into the corpus folder and the
index, and what a re-poll, an edit, a second link to the same story or a rival page changes."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from rag.errors import IndexProblem, RagError
from rag.ingest.feeds import Feeds
from rag.ingest.locks import poll_lock
from tests.fetching.conftest import loopback_is_public
from tests.fetching.newsserver import STORIES


def front_matter(service, path: str) -> str:
    return (service.config.paths.corpus_dir / path).read_text(encoding="utf-8").split("\n---\n", 1)[0]


def by_url(service) -> dict:
    return {s.url: s for s in service.sources()}


@pytest.mark.parametrize("path, kind", [
    ("/feed.xml", "rss"), ("/atom.xml", "atom"), ("/feed.json", "json"),
    ("/news-sitemap.xml", "sitemap"), ("/sitemap-index.xml", "sitemap-index"), ("/", "rss"),
])
def test_every_kind_of_feed_brings_its_articles_with_their_metadata(service, site, path, kind):
    indexed = []
    feeds = Feeds(service.config, index=lambda: indexed.append(True), refuse=loopback_is_public)  # files only
    info, report = feeds.add(site.url(path))
    assert info.kind == kind and info.articles == 3 and info.new_articles == 3 and info.last_error is None
    if path == "/":
        assert info.url == site.url("/feed.xml")  # discovered from the home page's <link rel="alternate">
    assert len(report.added) == 3 and all(p.startswith("web/127.0.0.1/") for p in report.added) and indexed
    story = STORIES["riverton-bridge-closure"]
    written = front_matter(service, next(p for p in report.added if story.slug in p))
    for line in (f"title: {story.title}", f"publisher: {story.outlet}", f"author: {story.author}",
                 f"published: '{story.published}'", f"url: {site.url(f'/articles/{story.slug}')}", f"feed: {info.url}"):
        assert line in written.splitlines()
    assert "fetched: '20" in written


def test_fetched_articles_are_indexed_with_their_metadata(service, site):
    service.feeds.add(site.url("/feed.xml"))
    story = STORIES["riverton-bridge-closure"]
    found = by_url(service)[site.url(f"/articles/{story.slug}")]
    assert (found.title, found.publisher, found.author, found.published) == (
        story.title, story.outlet, story.author, story.published)
    answer = service.ask("What did the engineers tell the Riverton council about the bridge?", as_of="2025-05-20")
    assert site.url(f"/articles/{story.slug}") in {c.url for c in answer.citations}  # the citation links to it


def test_a_re_poll_of_an_unchanged_feed_downloads_and_embeds_nothing(service, site):
    service.feeds.add(site.url("/feed.xml"))
    assert site.hits["/feed.xml"] == 1  # adding reads the feed once, and polls what it read
    pages = {path: n for path, n in site.hits.items() if path.startswith("/articles/")}
    report = service.feeds.poll()
    assert (report.added, report.updated, report.skipped, report.index) == ([], [], [], None)
    assert {path: n for path, n in site.hits.items() if path.startswith("/articles/")} == pages
    assert site.not_modified["/feed.xml"] == 1  # asked conditionally, answered 304: no body
    assert service.feeds.list()[0].new_articles == 0


def test_an_edited_article_is_fetched_again_and_re_embeds_only_its_changed_chunks(service, site):
    service.feeds.add(site.url("/feed.xml"))
    story = STORIES["museum-reopens"]
    site.stories["museum-reopens"] = dataclasses.replace(
        story, published="2025-05-13",  # the feed's date changes with it
        paragraphs=story.paragraphs[:-1] + ["Entry will be free for local schools until the end of the year, the director said."],
    )
    report = service.feeds.poll()
    assert report.added == [] and len(report.updated) == 1 and "museum-reopens" in report.updated[0]
    assert report.index.updated and report.index.embedded_chunks <= 2
    assert report.unchanged == 2  # the other two items were not fetched
    assert site.hits["/articles/riverton-bridge-closure"] == 1


def test_one_story_reached_through_many_links_is_one_document(service, site):
    site.query_params = "?utm_source=rss&utm_medium=feed&fbclid=abc"
    service.feeds.add(site.url("/feed.xml"))
    before = len(service.sources())
    slug = "riverton-bridge-closure"
    report = service.add_urls([
        site.url(f"/articles/{slug}/amp"),  # AMP page: rel=canonical names the article
        site.url(f"/go/{slug}"),  # a redirect to it
        site.url(f"/articles/{slug}?utm_campaign=x#comments"),
    ])
    assert report.added == [] and report.updated == [] and report.skipped == []
    assert len(service.sources()) == before
    assert site.url(f"/articles/{slug}") in by_url(service)  # the citation links to the clean URL


def test_a_page_claiming_another_articles_identity_replaces_nothing(service, site):
    service.feeds.add(site.url("/feed.xml"))
    original = by_url(service)[site.url("/articles/riverton-bridge-closure")]
    before = (service.config.paths.corpus_dir / original.source).read_bytes()
    report = service.add_urls([site.url("/hostile/claims")])
    # A different text: kept as its own article under its own link, the original untouched.
    assert len(report.added) == 1 and report.updated == []
    assert (service.config.paths.corpus_dir / original.source).read_bytes() == before
    sources = by_url(service)
    assert sources[site.url("/articles/riverton-bridge-closure")].title == original.title
    assert site.url("/hostile/claims") in sources


def test_a_syndicated_copy_is_cited_once_with_its_other_outlet_named(service, site):
    service.feeds.add(site.url("/feed.xml"))
    service.add_urls([site.url("/articles/harbour-bridge-shut")])  # the wire story in the Valley Herald
    assert len(service.sources()) == 4  # kept, not dropped
    answer = service.ask("Why will Riverton close the harbour bridge to cars?", as_of="2025-05-20")
    wire = [c for c in answer.citations if "corrosion" in service.document(c.doc_id).text]
    assert len({c.doc_id for c in wire}) == 1
    outlets = {wire[0].publisher, *wire[0].also_in}
    assert outlets == {"Coastal Times", "Valley Herald"}
    # The different article on the same event stays a source of its own.
    hits = service.retrieve("ferry operators evening crossings bridge closure", top_k=5, as_of="2025-05-20")
    assert any(p.title == STORIES["bridge-closure-reactions"].title for p in hits)


def test_articles_survive_a_restart_and_a_rebuild(make_service, site):
    first = make_service()
    first.feeds.add(site.url("/feed.xml"))
    again = make_service()  # a new process: the same folders
    summary = again.index(rebuild=True)
    assert summary.documents == 3
    assert again.feeds.poll().added == []  # still known: nothing fetched again
    assert site.hits["/articles/museum-reopens"] == 1


def test_removing_a_feed_keeps_or_deletes_its_articles(service, site):
    service.feeds.add(site.url("/atom.xml"))
    service.feeds.add(site.url("/news-sitemap.xml"))  # lists the same three stories
    service.add_urls([site.url("/articles/harbour-bridge-shut")])
    service.feeds.remove(site.url("/news-sitemap.xml"))
    assert [f.url for f in service.feeds.list()] == [site.url("/atom.xml")]
    assert len(service.sources()) == 4
    report = service.feeds.remove(site.url("/atom.xml"), delete_articles=True)
    assert len(report.skipped) == 3 and report.index.removed
    assert [s.url for s in service.sources()] == [site.url("/articles/harbour-bridge-shut")]  # added by link: kept


def test_an_article_goes_when_the_last_feed_that_listed_it_goes(service, site):
    service.feeds.add(site.url("/atom.xml"))  # the first to bring the three stories
    service.feeds.add(site.url("/news-sitemap.xml"))  # lists the same three
    service.add_urls([site.url("/articles/harbour-bridge-shut")])
    kept = service.feeds.remove(site.url("/atom.xml"), delete_articles=True)
    assert kept.skipped == [] and len(service.sources()) == 4  # the sitemap still lists them
    gone = service.feeds.remove(site.url("/news-sitemap.xml"), delete_articles=True)
    assert len(gone.skipped) == 3 and len(gone.index.removed) == 3
    assert [s.url for s in service.sources()] == [site.url("/articles/harbour-bridge-shut")]
    assert [p.name for p in service.config.paths.corpus_dir.rglob("*.md")] == [
        next(p.name for p in service.config.paths.corpus_dir.rglob("harbour-bridge-shut*"))]


def test_a_link_added_too_keeps_its_article_until_removed_itself(service, site):
    service.feeds.add(site.url("/feed.xml"))
    service.add_urls([site.url("/articles/museum-reopens?utm_source=x")])  # a story the feed brought already
    service.feeds.remove(site.url("/feed.xml"), delete_articles=True)
    assert [s.url for s in service.sources()] == [site.url("/articles/museum-reopens")]
    report = service.remove(site.url("/articles/museum-reopens"))
    assert report.index.removed and list(service.config.paths.corpus_dir.rglob("*.md")) == []


def test_removing_the_address_the_user_added_removes_the_feeds_found_there(service, site):
    service.feeds.add(site.url("/"))  # a home page: its RSS feed is followed
    assert [f.url for f in service.feeds.list()] == [site.url("/feed.xml")]
    report = service.feeds.remove(site.url("/"), delete_articles=True)
    assert report.feeds == [site.url("/feed.xml")] and service.feeds.list() == []
    assert len(report.index.removed) == 3


def test_one_article_is_removed_by_link_or_id_and_no_feed_brings_it_back(service, site):
    service.feeds.add(site.url("/feed.xml"))
    service.remove(site.url("/articles/museum-reopens/amp"))  # any link to it
    assert site.url("/articles/museum-reopens") not in by_url(service)
    service.feeds.poll()
    site.stories["museum-reopens"] = dataclasses.replace(STORIES["museum-reopens"], published="2025-05-13")
    assert service.feeds.poll().added == [] and site.url("/articles/museum-reopens") not in by_url(service)
    assert service.add_urls([site.url("/articles/museum-reopens")]).added  # asked for again: back
    doc_id = by_url(service)[site.url("/articles/museum-reopens")].doc_id
    service.remove(doc_id)
    assert site.url("/articles/museum-reopens") not in by_url(service) and len(service.sources()) == 2
    with pytest.raises(RagError, match="No article nothing-here"):
        service.remove("nothing-here")


def test_a_story_listed_by_two_feeds_is_fetched_once_per_poll(service, site):
    service.feeds.add(site.url("/atom.xml"), poll=False)
    service.feeds.add(site.url("/news-sitemap.xml"), poll=False)
    service.feeds.poll()
    assert site.hits["/articles/museum-reopens"] == 1
    story = STORIES["museum-reopens"]
    site.stories["museum-reopens"] = dataclasses.replace(
        story, published="2025-05-13", paragraphs=story.paragraphs[:-1] + ["Entry will be free for schools, she said."])
    report = service.feeds.poll()
    assert len(report.updated) == 1 and site.hits["/articles/museum-reopens"] == 2
    assert [f.articles for f in service.feeds.list()] == [3, 3]


def test_a_story_two_feeds_list_is_still_fetched_when_the_first_is_removed_during_the_poll(service, site, monkeypatch):
    service.feeds.add(site.url("/atom.xml"), poll=False)  # the first listing: its plans stand for the sitemap's too
    service.feeds.add(site.url("/news-sitemap.xml"), poll=False)
    fetch_all = service.feeds._fetch_all

    def removing_first(*args, **kwargs):  # the listings are read; the pages are not fetched yet
        service.feeds.remove(site.url("/atom.xml"))
        return fetch_all(*args, **kwargs)

    monkeypatch.setattr(service.feeds, "_fetch_all", removing_first)
    report = service.feeds.poll()
    assert len(report.added) == 3
    assert [(f.url, f.articles) for f in service.feeds.list()] == [(site.url("/news-sitemap.xml"), 3)]


def test_one_poll_at_a_time(service, site):
    service.feeds.add(site.url("/feed.xml"), poll=False)
    with poll_lock(service.config):
        with pytest.raises(IndexProblem, match="Another process is fetching links or feeds"):
            service.feeds.poll()


def test_another_rendering_fetched_first_becomes_the_article_when_its_canonical_page_arrives(service, site):
    slug = "museum-reopens"
    first = service.add_urls([site.url(f"/print/{slug}")])  # claims /articles/<slug>: not yet confirmed
    assert len(first.added) == 1
    assert [s.url for s in service.sources()] == [site.url(f"/print/{slug}")]
    then = service.add_urls([site.url(f"/articles/{slug}")])  # the same story at the claimed address
    assert then.added == [] and then.updated == first.added  # the same file, now under its canonical link
    assert [s.url for s in service.sources()] == [site.url(f"/articles/{slug}")]
    assert service.add_urls([site.url(f"/articles/{slug}/amp")]).added == []


def test_a_false_claim_fetched_before_the_real_article_takes_nothing_from_it(service, site):
    claim = service.add_urls([site.url("/hostile/claims")])  # names the bridge article as its canonical page
    real = service.add_urls([site.url("/articles/riverton-bridge-closure")])
    assert len(claim.added) == 1 and len(real.added) == 1 and real.updated == []
    titles = {s.url: s.title for s in service.sources()}
    assert titles[site.url("/articles/riverton-bridge-closure")] == STORIES["riverton-bridge-closure"].title
    assert titles[site.url("/hostile/claims")] == "Riverton bridge to stay open, mayor says"


def test_a_sitemap_index_is_followed_into_its_changed_sitemaps(service, site):
    service.feeds.add(site.url("/sitemap-index.xml"))
    site.feed_slugs.append("harbour-bridge-shut")  # a new story in the news sitemap; the index is unchanged
    report = service.feeds.poll()
    assert len(report.added) == 1 and "harbour-bridge-shut" in report.added[0]
    assert site.not_modified["/sitemap-index.xml"] == 1
    assert service.feeds.poll().added == [] and site.not_modified["/news-sitemap.xml"] == 1


def test_an_unreadable_state_file_is_a_one_line_error(service, site):
    service.config.paths.index_dir.mkdir(parents=True)
    (service.config.paths.index_dir / "news.web.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexProblem, match="feed state file .* is unreadable .* delete it") as caught:
        service.feeds.add(site.url("/feed.xml"))
    assert "\n" not in str(caught.value)


def test_a_state_file_from_before_links_were_tracked_keeps_them(service, site):
    service.add_urls([site.url("/articles/museum-reopens")])
    service.feeds.add(site.url("/feed.xml"))
    path = service.config.paths.index_dir / "news.web.sqlite3"
    with sqlite3.connect(path) as db:  # the layout before this change: no `linked` table
        db.execute("DROP TABLE linked")
    service.feeds.remove(site.url("/feed.xml"), delete_articles=True)
    assert [s.url for s in service.sources()] == [site.url("/articles/museum-reopens")]  # added by link: kept
