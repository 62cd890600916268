"""Followed questions, their updates, and each user's private feed of them (rag/follows).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, nullable=False, index=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("answer", sa.JSON, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,  # a removed follow's id is never reused
    )
    op.create_table(
        "follow_updates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("follow_id", sa.Integer, sa.ForeignKey("follows.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("owner_id", sa.Integer, nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("old", sa.JSON, nullable=False),
        sa.Column("new", sa.JSON, nullable=False),
        sa.Column("article", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,  # feed entries keep unique ids
    )
    op.create_table(
        "follow_feeds",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.Integer, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("follow_feeds")
    op.drop_table("follow_updates")
    op.drop_table("follows")
