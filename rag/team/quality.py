"""The admin's Quality page in numbers: questions and declines per day, thumbs up and down, the
slowest questions and the most cited outlets, over the last days. Questions, declines and
citations come from counters kept per day as answers are saved (`count_answer`), so deleting a
conversation does not lower them; ratings from the feedback, which outlives its conversation; the
slowest questions from the saved conversations (a deleted question is not shown). Summed by the
database (GROUP BY), so the page costs the same at any size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rag.team.db import Database, aware
from rag.team.accounts import reserved_name
from rag.team.models import Conversation, DailyAnswers, DailyCitations, Feedback, Turn, User, utcnow
from rag.types import Answer

TOP = 10


@dataclass
class Day:
    day: dt.date
    questions: int = 0
    declines: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0


@dataclass
class SlowQuestion:
    question: str
    seconds: float
    mode: str
    asked_at: dt.datetime
    user: str


@dataclass
class QualityReport:
    """Figures over `days` days up to `until` (UTC)."""

    days: int
    until: dt.datetime
    per_day: list[Day] = field(default_factory=list)
    slowest: list[SlowQuestion] = field(default_factory=list)
    outlets: list[tuple[str, int]] = field(default_factory=list)  # (outlet, citations), most cited first

    @property
    def questions(self) -> int:
        return sum(d.questions for d in self.per_day)

    @property
    def declines(self) -> int:
        return sum(d.declines for d in self.per_day)

    @property
    def rated(self) -> int:
        return sum(d.thumbs_up + d.thumbs_down for d in self.per_day)

    @property
    def thumbs_down_rate(self) -> float | None:
        """Share of the ratings that are thumbs down (None: nothing rated)."""
        return sum(d.thumbs_down for d in self.per_day) / self.rated if self.rated else None

    @property
    def decline_rate(self) -> float | None:
        return self.declines / self.questions if self.questions else None


def count_answer(session: Session, answer: Answer, when: dt.datetime) -> None:
    """Count one saved answer (a question, maybe declined, and its citations' outlets) on its day,
    in the saving transaction. Two processes creating a day's row at once: one gets an
    IntegrityError, and the caller's retry counts again on the row the other created."""
    day = when.astimezone(dt.timezone.utc).date()
    declined = int(not answer.answerable)
    added = session.execute(update(DailyAnswers).where(DailyAnswers.day == day).values(
        questions=DailyAnswers.questions + 1, declines=DailyAnswers.declines + declined))
    if not added.rowcount:
        session.add(DailyAnswers(day=day, questions=1, declines=declined))
    outlets: dict[str, int] = {}
    for citation in answer.citations:
        outlet = (citation.publisher or "")[:200]
        outlets[outlet] = outlets.get(outlet, 0) + 1
    for outlet, count in outlets.items():
        added = session.execute(update(DailyCitations).where(DailyCitations.day == day, DailyCitations.outlet == outlet)
                                .values(citations=DailyCitations.citations + count))
        if not added.rowcount:
            session.add(DailyCitations(day=day, outlet=outlet, citations=count))
    session.flush()


def quality_report(database: Database, days: int = 30, until: dt.datetime | None = None) -> QualityReport:
    """Figures for the `days` days up to `until` (default now)."""
    until = until or utcnow()
    since = (until - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    report = QualityReport(days, until)
    by_day = {since.date() + dt.timedelta(days=n): Day(since.date() + dt.timedelta(days=n)) for n in range(days)}
    in_range = (Turn.created_at >= since) & (Turn.created_at <= until)
    days_in_range = (DailyAnswers.day >= since.date()) & (DailyAnswers.day <= until.date())
    feedback_day = func.date(Feedback.created_at)
    with database.reading() as session:
        asked = select(DailyAnswers.day, DailyAnswers.questions, DailyAnswers.declines).where(days_in_range)
        for day, questions, declines in session.execute(asked).all():
            entry = by_day.get(_date(day))
            if entry:
                entry.questions, entry.declines = questions, declines
        rated = (
            select(feedback_day, Feedback.rating, func.count())
            .where(Feedback.created_at >= since, Feedback.created_at <= until)
            .group_by(feedback_day, Feedback.rating)
        )
        for day, rating, count in session.execute(rated).all():
            entry = by_day.get(_date(day))
            if entry and rating > 0:
                entry.thumbs_up = count
            elif entry:
                entry.thumbs_down = count
        slowest = (
            select(Turn.question, Turn.latency_ms, Turn.mode, Turn.created_at, Conversation.owner_id, User.username)
            .join(Conversation).outerjoin(User, User.id == Conversation.owner_id)
            .where(in_range).order_by(Turn.latency_ms.desc()).limit(TOP)
        )
        report.slowest = [
            SlowQuestion(q, ms / 1000, mode, aware(at), name or reserved_name(owner))
            for q, ms, mode, at, owner, name in session.execute(slowest).all()
        ]
        total = func.sum(DailyCitations.citations)
        cited = (
            select(DailyCitations.outlet, total)
            .where(DailyCitations.day >= since.date(), DailyCitations.day <= until.date())
            .group_by(DailyCitations.outlet).order_by(total.desc(), DailyCitations.outlet).limit(TOP)
        )
        report.outlets = [(name or "unknown outlet", int(count)) for name, count in session.execute(cited).all()]
    report.per_day = list(by_day.values())
    return report


def quality_figure(report: QualityReport):
    """Three plots (a matplotlib Figure): questions and declines per day, thumbs per day, the most
    cited outlets."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.6), layout="constrained")
    asked, thumbs, outlets = figure.subplots(1, 3, width_ratios=[1.2, 1.2, 1])
    days = [d.day for d in report.per_day]
    asked.plot(days, [d.questions for d in report.per_day], marker="o", label="questions")
    asked.plot(days, [d.declines for d in report.per_day], marker="o", label="declined")
    asked.set_title("Questions per day")
    asked.legend(loc="upper left")
    thumbs.bar(days, [d.thumbs_up for d in report.per_day], color="tab:green", label="thumbs up")
    thumbs.bar(days, [-d.thumbs_down for d in report.per_day], color="tab:red", label="thumbs down")
    thumbs.axhline(0, color="grey", linewidth=0.8)
    thumbs.set_title("Feedback per day (down below the line)")
    thumbs.legend(loc="upper left")
    for axes in (asked, thumbs):
        axes.tick_params(axis="x", labelrotation=45, labelsize=8)
        axes.yaxis.get_major_locator().set_params(integer=True)
    names = [_plain(name[:28]) for name, _ in report.outlets][::-1]
    outlets.barh(names, [count for _, count in report.outlets][::-1], color="tab:blue")
    outlets.set_title("Most cited outlets")
    outlets.tick_params(axis="y", labelsize=8)
    return figure


def _plain(label: str) -> str:
    """A label shown as it is written: matplotlib reads text between two `$` as math (an outlet
    named "$5 $\\frac" fails to draw); an escaped dollar is drawn as a plain one."""
    return label.replace("$", r"\$")


def _date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
