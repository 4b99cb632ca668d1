"""Migrations: empty → head on both databases, models and migrations agree, the start-up
check and the ``ztix db`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ztix_adapters_sql.engine import NoDatabase, create_engine_for
from ztix_adapters_sql.migrate import (
    DatabaseUnavailable,
    SchemaNotCurrent,
    current_revision,
    downgrade,
    ensure_schema_current,
    head_revision,
    upgrade,
)
from ztix_adapters_sql.models import Base
from ztix_adapters_sql.testing import sqlite_url, temporary_postgres_database
from ztix_core.cli import main as ztix_main


def _check_migrated(url: str) -> None:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            # The models and the migrations describe the same schema.
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            indexes = {ix["name"]: ix for ix in inspect(conn).get_indexes("join_requests")}
            assert indexes["uq_join_requests_live"]["unique"]
    finally:
        engine.dispose()


def _check_round_trip(url: str) -> None:
    """The migrations are reversible: down to an empty schema and up again."""
    assert downgrade(url, "base") is None
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert upgrade(url) == (None, head_revision())


def test_sqlite_upgrades_from_nothing_to_head(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh.db")
    with pytest.raises(NoDatabase, match="ztix db upgrade"):
        current_revision(url)
    with pytest.raises(NoDatabase, match="ztix db upgrade"):
        ensure_schema_current(url)
    assert list(tmp_path.iterdir()) == []  # reading never creates the database
    assert upgrade(url) == (None, head_revision())
    assert upgrade(url) == (head_revision(), head_revision())  # idempotent
    ensure_schema_current(url)
    _check_migrated(url)
    _check_round_trip(url)


def test_postgres_upgrades_from_empty_to_head() -> None:
    with temporary_postgres_database(migrate=False) as url:
        assert current_revision(url) is None
        with pytest.raises(SchemaNotCurrent, match="ztix db upgrade") as info:
            ensure_schema_current(url)
        assert info.value.check == "database_schema"
        assert upgrade(url) == (None, head_revision())
        ensure_schema_current(url)
        _check_migrated(url)
        _check_round_trip(url)
        _check_migrated(url)


def test_a_model_change_without_migration_is_detected(tmp_path: Path) -> None:
    """The comparison above is not vacuous: a table the migrations lack shows up."""
    from sqlalchemy import Column, Integer, MetaData, Table

    url = sqlite_url(tmp_path / "drift.db")
    upgrade(url)
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    Table("not_migrated", drifted, Column("id", Integer, primary_key=True))
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), drifted)
    finally:
        engine.dispose()
    assert [d[0] for d in diff] == ["add_table"]


def test_db_cli_current_and_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "cli.db")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("ZTIX_CONFIG", raising=False)
    assert ztix_main(["db", "current"]) == 1
    assert "run `ztix db upgrade`" in capsys.readouterr().out
    assert not (tmp_path / "cli.db").exists()
    assert ztix_main(["db", "upgrade"]) == 0
    assert f"upgraded from empty to {head_revision()}" in capsys.readouterr().out
    assert ztix_main(["db", "current"]) == 0
    assert f"{head_revision()} (head)" in capsys.readouterr().out
    assert ztix_main(["db", "upgrade"]) == 0
    assert "already at" in capsys.readouterr().out


def test_db_cli_refuses_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x@localhost/ztix")
    monkeypatch.delenv("ZTIX_CONFIG", raising=False)
    assert ztix_main(["db", "upgrade"]) == 2
    assert "database_url" in capsys.readouterr().err


def test_db_cli_reads_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = tmp_path / "ztix.toml"
    config.write_text(f'database_url = "{sqlite_url(tmp_path / "conf.db")}"\n')
    assert ztix_main(["--config", str(config), "db", "upgrade"]) == 0
    assert current_revision(sqlite_url(tmp_path / "conf.db")) == head_revision()
    capsys.readouterr()


def test_unreachable_databases_say_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_dir = sqlite_url(tmp_path / "no-such-dir" / "ztix.db")
    with pytest.raises(NoDatabase, match="no database at"):
        ensure_schema_current(missing_dir)
    assert not (tmp_path / "no-such-dir").exists()
    closed_port = "postgresql+psycopg://postgres:pw@127.0.0.1:1/ztix"
    with pytest.raises(DatabaseUnavailable) as info:
        upgrade(closed_port)
    assert "pw" not in str(info.value)
    assert info.value.transient  # a server may be restarting: the worker waits for it
    with pytest.raises(DatabaseUnavailable) as info:
        ensure_schema_current(closed_port)
    assert info.value.transient
    assert not DatabaseUnavailable(sqlite_url(tmp_path / "x.db"), "unable to open").transient
    (tmp_path / "a-file").write_text("")
    under_a_file = sqlite_url(tmp_path / "a-file" / "ztix.db")
    monkeypatch.setenv("DATABASE_URL", under_a_file)
    monkeypatch.delenv("ZTIX_CONFIG", raising=False)
    assert ztix_main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: cannot open the database") and err.count("\n") == 1
    assert f"cannot create the directory {tmp_path}/a-file" in err


def test_a_database_from_a_newer_ztix_is_not_told_to_upgrade(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = sqlite_url(tmp_path / "newer.db")
    upgrade(url)
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaNotCurrent, match="does not know") as info:
        ensure_schema_current(url)
    assert "ztix db upgrade" not in str(info.value)
