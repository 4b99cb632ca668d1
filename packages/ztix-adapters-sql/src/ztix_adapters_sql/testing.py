"""Test helpers other packages reuse (the repo's end-to-end tests too).

* :func:`temporary_postgres_database` — a fresh, migrated database with a random name on the
  PostgreSQL server at 127.0.0.1:5432 (user postgres), dropped afterwards. An unreachable
  server raises: tests that need PostgreSQL fail, never skip.
* :func:`migrated_sqlite_url` — a migrated SQLite file under a directory.
* :func:`empty_database` — delete every row (between tests that share a database).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ztix_adapters_sql.migrate import upgrade
from ztix_adapters_sql.models import TABLES_CHILD_FIRST

#: The server tests use; override with ZTIX_TEST_POSTGRES_URL (its database is the one used
#: to CREATE/DROP the temporary databases).
POSTGRES_ADMIN_URL = os.environ.get(
    "ZTIX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_engine(admin_url: str) -> Engine:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextmanager
def temporary_postgres_database(
    admin_url: str = POSTGRES_ADMIN_URL, *, migrate: bool = True, prefix: str = "ztix_test"
) -> Iterator[str]:
    """Create a database with a random name, migrate it to head (unless ``migrate`` is
    False), yield its URL, and drop it (forcing out leftover connections) at the end."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = _admin_engine(admin_url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        try:
            if migrate:
                upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def sqlite_url(path: Path) -> str:
    """The ``sqlite:///`` URL of a file."""
    return f"sqlite:///{path}"


def migrated_sqlite_url(directory: Path, name: str = "ztix.db") -> str:
    """Create ``directory/name``, migrate it to head and return its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    url = sqlite_url(directory / name)
    upgrade(url)
    return url


def copy_sqlite(template: Path, target: Path) -> str:
    """Copy a migrated SQLite file (cheaper than migrating again); returns the copy's URL."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return sqlite_url(target)


def empty_database(engine: Engine) -> None:
    """Delete every row of every ztix table, bypassing the audit trail's append-only guard
    (PostgreSQL: as a replica session, whose triggers do not fire; SQLite: drop and recreate
    the guard triggers in the same transaction)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            tables = ", ".join(TABLES_CHILD_FIRST)
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY")
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for table in TABLES_CHILD_FIRST:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per ztix table (to show that a refused write changed nothing)."""
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
            for table in TABLES_CHILD_FIRST
        }
