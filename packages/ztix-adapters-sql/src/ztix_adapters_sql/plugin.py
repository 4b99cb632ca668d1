"""The ``sql`` plugin (entry-point group ``ztix``): the storage backend ``sql`` and the
``ztix db`` command."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.settings import Settings


def _storage(settings: Settings) -> UnitOfWorkFactory:
    from ztix_adapters_sql.uow import sql_uow_factory

    return sql_uow_factory(settings.database_url)


def _db_command() -> object:
    from ztix_adapters_sql.cli import DbCommand

    return DbCommand()


@hookimpl
def ztix_storage_backends() -> list[Registration]:
    return [
        Registration("sql", _storage, None, "SQLAlchemy: SQLite (embedded default) or PostgreSQL")
    ]


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [Registration("db", _db_command, None, "database schema: upgrade, current")]
