"""Alembic's entry point: runs on the connection `rag.team.db` hands it (never from alembic.ini)."""

from alembic import context

from rag.team.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
