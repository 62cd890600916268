"""The team database on a real PostgreSQL server (Debian's package, started once per session by
the `postgres` fixture of tests/conftest.py), with the same tests as SQLite: tests/team_cases.py."""

from __future__ import annotations

import pytest

from tests.team_cases import *  # noqa: F403 - the shared cases are collected here


@pytest.fixture
def database_url(postgres) -> str:
    return postgres.new_database()
