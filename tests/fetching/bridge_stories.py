"""The stories a followed question lives through (tests of rag/follows): the loopback news site
(tests/fetching/newsserver.py) publishes them one by one with `publish`."""

from __future__ import annotations

from tests.fetching.newsserver import NewsServer, Story

QUESTION = "When will the bridge reopen?"
MAY = Story("bridge-reopens-in-may", "Riverton harbour bridge to reopen in May", "Coastal Times", "Maria Lind",
            "2025-04-02", [
                "The harbour bridge in Riverton will reopen in May after the repairs to its steel supports, the city's "
                "transport department said on Wednesday.",
                "Cars have not crossed the bridge since last autumn, and the ferries have carried the extra commuters.",
            ])
REPEAT = Story("bridge-may-confirmed", "Engineers confirm the bridge timetable", "Coastal Times", "Tom Berg",
               "2025-04-09", [
                   "Engineers confirmed again that the harbour bridge will reopen in May.",
                   "The work on the supports is on schedule, they said.",
               ])
SEPTEMBER = Story("bridge-reopening-delayed", "Reopening of Riverton bridge delayed to September", "Valley Herald",
                  "Ana Costa", "2025-04-23", [
                      "The reopening of the harbour bridge in Riverton has been delayed to September, the transport "
                      "department said on Tuesday, because new steel parts arrived late.",
                      "Commuters will have to use the ferries for the whole summer.",
                  ])
UNRELATED = Story("chess-title", "Riverton school wins the chess championship", "Coastal Times", "Jonas Weber",
                  "2025-04-15", [
                      "Pupils of the Riverton grammar school won the national chess championship on Saturday.",
                      "Their coach said the team had trained every evening since January.",
                  ])


def publish(site: NewsServer, *stories: Story) -> None:
    """Put `stories` on the site and at the top of its feed (the feed then lists only the bridge stories)."""
    for story in stories:
        site.stories[story.slug] = story
    site.feed_slugs = [s.slug for s in stories] + [s for s in site.feed_slugs if s not in {x.slug for x in stories}]
