"""Engines for the two supported URLs.

* ``sqlite:////absolute/path`` — the embedded default: WAL journal, foreign keys on, a
  busy timeout, and every transaction begins ``IMMEDIATE`` so units of work take the single
  writer lock up front and serialise instead of failing on a lock upgrade. The path must be
  absolute (a relative one would name another database in every working directory), and
  only :func:`~ztix_adapters_sql.migrate.upgrade` creates the file: every other engine
  opens it read-write without creating it, so a read-only command never leaves an empty
  database behind (:class:`NoDatabase` says to run ``ztix db upgrade``).
* ``postgresql+psycopg://…`` (``postgresql://`` and ``postgres://`` are taken to mean
  psycopg 3) — a connection pool with pre-ping.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ztix_core.errors import NotReady, SettingsError

SETTING = "database_url"
SQLITE_BUSY_TIMEOUT_S = 30.0
UPGRADE = "run `ztix db upgrade` (with the same --config / DATABASE_URL) to create it"


class NoDatabase(NotReady):
    """The SQLite file does not exist (only ``ztix db upgrade`` creates it)."""

    def __init__(self, path: str) -> None:
        super().__init__("database", f"no database at {path}: {UPGRADE}", UPGRADE)
        self.path = path


def normalise_url(raw: str) -> URL:
    """Parse a database URL and pin the driver; SettingsError names what is wrong."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise SettingsError(
            SETTING, "is not a database URL (sqlite:///path or postgresql+psycopg://user@host/db)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise SettingsError(
                SETTING,
                "an in-memory SQLite database is not supported (each connection would see "
                "its own empty database); use sqlite:////absolute/path/to/ztix.db",
            )
        if not Path(url.database).is_absolute():
            raise SettingsError(
                SETTING,
                f"the SQLite path {url.database!r} is relative, so every working directory "
                f"would have its own database; use an absolute path "
                f"(sqlite:////absolute/path/to/ztix.db) or leave database_url unset for the "
                f"data directory",
            )
        return url.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        if driver in ("", "psycopg"):
            return url.set(drivername="postgresql+psycopg")
        raise SettingsError(SETTING, f"driver {driver!r} is not supported; use postgresql+psycopg")
    raise SettingsError(SETTING, f"backend {backend!r} is not supported; use sqlite or postgresql")


def _sqlite_engine(url: URL, *, create: bool, **kwargs: Any) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **kwargs,
    )
    path = str(url.database)

    @event.listens_for(engine, "do_connect")
    def _open_without_creating(
        dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]
    ) -> None:
        if create:
            return
        if not Path(path).exists():
            raise NoDatabase(path)
        # mode=rw: never create the file, even if it vanishes after the check above.
        uri = f"file:{urllib.parse.quote(path)}?mode=rw"
        if cargs:
            cargs[0] = uri  # pysqlite passes the file name positionally
        else:
            cparams["database"] = uri
        cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so SAVEPOINTs work and BEGIN is IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_engine_for(raw_url: str | URL, *, create: bool = False, **kwargs: Any) -> Engine:
    """An engine configured for ztix (see the module docstring). ``create=True`` (migrations
    only) lets SQLite create the file and its directory."""
    url = normalise_url(raw_url if isinstance(raw_url, str) else raw_url.render_as_string(False))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, create=create, **kwargs)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if "poolclass" not in kwargs:
        options.update(pool_size=10, max_overflow=20)
    options.update(kwargs)
    return create_engine(url, **options)


def safe_url(raw_url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    try:
        url = raw_url if isinstance(raw_url, URL) else make_url(raw_url)
    except ArgumentError:
        return "<unparseable URL>"
    return url.render_as_string(hide_password=True)
