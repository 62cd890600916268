"""The team database on a real PostgreSQL server (Debian's package, started once per session by
tests/postgres.py), with the same tests as SQLite: tests/team_cases.py."""

from __future__ import annotations

import pytest

from tests.postgres import postgres_bin, postgres_server
from tests.team_cases import *  # noqa: F403 - the shared cases are collected here

if postgres_bin() is None:
    pytest.skip("needs PostgreSQL (apt-get install postgresql; `make install-dev` does it)", allow_module_level=True)


@pytest.fixture(scope="session")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture
def database_url(postgres) -> str:
    return postgres.new_database()
