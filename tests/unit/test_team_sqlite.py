"""The team database on SQLite (the default: a file in the index folder). The same tests run on
PostgreSQL in tests/servers/test_team_postgres.py; they are written once, in tests/team_cases.py."""

from __future__ import annotations

import pytest

from tests.team_cases import *  # noqa: F403 - the shared cases are collected here


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'index' / 'team.sqlite3'}"
