"""Dates: the day an article was published (from free-form metadata), the day a question is
asked (`as_of`), the recency prior, and the days a phrase such as "this week" names.

Apart from search, so the store can record each article's parsed day when it commits it (filters
and the recency prior then read a stored ISO day instead of parsing dates at every start)."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from rag.errors import QuestionError

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A leading numeric date, as feeds and front matter write it: 2022/06/16, 2025-05-16, 2025-05-16T10:00Z.
_NUMERIC_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")

# The recency prior: a passage's fused score is multiplied by 1 / (1 + age / RECENCY_SCALE_DAYS),
# age in days before `as_of`: 0.96 for an article two weeks old, 0.5 for one a year old. Reciprocal
# rank scores near the top differ by about 1.5% a rank, so this moves a passage a few ranks at most
# within the candidates both retrievers found; it never removes one.
RECENCY_SCALE_DAYS = 365.0


def parse_published(value: object) -> dt.date | None:
    """The day an article was published, from the free-form `published` metadata (2022/06/16,
    2025-05-16T10:00:00Z, "May 16, 2025", "16 May 2025"); None when it names no day."""
    text = value.strip() if isinstance(value, str) else ""
    return _parse_day(text) if text else None


@lru_cache(maxsize=65536)
def _parse_day(text: str) -> dt.date | None:
    match = _NUMERIC_DATE.match(text)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            return None
    if not re.search(r"\d{4}", text):
        return None  # "yesterday", "Monday": relative to an unknown day, not a date
    import dateparser

    # Absolute forms only, and all of day, month and year: a bare "2025" is not a day.
    parsed = dateparser.parse(
        text, languages=["en"],
        settings={"PARSERS": ["absolute-time"], "REQUIRE_PARTS": ["day", "month", "year"]},
    )
    return parsed.date() if parsed else None


def as_of_date(value: object) -> dt.date:
    """The date a question is asked on: None is today; else a date or an ISO string YYYY-MM-DD."""
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise QuestionError(f"as_of must be a date like 2022-06-17, got {str(value)[:40]!r}.")


def recency_factor(published: dt.date | None, as_of: dt.date | None) -> float:
    """The prior on a passage's score for its article's age before `as_of` (1.0 when either is unknown)."""
    if published is None or as_of is None:
        return 1.0
    return 1.0 / (1.0 + max(0, (as_of - published).days) / RECENCY_SCALE_DAYS)


# Phrase -> (first, last) day of the window it names, relative to the `as_of` day. News about
# "yesterday" or "today" may be published the day after, so those windows run up to as_of; "last
# week" covers both the calendar week before and the seven days before this week.
_WINDOWS = (
    (re.compile(r"\b(today|tonight|this morning|this afternoon|this evening)\b"), lambda d: (d, d)),
    (re.compile(r"\byesterday\b"), lambda d: (d - dt.timedelta(days=1), d)),
    (re.compile(r"\b(this|the past|the last) (week|7 days)\b"), lambda d: (d - dt.timedelta(days=6), d)),
    (re.compile(r"\blast week\b"), lambda d: (d - dt.timedelta(days=13), d - dt.timedelta(days=5))),
    (re.compile(r"\b(this|the past|the last) month\b"), lambda d: (d - dt.timedelta(days=30), d)),
    (re.compile(r"\blast month\b"), lambda d: (_month_start(_month_start(d) - dt.timedelta(days=1)), _month_start(d))),
    (re.compile(r"\b(this|the past) year\b"), lambda d: (dt.date(d.year, 1, 1), d)),
    (re.compile(r"\blast year\b"), lambda d: (dt.date(d.year - 1, 1, 1), dt.date(d.year - 1, 12, 31))),
)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def time_window(question: str, as_of: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The days a phrase in the question names ("this week", "yesterday", "last month"), read
    against `as_of` (the first pattern of _WINDOWS that matches); None when there is none."""
    if as_of is None:
        return None
    lowered = question.lower()
    for pattern, window in _WINDOWS:
        if pattern.search(lowered):
            return window(as_of)
    return None
