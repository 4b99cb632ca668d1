"""ztix storage adapter: SQLAlchemy 2, Alembic, psycopg 3; SQLite and PostgreSQL.

Use :func:`sql_uow_factory` for units of work, :func:`upgrade` to migrate and
:func:`ensure_schema_current` at start-up.
"""

from ztix_adapters_sql.migrate import (
    DatabaseUnavailable,
    SchemaNotCurrent,
    current_revision,
    ensure_schema_current,
    head_revision,
    upgrade,
)
from ztix_adapters_sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory, sql_uow_factory
from ztix_adapters_sql.web_records import OAuthState, WebSession

__all__ = [
    "DatabaseUnavailable",
    "OAuthState",
    "SchemaNotCurrent",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "WebSession",
    "current_revision",
    "ensure_schema_current",
    "head_revision",
    "sql_uow_factory",
    "upgrade",
]
