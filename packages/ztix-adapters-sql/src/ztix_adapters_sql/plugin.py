"""The ``sql`` plugin (entry-point group ``ztix``): the storage backend ``sql`` (with its
schema check), the ``ztix db`` command, and one-line explanations of database errors."""

from __future__ import annotations

import sys

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.settings import Settings


def _storage(settings: Settings) -> UnitOfWorkFactory:
    from ztix_adapters_sql.uow import sql_uow_factory

    return sql_uow_factory(settings.database_url)


def _schema_current(settings: Settings) -> None:
    from ztix_adapters_sql.migrate import ensure_schema_current

    ensure_schema_current(settings.database_url)


def _validate(settings: Settings) -> None:
    from ztix_adapters_sql.engine import normalise_url

    normalise_url(settings.database_url)


def _db_command() -> object:
    from ztix_adapters_sql.cli import DbCommand

    return DbCommand()


@hookimpl
def ztix_storage_backends() -> list[Registration]:
    return [
        Registration(
            "sql",
            _storage,
            None,
            "SQLAlchemy: SQLite (embedded default) or PostgreSQL",
            validate=_validate,
            ready=_schema_current,
        )
    ]


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [Registration("db", _db_command, None, "database schema: upgrade, current")]


@hookimpl
def ztix_explain_error(error: BaseException, settings: Settings | None) -> str | None:
    if "sqlalchemy" not in sys.modules:  # then the error cannot be SQLAlchemy's
        return None
    from ztix_adapters_sql.explain import explain

    return explain(error, settings.database_url if settings is not None else None)
