"""Conversations, feedback and logins belong to an account id, not a user name.

Before, they were owned by the name string, so a new account given a removed user's name got the
old user's conversations, links and logins. Each row now gets the id of the account that had its
name when the row was made: `users.id` for a database account created no later than the row (a row
older than the account was a previous holder's of the name), SETTINGS_ADMIN_ID (0) for the RAG_AUTH
admin's name (passed in by `rag.team.db` from the settings), LOCAL_ID (-1) for "local", the user of
an app with no login. Any other name had no account any more: its conversations and feedback are
kept but belong to nobody (owner NULL, visible to no one), its links are revoked and its logins
deleted. Shares lose their own owner column: a link belongs to its answer's conversation.

On SQLite `users` is rebuilt with AUTOINCREMENT, so that the id of a removed account (the
highest) is never handed out again.

Revision ID: 0004
Revises: 0003
"""

import datetime as dt

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SETTINGS_ADMIN_ID, LOCAL_ID = 0, -1  # as in rag/team/models.py (a migration keeps its own copy)


def upgrade() -> None:
    bind = op.get_bind()
    admin = context.config.attributes.get("settings_admin")  # RAG_AUTH's user name, or None
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass

    op.add_column("conversations", sa.Column("owner_id", sa.Integer, nullable=True))
    op.add_column("feedback", sa.Column("account_id", sa.Integer, nullable=True))
    op.add_column("sessions", sa.Column("account_id", sa.Integer, nullable=True))
    for table, name, account in (("conversations", "owner", "owner_id"), ("feedback", "username", "account_id"),
                                 ("sessions", "username", "account_id")):
        _assign(table, name, account, admin)

    now = dt.datetime.now(dt.timezone.utc)
    op.execute(sa.text(
        "UPDATE shares SET revoked_at = :now WHERE revoked_at IS NULL AND turn_id IN ("
        "SELECT turns.id FROM turns JOIN conversations ON conversations.id = turns.conversation_id "
        "WHERE conversations.owner_id IS NULL)").bindparams(sa.bindparam("now", now, sa.DateTime(timezone=True))))
    op.execute("DELETE FROM sessions WHERE account_id IS NULL")

    op.drop_index("ix_conversations_owner", table_name="conversations")
    op.drop_index("ix_shares_owner", table_name="shares")
    op.drop_index("ix_feedback_username", table_name="feedback")
    op.drop_index("ix_sessions_username", table_name="sessions")
    # conversations is referenced by turns: never rebuilt (SQLite's DROP TABLE would cascade).
    op.drop_column("conversations", "owner")
    with op.batch_alter_table("shares") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("username")  # and with it the unique (turn_id, username)
        batch.create_unique_constraint("uq_feedback_turn_account", ["turn_id", "account_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("username")
        batch.alter_column("account_id", existing_type=sa.Integer, nullable=False)
    op.create_index("ix_conversations_owner_id", "conversations", ["owner_id"])
    op.create_index("ix_feedback_account_id", "feedback", ["account_id"])
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])


def _assign(table: str, name: str, account: str, admin: str | None) -> None:
    """Set `account` from the name in `name`, as described at the top."""
    if admin:
        op.execute(sa.text(f"UPDATE {table} SET {account} = :id WHERE {name} = :admin")
                   .bindparams(id=SETTINGS_ADMIN_ID, admin=admin))
    op.execute(
        f"UPDATE {table} SET {account} = (SELECT users.id FROM users WHERE users.username = {table}.{name} "
        f"AND users.created_at <= {table}.created_at) WHERE {account} IS NULL"
    )
    op.execute(sa.text(f"UPDATE {table} SET {account} = :id WHERE {account} IS NULL AND {name} = 'local'")
               .bindparams(id=LOCAL_ID))


def downgrade() -> None:
    """Back to names: database accounts' current names, "local", and RAG_AUTH's name when known
    (rows of no account get an empty name, which no login has)."""
    admin = context.config.attributes.get("settings_admin") or ""
    op.add_column("conversations", sa.Column("owner", sa.String(64), nullable=False, server_default=""))
    op.add_column("shares", sa.Column("owner", sa.String(64), nullable=False, server_default=""))
    op.add_column("feedback", sa.Column("username", sa.String(64), nullable=False, server_default=""))
    op.add_column("sessions", sa.Column("username", sa.String(64), nullable=False, server_default=""))
    for table, name, account in (("conversations", "owner", "owner_id"), ("feedback", "username", "account_id"),
                                 ("sessions", "username", "account_id")):
        op.execute(sa.text(
            f"UPDATE {table} SET {name} = COALESCE((SELECT users.username FROM users WHERE users.id = {table}.{account}), "
            f"CASE WHEN {account} = :admin_id THEN :admin WHEN {account} = :local_id THEN 'local' ELSE '' END)"
        ).bindparams(admin_id=SETTINGS_ADMIN_ID, admin=admin, local_id=LOCAL_ID))
    op.execute(
        "UPDATE shares SET owner = (SELECT conversations.owner FROM turns JOIN conversations "
        "ON conversations.id = turns.conversation_id WHERE turns.id = shares.turn_id)"
    )
    op.drop_index("ix_conversations_owner_id", table_name="conversations")
    op.drop_index("ix_feedback_account_id", table_name="feedback")
    op.drop_index("ix_sessions_account_id", table_name="sessions")
    op.drop_column("conversations", "owner_id")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint("uq_feedback_turn_account", type_="unique")
        batch.drop_column("account_id")
        batch.create_unique_constraint("uq_feedback_turn_username", ["turn_id", "username"])
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("account_id")
    op.create_index("ix_conversations_owner", "conversations", ["owner"])
    op.create_index("ix_shares_owner", "shares", ["owner"])
    op.create_index("ix_feedback_username", "feedback", ["username"])
    op.create_index("ix_sessions_username", "sessions", ["username"])
