"""Fixtures: one PostgreSQL database per test run (created and dropped here; emptied between
tests), one SQLite file per test (a copy of a migrated template)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_sql.testing import (
    copy_sqlite,
    empty_database,
    migrated_sqlite_url,
    temporary_postgres_database,
)
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory, sql_uow_factory


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated database on 127.0.0.1:5432 for the whole run (fails when unreachable)."""
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_factory(postgres_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    factory = sql_uow_factory(postgres_url)
    yield factory
    factory.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sqlite-template")
    migrated_sqlite_url(directory)
    return directory / "ztix.db"


@pytest.fixture
def sqlite_factory(sqlite_template: Path, tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    """Units of work over a fresh, migrated SQLite file."""
    factory = sql_uow_factory(copy_sqlite(sqlite_template, tmp_path / "ztix.db"))
    yield factory
    factory.dispose()


@pytest.fixture
def pg_factory(postgres_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    """Units of work over the run's PostgreSQL database, emptied first."""
    empty_database(postgres_factory.engine)
    return postgres_factory


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_factory(request: pytest.FixtureRequest) -> SqlUnitOfWorkFactory:
    """Each test that uses it runs once on SQLite and once on PostgreSQL, over an empty store."""
    name = "sqlite_factory" if request.param == "sqlite" else "pg_factory"
    factory: SqlUnitOfWorkFactory = request.getfixturevalue(name)
    return factory


@pytest.fixture
def uow_factory(sql_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    """The fixture the core's repository contract asks for."""
    return sql_factory
