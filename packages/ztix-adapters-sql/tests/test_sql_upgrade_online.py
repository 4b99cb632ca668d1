"""``ztix db upgrade`` is safe while the previous release still runs.

An upgrade starts the new schema while the old web and worker still serve: they must keep
working until they are replaced. That holds when every migration is *additive* — it adds
tables, nullable columns, columns with a server default and indexes, and never drops,
renames or retypes what older code reads or writes. Two tests hold the rule:

* every step from the first migration to head is compared, reflected schema before and
  after: nothing an older release knows disappears or changes type, nothing it inserts
  becomes mandatory without a default;
* a PostgreSQL database at the first migration, holding data, is upgraded to head by the
  real ``ztix db upgrade`` while two "old release" clients read and write it the way the
  first release's code did (its columns only, short transactions, like its web pages and
  worker). None of their statements may fail, before, during or after the upgrade; then
  today's repositories read the old rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from ztix_adapters_sql.engine import create_engine_for
from ztix_adapters_sql.migrate import alembic_config, current_revision, head_revision, upgrade
from ztix_adapters_sql.testing import temporary_postgres_database
from ztix_adapters_sql.uow import sql_uow_factory
from ztix_core.status import RequestStatus
from ztix_core.values import NetworkId

FIRST = "0001"
NETWORK = "8056c2e21c000001"
#: A migration may break the rule only when it says why here (none does today).
NOT_ADDITIVE: dict[str, str] = {}


def _revisions() -> list[str]:
    """Every revision from the first to head, in order."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions("base", "heads")))]


def _schema(engine: Engine) -> dict[str, dict[str, dict[str, Any]]]:
    """table → column → {type, nullable, default} as PostgreSQL reports them."""
    with engine.connect() as conn:
        found = inspect(conn)
        return {
            table: {
                c["name"]: {
                    "type": str(c["type"]),
                    "nullable": c["nullable"],
                    "default": c.get("default"),
                }
                for c in found.get_columns(table)
            }
            for table in found.get_table_names()
            if table != "alembic_version"
        }


def test_every_migration_is_additive() -> None:
    with temporary_postgres_database(migrate=False, prefix="ztix_additive") as url:
        engine = create_engine_for(url)
        try:
            upgrade(url, FIRST)
            before = _schema(engine)
            problems: list[str] = []
            for revision in _revisions()[1:]:
                upgrade(url, revision)
                after = _schema(engine)
                found: list[str] = []
                for table, columns in before.items():
                    if table not in after:
                        found.append(f"drops table {table}")
                        continue
                    for name, column in columns.items():
                        now = after[table].get(name)
                        if now is None:
                            found.append(f"drops {table}.{name}")
                        elif now["type"] != column["type"]:
                            found.append(
                                f"retypes {table}.{name}: {column['type']} → {now['type']}"
                            )
                        elif column["nullable"] and not now["nullable"]:
                            found.append(f"makes {table}.{name} NOT NULL")
                    for name in after[table].keys() - columns.keys():
                        new = after[table][name]
                        if not new["nullable"] and new["default"] is None:
                            found.append(
                                f"adds {table}.{name} NOT NULL without a server default: "
                                "the previous release's INSERTs would fail"
                            )
                if found and revision not in NOT_ADDITIVE:
                    problems += [f"migration {revision} {p}" for p in found]
                before = after
        finally:
            engine.dispose()
    assert not problems, "\n".join(problems)


