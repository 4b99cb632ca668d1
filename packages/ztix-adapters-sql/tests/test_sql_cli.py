"""The SQL adapter at the ``ztix`` command's boundary: the default database lives in the
data directory, read-only commands never create it, the schema check refuses a database
behind head, and database exceptions reach the user as one line naming the fix."""

from __future__ import annotations

import argparse
import os
import sqlite3
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_sql.engine import NoDatabase
from ztix_adapters_sql.migrate import SchemaNotCurrent, head_revision, upgrade
from ztix_adapters_sql.testing import sqlite_url, temporary_postgres_database
from ztix_core.cli import main
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.settings import load_settings


class ReadUsers:
    """A read-only command over the configured storage (as ``rs render`` reads members)."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        settings = load_settings(args.config)
        plugins: Plugins = args.plugins
        factory = plugins.select("storage_backends", "sql", "ZTIX_STORAGE").factory(settings)
        with factory() as uow:
            print(len(uow.users.list()))
        return 0


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [Registration("read-users", ReadUsers, None, "read through the sql storage")]


def _plugins() -> Plugins:
    extra = types.SimpleNamespace(__name__="reader", ztix_cli_commands=ztix_cli_commands)
    return Plugins(build_plugin_manager(disabled=(), extra=[extra]))


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _tree(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size for p in directory.rglob("*")}


def test_the_default_database_is_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "ztix.db"
    assert main(["db", "current"]) == 1
    assert capsys.readouterr().out == (
        f"no database at {db}: run `ztix db upgrade` (with the same --config / DATABASE_URL) "
        "to create it\n"
    )
    assert main(["read-users"], plugins=_plugins()) == 2
    assert capsys.readouterr().err.startswith(f"ztix: error: no database at {db}: run `ztix")
    assert _tree(tmp_path) == {}  # neither the file nor its directory was created
    assert main(["db", "upgrade"]) == 0
    assert f"sqlite:///{db}: upgraded from empty to {head_revision()}" in capsys.readouterr().out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # another working directory finds the same database
    assert main(["db", "current"]) == 0
    assert f"{head_revision()} (head)" in capsys.readouterr().out
    assert main(["read-users"], plugins=_plugins()) == 0
    assert capsys.readouterr().out == "0\n"
    assert list(elsewhere.iterdir()) == []


def test_a_relative_sqlite_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ztix.db")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: setting database_url: the SQLite path 'ztix.db' is")
    assert err.count("\n") == 1
    monkeypatch.setenv("ZTIX_STORAGE", "sql")
    assert main(["settings"]) == 2
    assert "setting database_url: the SQLite path 'ztix.db' is relative" in (
        capsys.readouterr().err
    )
    assert _tree(tmp_path) == {}


def test_the_schema_check_refuses_a_database_behind_head(tmp_path: Path) -> None:
    plugins = _plugins()
    url = sqlite_url(tmp_path / "ztix.db")
    settings = load_settings(None, {"DATABASE_URL": url})
    with pytest.raises(NoDatabase):
        plugins.storage_ready(settings)
    sqlite3.connect(tmp_path / "ztix.db").close()  # an empty file, as an old ztix left it
    with pytest.raises(SchemaNotCurrent, match="run `ztix db upgrade`"):
        plugins.storage_ready(settings)
    upgrade(url)
    plugins.storage_ready(settings)


def test_the_schema_check_refuses_an_unmigrated_postgres_database() -> None:
    with temporary_postgres_database(migrate=False) as url:
        settings = load_settings(None, {"DATABASE_URL": url})
        with pytest.raises(SchemaNotCurrent, match="run `ztix db upgrade`"):
            _plugins().storage_ready(settings)


def test_reading_an_unmigrated_sqlite_database_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:  # a database, but not a ztix one
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE unrelated (x)")
    conn.close()
    before = db.read_bytes()
    monkeypatch.setenv("DATABASE_URL", sqlite_url(db))
    assert main(["read-users"], plugins=_plugins()) == 2
    assert capsys.readouterr().err == (
        f"ztix: error: the database at sqlite:///{db} is not migrated "
        "(no such table: users): run `ztix db upgrade`\n"
    )
    assert db.read_bytes() == before
    wal = tmp_path / "other.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # nothing waits to be written


def test_reading_an_unmigrated_postgres_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with temporary_postgres_database(migrate=False) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["read-users"], plugins=_plugins()) == 2
        err = capsys.readouterr().err
    assert err.startswith("ztix: error: the database at postgresql")
    assert 'is not migrated (relation "users" does not exist' in err
    assert err.endswith(": run `ztix db upgrade`\n") and err.count("\n") == 1


def test_an_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/ztix")
    assert main(["read-users"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: cannot reach the database at postgresql+psycopg://")
    assert "check DATABASE_URL" in err and "s3cret" not in err and err.count("\n") == 1


def test_debug_shows_the_database_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    monkeypatch.setenv("DATABASE_URL", sqlite_url(db))
    assert main(["--debug", "read-users"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "OperationalError" in err
    assert err.splitlines()[-1].startswith("ztix: error: the database at")


_NETWORKS = """
[[networks]]
id = "8056c2e21c000001"
name = "ix"
ipv4_prefix = "10.0.0.0/24"
ipv6_prefix = "fd00::/64"
"""


def test_db_upgrade_writes_the_configured_networks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ztix_adapters_sql.uow import SqlUnitOfWorkFactory

    config = tmp_path / "ztix.toml"
    config.write_text(_NETWORKS)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "network 8056c2e21c000001 created from the settings" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "upgrade"]) == 0  # idempotent
    assert "created" not in capsys.readouterr().out
    config.write_text(_NETWORKS.replace('"ix"', '"the exchange"'))
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "network 8056c2e21c000001 updated from the settings" in capsys.readouterr().out
    factory = SqlUnitOfWorkFactory(load_settings(config).database_url)
    with factory() as uow:
        (network,) = uow.networks.list()
        actions = [e.action for e in uow.audit.for_target("network", network.id.value)]
    assert network.name == "the exchange" and actions == ["network.created", "network.updated"]
