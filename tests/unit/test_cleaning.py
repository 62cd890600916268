"""The cleaner removes page furniture and keeps the article: the five seeds and scraped pages."""

import json
from pathlib import Path

import pytest

from rag.ingest.cleaning import clean_article

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "realtimeqa"


def cleaned(name: str):
    return clean_article((CORPUS / name).read_text(encoding="utf-8"))


def test_comment_section_subscribe_prompt_and_bio_box_are_removed():
    c = cleaned("post-alley-delay-and-distract.txt")
    for furniture in ("COMMENTS", "Leave a Reply", "Akismet", "Comments Policy", "Discover more", "Subscribe to get",
                      "retired foreign correspondent", "Please enter your name"):
        assert furniture not in c.text
    assert not c.text.rstrip().endswith(("Popular", "Recent"))
    assert c.author == "Carol J Williams"
    assert c.publisher == "Post Alley"
    # The last paragraph of the article itself survives, quote marks and all.
    assert "we can save the lives of hostages and POWs,” the exiled dissident noted." in c.text


def test_teaser_for_another_story_and_repeated_headline_are_removed():
    c = cleaned("putin-trump-bail-on-istanbul-talks.txt")
    assert "Tom Cruise" not in c.text and "Cannes" not in c.text
    assert "Back To Top" not in c.text and "Leave a Reply" not in c.text
    assert c.text.count("Putin and Trump Bail on High-Stakes Ukraine Peace Talks") == 1
    assert c.title == "Putin and Trump Bail on High-Stakes Ukraine Peace Talks, Casting Doubt on Breakthrough"
    assert "“This war started in Moscow,” Zelenskiy said in a fiery video address Wednesday night." in c.text


def test_numbered_link_list_and_stray_characters_are_removed():
    c = cleaned("analysis-illusion-of-progress.txt")
    lines = c.text.splitlines()
    assert "Recommended" not in lines
    assert not any(line.strip() in {"-", "1", "2", "3"} for line in lines)
    assert c.title.startswith("Analysis of the military diplomacy")
    assert '"Trump wants peace. Europe wants peace. Ukraine wants peace. And the only thing missing is Putin."' in c.text


def test_contact_signoff_gives_authors_and_tag_list_goes():
    c = cleaned("wsj-diplomatic-defeat-for-putin.txt")
    assert "Write to" not in c.text and "@wsj.com" not in c.text
    assert not c.text.rstrip().endswith("topics")
    assert c.author == "Bojan Pancevski and Alan Cullison"
    assert c.title == "How Russia’s call for peace talks turned into a diplomatic defeat for Putin"


def test_article_paragraphs_are_kept_verbatim():
    for path in CORPUS.glob("*.txt"):
        raw = path.read_text(encoding="utf-8")
        c = clean_article(raw)
        # Every kept line is a line of the original: cleaning removes, it never rewrites.
        original_lines = {line.strip() for line in raw.splitlines()}
        for line in c.text.splitlines():
            assert not line.strip() or line.strip() in original_lines, (path.name, line)
        assert len(c.text) > 0.7 * len(raw.strip()), path.name


def fixture(doc_id: str) -> dict:
    return json.loads((FIXTURES / f"{doc_id}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "doc_id, gone, kept",
    [
        ("21bb2481558fca2b", ["Sign up for CNN’s Wonder Theory", "READ MORE:"], ["Artemis I"]),
        ("2c54adef9f365190", ["RELATED:"], ["Timberlake"]),
        ("e5d2c8bd89e1009d", ["Read more:", "Contact Robert Allen"], ["meteor"]),
        # "newsletter" inside reporting is article text, not a sign-up prompt.
        ("c8d1e7ee6d4e98b0", ["Related:"], ["In Tuesday's newsletter, Lopez wrote"]),
    ],
)
def test_scraped_news_pages(doc_id, gone, kept):
    c = clean_article(fixture(doc_id)["text"])
    for text in gone:
        assert text not in c.text
    for text in kept:
        assert text in c.text


def test_a_page_that_is_only_ad_feedback_leaves_no_text():
    assert clean_article(fixture("5b14cd16b6feede5")["text"]).text == ""
