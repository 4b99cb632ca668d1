"""ztix storage adapter: SQLAlchemy 2, Alembic, psycopg 3; SQLite and PostgreSQL.

Use :func:`sql_uow_factory` for units of work, :func:`upgrade` to migrate and
:func:`ensure_schema_current` at start-up. The names load on first use: importing the
plugin module (every ``ztix`` command does) must not pull in SQLAlchemy and Alembic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ztix_adapters_sql.engine import NoDatabase
    from ztix_adapters_sql.migrate import (
        DatabaseUnavailable,
        SchemaNotCurrent,
        current_revision,
        ensure_schema_current,
        head_revision,
        upgrade,
    )
    from ztix_adapters_sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory, sql_uow_factory

_WHERE = {
    "DatabaseUnavailable": "migrate",
    "NoDatabase": "engine",
    "SchemaNotCurrent": "migrate",
    "current_revision": "migrate",
    "ensure_schema_current": "migrate",
    "head_revision": "migrate",
    "upgrade": "migrate",
    "SqlUnitOfWork": "uow",
    "SqlUnitOfWorkFactory": "uow",
    "sql_uow_factory": "uow",
}

__all__ = [
    "DatabaseUnavailable",
    "NoDatabase",
    "SchemaNotCurrent",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "current_revision",
    "ensure_schema_current",
    "head_revision",
    "sql_uow_factory",
    "upgrade",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
