"""`as_of`, the day a question is asked: later articles are out, undated ones stay, recent ones are
preferred mildly, and "this week" in a question means the week before it. No index, no model."""

from __future__ import annotations

import datetime as dt

import pytest

from rag.errors import QuestionError
from rag.retrieval.search import Filters, as_of_date, parse_published, recency_factor, time_window
from rag.types import Document

AS_OF = dt.date(2022, 6, 17)


def article(published: str | None, publisher: str | None = None) -> Document:
    return Document(doc_id="d", text="", title="t", source="s", content_hash="h", publisher=publisher,
                    published=published)


@pytest.mark.parametrize(
    "written", ["2022/06/16", "2022-06-16", "2022-06-16T23:10:00Z", "June 16, 2022", "16 June 2022"]
)
def test_published_dates_are_read_in_the_forms_feeds_write_them(written):
    assert parse_published(written) == dt.date(2022, 6, 16)


@pytest.mark.parametrize("written", [None, "", "yesterday", "2022", "2022-06", "2022-02-30", "soon"])
def test_what_names_no_day_is_no_date(written):
    assert parse_published(written) is None


def test_articles_published_after_as_of_are_excluded_and_undated_ones_kept():
    filters = Filters.checked(as_of="2022-06-17")
    assert filters.as_of == AS_OF
    assert filters.accepts(article("2022/06/17")) and filters.accepts(article("June 1, 2022"))
    assert not filters.accepts(article("2022/06/18")) and not filters.accepts(article("June 18, 2022"))
    assert filters.accepts(article(None)) and filters.accepts(article("undated"))


def test_as_of_defaults_to_today_and_takes_dates():
    assert Filters.checked().as_of == dt.date.today()
    assert as_of_date(AS_OF) == AS_OF and as_of_date(dt.datetime(2022, 6, 17, 9, 30)) == AS_OF


@pytest.mark.parametrize("bad", ["17/06/2022", "2022-06", "2022-02-30", "today", 20220617, ["2022-06-17"]])
def test_a_bad_as_of_is_a_one_line_question_error(bad):
    with pytest.raises(QuestionError) as caught:
        Filters.checked(as_of=bad)
    assert "as_of" in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_as_of_is_refused_before_any_search(service):
    with pytest.raises(QuestionError):
        service.ask("Who led the Russian delegation?", as_of="next Tuesday")


def test_since_and_until_still_work_with_any_date_form():
    may = Filters.checked(since="2025-05-01", until="2025-05-31", as_of="2025-06-30")
    assert may.accepts(article("May 16, 2025")) and may.accepts(article("2025/05/31"))
    assert not may.accepts(article("2025-04-30")) and not may.accepts(article(None))
    assert Filters.checked(until="2025-05").accepts(article("2025-05-31"))


def test_the_recency_prior_is_mild_and_neutral_without_a_date():
    assert recency_factor(AS_OF, AS_OF) == 1.0
    two_weeks = recency_factor(AS_OF - dt.timedelta(days=14), AS_OF)
    a_year = recency_factor(AS_OF - dt.timedelta(days=365), AS_OF)
    assert 0.95 < two_weeks < 1.0 and 0.4 < a_year < two_weeks
    assert recency_factor(None, AS_OF) == 1.0 and recency_factor(AS_OF, None) == 1.0


def test_this_week_and_other_phrases_are_read_against_as_of():
    assert time_window("Which show was green lit this week?", AS_OF) == (dt.date(2022, 6, 11), AS_OF)
    assert time_window("What did the Fed announce yesterday?", AS_OF) == (dt.date(2022, 6, 16), AS_OF)
    assert time_window("Who resigned today?", AS_OF) == (AS_OF, AS_OF)
    assert time_window("What happened last month?", AS_OF)[0] == dt.date(2022, 5, 1)
    assert time_window("Who won the election?", AS_OF) is None
    assert time_window("Which show was green lit this week?", None) is None
