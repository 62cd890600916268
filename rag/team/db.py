"""The team database: an engine for the URL in the settings, brought to the latest schema when
opened, and transactions on it.

SQLite (the default, `team.sqlite3` in the index folder) runs in WAL mode so readers never wait
for a writer; a transaction that writes starts with BEGIN IMMEDIATE, because SQLite cannot turn a
reading transaction into a writing one while another process writes (it fails at once, whatever
the busy timeout). PostgreSQL needs nothing special: several app processes or machines share one.
Migrations (Alembic, rag/team/migrations/) run under a lock, so processes starting together
upgrade the schema once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from rag.config import Config
from rag.errors import ConfigError, RagError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_WRITE = "rag_write"  # execution option: this transaction writes (BEGIN IMMEDIATE on SQLite)
_MIGRATION_LOCK = 7_023_023  # PostgreSQL advisory lock id held while migrating


class DatabaseUnavailable(RagError):
    """The team database cannot be reached or used."""


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns times without their zone; they are stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


class Database:
    """An open team database. `reading()` and `writing()` give a session in one transaction,
    committed at the end of the block (rolled back on an error)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})

    @property
    def label(self) -> str:
        """The URL without its password, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._session(self.engine) as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._session(self._writer) as session:
            yield session

    @contextmanager
    def _session(self, bind) -> Iterator[Session]:
        try:
            with Session(bind, expire_on_commit=False) as session, session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"The team database ({self.label}) failed: {_first_line(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()


def open_database(config: Config) -> Database:
    """The database RAG_DATABASE_URL names (default: SQLite in the index folder), at the latest schema."""
    admin = config.web.auth_pair
    return open_url(config.team.url(config.paths.index_dir), settings_admin=admin[0] if admin else None)


def open_url(url: str, revision: str = "head", settings_admin: str | None = None) -> Database:
    """The database at `url`, migrated to `revision` (tests migrate step by step). `settings_admin`
    is RAG_AUTH's user name: migration 0004 gives that name's rows to the RAG_AUTH admin's id."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("RAG_DATABASE_URL is not a database URL (e.g. postgresql+psycopg://user:pw@host/db)") from None
    sqlite = parsed.get_backend_name() == "sqlite"
    try:
        if sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_transactions(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"RAG_DATABASE_URL needs a driver that is not installed: {exc}") from None
    database = Database(engine)
    try:
        _migrate(database, revision, settings_admin)
    except OperationalError as exc:
        engine.dispose()
        raise DatabaseUnavailable(f"Cannot open the team database ({database.label}): {_first_line(exc)}") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseUnavailable(f"The team database ({database.label}) cannot be upgraded: {_first_line(exc)}") from None
    return database


def current_revision(database: Database) -> str | None:
    """The schema revision the database is at (None: empty)."""
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _migrate(database: Database, revision: str, settings_admin: str | None) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS))
    with database._writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
        settings.attributes["connection"] = connection
        settings.attributes["settings_admin"] = settings_admin
        command.upgrade(settings, revision)


def _sqlite_transactions(engine: Engine) -> None:
    """WAL, foreign keys, and transactions begun by us (pysqlite's own begin is lazy and deferred)."""

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection):
        writes = connection.get_execution_options().get(_WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _first_line(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [original.__class__.__name__])[0]
