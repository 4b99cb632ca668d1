"""Schema migrations through Alembic's programmatic API (no alembic.ini needed): upgrade,
current revision, head revision, and the start-up check long-running commands run."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from ztix_adapters_sql.engine import create_engine_for, normalise_url, safe_url
from ztix_core.errors import NotReady

log = logging.getLogger(__name__)
SCRIPT_LOCATION = str(Path(__file__).with_name("migrations"))


class SchemaNotCurrent(NotReady):
    """The database schema is not at the head revision this code needs."""

    def __init__(self, url: str, current: str | None, head: str, *, known: bool = True) -> None:
        if known:
            remediation = "run `ztix db upgrade` (with the same --config / DATABASE_URL)"
            message = (
                f"the database {safe_url(url)} is at schema revision "
                f"{current or 'none (empty)'}, but this ztix needs {head}; {remediation}"
            )
        else:
            remediation = "run the ztix version that migrated this database, or a newer one"
            message = (
                f"the database {safe_url(url)} is at schema revision {current}, which this "
                f"ztix does not know (it needs {head}); {remediation}"
            )
        super().__init__("database_schema", message, remediation)
        self.current = current
        self.head = head


class DatabaseUnavailable(NotReady):
    """The database cannot be reached or opened (transient for a database server, which
    may be restarting; a SQLite file that cannot be opened stays that way)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            "database",
            f"cannot open the database {safe_url(url)}: {reason}",
            "check DATABASE_URL / database_url, that the server runs and accepts this user, "
            "and for SQLite that the directory exists and is writable",
            transient=not url.startswith("sqlite"),
        )


@contextmanager
def _reachable(url: str, *, create: bool = False) -> Iterator[Engine]:
    engine = _engine(url, create=create)
    try:
        yield engine
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(url, reason) from None
    finally:
        engine.dispose()


def alembic_config(connection: Connection | None = None, *, per_migration: bool = False) -> Config:
    """An Alembic config pointing at the packaged migrations; ``per_migration``: commit
    after each migration (``connection`` must not be in a transaction)."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    cfg.attributes["per_migration"] = per_migration
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _engine(url: str, *, create: bool = False) -> Engine:
    return create_engine_for(url, poolclass=NullPool, create=create)


def _make_sqlite_directory(url: str) -> None:
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database is None:
        return
    directory = Path(parsed.database).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            url, f"cannot create the directory {directory}: {exc.strerror or exc}"
        ) from None


#: How long one migration statement may wait for a table lock on PostgreSQL. A migration
#: that queued behind a long transaction of the running web or worker would make every
#: later statement on that table queue behind it: better give up soon and try again.
LOCK_TIMEOUT_MS = 5_000
#: How often a migration that met a lock timeout or a deadlock is tried again.
LOCK_ATTEMPTS = 12
#: PostgreSQL's codes for "lock not available" (lock_timeout) and "deadlock detected".
_LOCK_CONTENTION = frozenset({"55P03", "40P01"})


def _lock_contention(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _LOCK_CONTENTION


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database at ``url``; returns (revision before, revision after). The only
    way a SQLite database (and its directory) is created.

    On PostgreSQL the upgrade is safe while the previous release still runs (the
    migrations are additive; a test holds them to it): each migration commits on its own,
    so it holds one table's lock at a time and cannot deadlock with the running code's
    transactions, and waits at most :data:`LOCK_TIMEOUT_MS` for a lock; a migration that
    gave up (or lost a deadlock) is tried again after a pause, from where it stopped.
    SQLite upgrades in one transaction (one host, no concurrent release to protect)."""
    _make_sqlite_directory(url)
    with _reachable(url, create=True) as engine:
        if engine.dialect.name != "postgresql":
            with engine.begin() as conn:
                before = MigrationContext.configure(conn).get_current_revision()
                command.upgrade(alembic_config(conn), revision)
                after = MigrationContext.configure(conn).get_current_revision()
            return before, after
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
                    conn.commit()
                    command.upgrade(alembic_config(conn, per_migration=True), revision)
                    conn.commit()
                break
            except OperationalError as exc:
                if not _lock_contention(exc) or attempt == LOCK_ATTEMPTS:
                    raise
                pause = min(0.5 * 2**attempt, 10.0)
                log.warning(
                    "a migration waited too long for a lock held by running ztix processes "
                    "(%s); trying again in %.1f s (attempt %d of %d)",
                    str(exc.orig).splitlines()[0],
                    pause,
                    attempt + 1,
                    LOCK_ATTEMPTS,
                )
                time.sleep(pause)
        with engine.connect() as conn:
            after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def downgrade(url: str, revision: str) -> str | None:
    """Downgrade the database at ``url`` to ``revision`` ("base" empties it); returns the
    revision after. For development and tests: production only moves forward."""
    with _reachable(url) as engine, engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
        return MigrationContext.configure(conn).get_current_revision()


def current_revision(url: str) -> str | None:
    """The database's revision (None for an empty database); :class:`NoDatabase` when the
    SQLite file does not exist (it is not created)."""
    with _reachable(url) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema_current(url: str) -> None:
    """Raise :class:`SchemaNotCurrent` (telling the user to run ``ztix db upgrade``) unless the
    database is at the head revision; :class:`NoDatabase` when the SQLite file is missing.
    The storage plugin offers it as its ``ready`` check, which ``ztix worker`` runs at
    start."""
    current = current_revision(url)
    head = head_revision()
    if current != head:
        scripts = ScriptDirectory.from_config(alembic_config())
        known = current is None or current in {s.revision for s in scripts.walk_revisions()}
        raise SchemaNotCurrent(url, current, head, known=known)
