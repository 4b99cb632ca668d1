"""URLs, SQLite pragmas, the plugin registrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ztix_adapters_sql.engine import create_engine_for, normalise_url, safe_url
from ztix_adapters_sql.testing import migrated_sqlite_url
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.errors import SettingsError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import load_settings


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:////var/lib/ztix/ztix.db", "sqlite+pysqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_supported_urls(raw: str, driver: str) -> None:
    assert normalise_url(raw).drivername == driver


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "backend 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "psycopg2"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///ztix.db", "relative"),
        ("sqlite:///data/ztix.db", "relative"),
    ],
)
def test_unsupported_urls_name_the_setting(raw: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as info:
        normalise_url(raw)
    assert info.value.setting == "database_url"


def test_passwords_stay_out_of_messages() -> None:
    assert "s3cret" not in safe_url("postgresql+psycopg://u:s3cret@h/db")


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(migrated_sqlite_url(tmp_path))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_sql_storage_backend_and_db_command_are_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = Plugins(build_plugin_manager())
    assert "db" in plugins.cli_commands()
    url = migrated_sqlite_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("ZTIX_CONFIG", raising=False)
    reg = plugins.select("storage_backends", "sql", "storage")
    factory = reg.factory(load_settings())
    try:
        assert isinstance(factory, SqlUnitOfWorkFactory) and factory.url == url
        with factory() as uow:
            assert uow.users.list() == []
    finally:
        factory.dispose()