def _seed(engine: Engine) -> dict[str, uuid.UUID]:
    """Rows as the first release wrote them: a user, a network, an active member, an audit
    event and a sent outbox message."""
    now = datetime.now(UTC)
    user, request, membership = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, username_key, display_name, email,"
                " email_verified, verified_user, is_admin, created_at) VALUES (:id, 'olga',"
                " 'olga', 'Olga', 'olga@example.net', true, true, false, :now)"
            ),
            {"id": user, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO networks (id, name, ipv4_prefix, ipv6_prefix, description)"
                " VALUES (:id, 'ix', '10.77.0.0/24', 'fd77::/64', '')"
            ),
            {"id": NETWORK},
        )
        conn.execute(
            text(
                "INSERT INTO asn_links (user_id, asn, source, can_manage_sessions, created_at)"
                " VALUES (:u, 21060, 'local', true, :now)"
            ),
            {"u": user, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO join_requests (id, user_id, asn, network_id, node_id, status,"
                " requested_at, updated_at, notes, retry_count, decided_at, decided_by,"
                " provisioned_at) VALUES (:id, :u, 21060, :n, 'a1b2c3d4e5', 'active', :now,"
                " :now, 'from the first release', 0, :now, 'admin', :now)"
            ),
            {"id": request, "u": user, "n": NETWORK, "now": now},
        )
        for version, address in ((4, "10.77.0.10"), (6, "fd77::10")):
            conn.execute(
                text(
                    "INSERT INTO ip_allocations (network_id, address, version, request_id)"
                    " VALUES (:n, :a, :v, :r)"
                ),
                {"n": NETWORK, "a": address, "v": version, "r": request},
            )
        conn.execute(
            text(
                "INSERT INTO memberships (id, request_id, network_id, node_id, asn, ipv4, ipv6,"
                " created_at, updated_at, authorized, config_generation) VALUES (:id, :r, :n,"
                " 'a1b2c3d4e5', 21060, '10.77.0.10', 'fd77::10', :now, :now, true, 1)"
            ),
            {"id": membership, "r": request, "n": NETWORK, "now": now},
        )
    return {"user": user, "request": request}


class OldRelease:
    """Statements of the first release's web pages and worker, each in a short transaction
    of its own, run in a loop on a thread until stopped; every failure is kept."""

    def __init__(self, engine: Engine, user: uuid.UUID) -> None:
        self.engine = engine
        self.user = user
        self.errors: list[str] = []
        self.done = 0
        self.asn = 30_000
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, args=(step,), daemon=True)
            for step in (self._pages, self._worker)
        ]

    def _pages(self) -> None:
        """The queue, a request page and a sign-in, by the first release's columns."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT r.id, r.asn, r.status, r.requested_at, m.ipv4, m.ipv6, m.authorized"
                    " FROM join_requests r LEFT JOIN memberships m ON m.request_id = r.id"
                    " WHERE r.status IN ('pending', 'approved', 'active')"
                    " ORDER BY r.requested_at DESC LIMIT 50"
                )
            ).all()
            conn.execute(
                text(
                    "SELECT id, display_name, email, is_admin FROM users"
                    " WHERE username_key = 'olga'"
                )
            ).one()
            conn.execute(
                text(
                    "SELECT seq, action, actor, metadata FROM audit_events"
                    " ORDER BY seq DESC LIMIT 20"
                )
            ).all()

    def _worker(self) -> None:
        """A request filed, approved and provisioned; its audit and outbox rows."""
        now = datetime.now(UTC)
        request = uuid.uuid4()
        self.asn += 1  # one live request per ASN and network
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO join_requests (id, user_id, asn, network_id, node_id, status,"
                    " requested_at, updated_at, notes, retry_count) VALUES (:id, :u, :asn, :n,"
                    " :node, 'pending', :now, :now, '', 0)"
                ),
                {
                    "id": request,
                    "u": self.user,
                    "asn": self.asn,
                    "n": NETWORK,
                    "node": request.hex[:10],
                    "now": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO audit_events (id, at, actor, action, target_type, target_id,"
                    " metadata) VALUES (:id, :now, 'olga', 'request.submitted', 'request', :t,"
                    " '{}')"
                ),
                {"id": uuid.uuid4(), "now": now, "t": str(request)},
            )
            conn.execute(
                text(
                    "INSERT INTO outbox (id, topic, payload, created_at, correlation_id,"
                    " attempts) VALUES (:id, 'provision', '{}', :now, :c, 0)"
                ),
                {"id": uuid.uuid4(), "now": now, "c": str(request)},
            )
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE join_requests SET status = 'rejected', reject_reason = 'test',"
                    " updated_at = :now WHERE id = :id"
                ),
                {"id": request, "now": now},
            )
            conn.execute(
                text("UPDATE outbox SET sent_at = :now, attempts = 1 WHERE correlation_id = :c"),
                {"now": now, "c": str(request)},
            )

    def _loop(self, step: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                step()
            except Exception as exc:  # every failure is the finding
                with self._lock:
                    self.errors.append(f"{step.__name__}: {type(exc).__name__}: {exc}")
            with self._lock:
                self.done += 1

    def count(self) -> int:
        with self._lock:
            return self.done

    def __enter__(self) -> OldRelease:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(60)


def _wait_for_more(old: OldRelease, more: int) -> None:
    """Until the old release has run ``more`` further statements groups (it must go on)."""
    target = old.count() + more
    waited = threading.Event()
    while old.count() < target and all(t.is_alive() for t in old.threads):
        waited.wait(0.05)
    assert old.count() >= target, "the old release's clients stopped"


@pytest.fixture
def first_release_database(tmp_path: Path) -> Iterator[str]:
    with temporary_postgres_database(migrate=False, prefix="ztix_online") as url:
        upgrade(url, FIRST)
        yield url


def test_db_upgrade_runs_while_the_previous_release_serves(
    first_release_database: str, tmp_path: Path
) -> None:
    url = first_release_database
    engine = create_engine_for(url)
    config = tmp_path / "ztix.toml"
    config.write_text(
        f'[[networks]]\nid = "{NETWORK}"\nname = "ix"\n'
        'ipv4_prefix = "10.77.0.0/24"\nipv6_prefix = "fd77::/64"\n'
    )
    try:
        seeded = _seed(engine)
        with OldRelease(engine, seeded["user"]) as old:
            _wait_for_more(old, 20)
            before_upgrade = old.count()
            done = subprocess.run(
                [sys.executable, "-m", "ztix_core.cli", "db", "upgrade"],
                env={**os.environ, "DATABASE_URL": url, "ZTIX_CONFIG": str(config)},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert old.count() > before_upgrade, "the old release did not run during the upgrade"
            # the old release goes on after the upgrade, until it is replaced
            _wait_for_more(old, 20)
        assert old.errors == [], "\n".join(old.errors[:10])
        assert current_revision(url) == head_revision()
        # today's code reads what the first release wrote
        with sql_uow_factory(url)() as uow:
            request = uow.requests.get(seeded["request"])
            assert request is not None and request.notes == "from the first release"
            assert request.status is RequestStatus.ACTIVE
            member = uow.memberships.get_for_request(seeded["request"])
            assert member is not None and str(member.ipv4) == "10.77.0.10"
            network = uow.networks.get(NetworkId(NETWORK))
            assert network is not None
    finally:
        engine.dispose()
