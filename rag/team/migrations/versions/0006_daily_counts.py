"""Questions, declines and citations counted per day, so that the Quality page's counts survive
deleted conversations; filled from the turns saved so far.

Revision ID: 0006
Revises: 0005
"""

import datetime as dt
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    answers = op.create_table(
        "daily_answers",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("questions", sa.Integer, nullable=False),
        sa.Column("declines", sa.Integer, nullable=False),
    )
    citations = op.create_table(
        "daily_citations",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("outlet", sa.String(200), primary_key=True),
        sa.Column("citations", sa.Integer, nullable=False),
    )
    # Counted here rather than in SQL: a day from a stored time is spelled differently by each database.
    bind = op.get_bind()
    turns = sa.table("turns", sa.column("id"), sa.column("answerable"), sa.column("created_at"))
    cited = sa.table("citations", sa.column("turn_id"), sa.column("publisher"))
    questions, declines, days = Counter(), Counter(), {}
    for turn_id, answerable, created in bind.execute(sa.select(turns.c.id, turns.c.answerable, turns.c.created_at)):
        day = _day(created)
        days[turn_id] = day
        questions[day] += 1
        declines[day] += not answerable
    outlets = Counter()
    for turn_id, publisher in bind.execute(sa.select(cited.c.turn_id, cited.c.publisher)):
        if turn_id in days:
            outlets[days[turn_id], (publisher or "")[:200]] += 1
    if questions:
        op.bulk_insert(answers, [{"day": d, "questions": n, "declines": declines[d]} for d, n in questions.items()])
    if outlets:
        op.bulk_insert(citations, [{"day": d, "outlet": o, "citations": n} for (d, o), n in outlets.items()])


def _day(moment) -> dt.date:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def downgrade() -> None:
    op.drop_table("daily_citations")
    op.drop_table("daily_answers")
