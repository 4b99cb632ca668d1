"""Benchmark of the page queries on PostgreSQL and SQLite (not a test).

Seeds 100,000 join requests over 5,000 ASNs and 3 networks, with their audit events, by
bulk inserts (then VACUUM ANALYZE, the steady state autovacuum leaves); then times what
the pages call, :class:`~ztix_core.usecases.queries.RequestQueries` over the SQL unit of
work (a fresh unit of work per call, as a page view has):

* admin queue — ``list_requests`` as an admin: pending + failed in one network, newest
  first, a page of 50 **and the count of every match** (the repository's ``query`` and
  ``count``); also pending only, and pending + failed over every network;
* operator dashboard — one operator's requests, a page of 50 and their count;
* request detail — the request, its membership and its audit timeline.

Beside them, in the same run and on the same database and connection pool, two
baselines say how fast this machine is right now: a bare ``SELECT 1`` and a bare primary
key lookup (``SELECT … FROM join_requests WHERE id = …``), each in its own unit of work.
Every figure is p50/p95 over ``--iterations`` timed calls (after a warm-up that is not
counted). Target: every page p95 < 10 ms on PostgreSQL (PASS/MISS printed); SQLite has
no target.

    uv run python packages/ztix-adapters-sql/bench/bench_queries.py
    uv run python packages/ztix-adapters-sql/bench/bench_queries.py --postgres-url URL --explain

Without ``--postgres-url`` a temporary database is created on 127.0.0.1:5432 and dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from ztix_adapters_sql.migrate import upgrade
from ztix_adapters_sql.models import (
    AsnLinkRow,
    AuditEventRow,
    Base,
    JoinRequestRow,
    NetworkRow,
    UserRow,
)
from ztix_adapters_sql.testing import empty_database, sqlite_url, temporary_postgres_database
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory, sql_uow_factory
from ztix_core.memory.clock import SystemClock
from ztix_core.ports import RequestFilter
from ztix_core.records import Actor
from ztix_core.status import RequestStatus
from ztix_core.usecases.queries import RequestQueries
from ztix_core.values import NetworkId

S = RequestStatus
LIVE = [S.PENDING, S.APPROVED, S.PROVISIONING, S.ACTIVE]
DEAD = [S.REJECTED, S.REMOVED, S.FAILED]
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
CHUNK = 5000
QUEUE = frozenset({S.PENDING, S.FAILED})
REQUESTS = JoinRequestRow.__table__
TARGET_P95_MS = 10.0


class Seed:
    """What was seeded, to pick query parameters from."""

    def __init__(self) -> None:
        self.networks: list[NetworkId] = []
        self.users: list[uuid.UUID] = []
        self.requests: list[uuid.UUID] = []


def _rows(
    n_requests: int, n_asns: int, n_networks: int, rng: random.Random
) -> tuple[
    Seed,
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, Any]],
]:
    seed = Seed()
    networks = []
    for i in range(n_networks):
        nid = f"a1b2c3d4e5{i + 1:06x}"
        seed.networks.append(NetworkId(nid))
        networks.append(
            {
                "id": nid,
                "name": f"lan{i + 1}",
                "ipv4_prefix": f"10.{i}.0.0/16",
                "ipv6_prefix": f"fd00:{i:x}::/48",
                "description": "",
            }
        )
    users, links, owner = [], [], {}
    asns = [200_000 + i for i in range(n_asns)]  # public ASNs, as members have
    for i in range(0, n_asns, 2):  # each operator holds two ASNs
        uid = uuid.uuid4()
        seed.users.append(uid)
        users.append(
            {
                "id": uid,
                "username": f"op{i}",
                "username_key": f"op{i}",
                "display_name": f"Operator {i}",
                "email": f"op{i}@example.net",
                "email_verified": True,
                "verified_user": True,
                "is_admin": False,
                "peeringdb_id": None,
                "created_at": T0,
            }
        )
        for asn in asns[i : i + 2]:
            owner[asn] = uid
            links.append(
                {
                    "user_id": uid,
                    "asn": asn,
                    "source": "local",
                    "can_manage_sessions": True,
                    "network_name": f"AS{asn}",
                    "created_at": T0,
                }
            )
    pairs = [(asn, net) for asn in asns for net in seed.networks]
    per_pair: dict[tuple[int, NetworkId], int] = dict.fromkeys(pairs, 0)
    for _ in range(n_requests - len(pairs)):
        per_pair[rng.choice(pairs)] += 1
    requests, audit = [], []
    span = 2 * 365 * 86400
    for (asn, net), extra in per_pair.items():
        count = extra + 1
        times = sorted(T0 + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
        for k, at in enumerate(times):
            status = rng.choice(LIVE) if k == count - 1 else rng.choice(DEAD)
            rid = uuid.uuid4()
            seed.requests.append(rid)
            decided = at + dt.timedelta(hours=1) if status is not S.PENDING else None
            requests.append(
                {
                    "id": rid,
                    "user_id": owner[asn],
                    "asn": asn,
                    "network_id": net.value,
                    "node_id": f"{rng.randrange(1, 0xFE00000000):010x}",
                    "status": status.value,
                    "requested_at": at,
                    "updated_at": decided or at,
                    "notes": "",
                    "reject_reason": "no" if status is S.REJECTED else None,
                    "last_error": "boom" if status is S.FAILED else None,
                    "retry_count": 1 if status is S.FAILED else 0,
                    "decided_at": decided,
                    "decided_by": "user:admin" if decided else None,
                    "provisioned_at": None,
                }
            )
            audit.append(_event(rid, "request.submitted", at, f"user:{owner[asn]}"))
            if decided is not None:
                first = "request.rejected" if status is S.REJECTED else "request.approved"
                audit.append(_event(rid, first, decided, "user:admin"))
                if status in (S.ACTIVE, S.FAILED, S.REMOVED, S.PROVISIONING):
                    audit.append(_event(rid, "request.provisioning", decided, "system:worker"))
                if status in (S.ACTIVE, S.REMOVED, S.FAILED):
                    audit.append(_event(rid, f"request.{status.value}", decided, "system:worker"))
    return seed, networks, users, links, requests, audit


def _event(rid: uuid.UUID, action: str, at: dt.datetime, actor: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "at": at,
        "actor": actor,
        "action": action,
        "target_type": "request",
        "target_id": str(rid),
        "metadata": {"from": "pending", "to": action.split(".")[1]},
    }


def seed_database(
    factory: SqlUnitOfWorkFactory, args: argparse.Namespace
) -> tuple[Seed, float, int]:
    """Bulk-insert the data set; returns it, the seconds it took and the audit row count."""
    rng = random.Random(args.seed)
    seed, networks, users, links, requests, audit = _rows(
        args.requests, args.asns, args.networks, rng
    )
    started = time.perf_counter()
    with factory.engine.begin() as conn:
        for model, rows in (
            (NetworkRow, networks),
            (UserRow, users),
            (AsnLinkRow, links),
            (JoinRequestRow, requests),
            (AuditEventRow, audit),
        ):
            for i in range(0, len(rows), CHUNK):
                conn.execute(insert(Base.metadata.tables[model.__tablename__]), rows[i : i + CHUNK])
    # Steady state: statistics gathered and (PostgreSQL) the visibility map set, as
    # autovacuum would leave a live database.
    analyze = "VACUUM ANALYZE" if factory.engine.dialect.name == "postgresql" else "ANALYZE"
    with factory.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(analyze))
    return seed, time.perf_counter() - started, len(audit)


def timed(fn: Callable[[], object], iterations: int) -> tuple[list[float], int]:
    """Milliseconds of ``iterations`` calls, after a warm-up (pool, caches) not counted;
    returns them and the warm-up count."""
    warm = max(10, iterations // 20)
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, warm


def run(name: str, factory: SqlUnitOfWorkFactory, args: argparse.Namespace) -> list[str]:
    seed, seconds, n_audit = seed_database(factory, args)
    lines = [
        f"{name}: seeded {len(seed.requests):,} requests, {n_audit:,} audit events, "
        f"{len(seed.users):,} users in {seconds:.1f} s"
    ]
    rng = random.Random(args.seed + 1)
    pages = RequestQueries(factory, SystemClock())
    admin = Actor("user", "bench-admin", is_admin=True)

    def select_one() -> object:
        with factory() as uow:
            return uow.session.execute(text("SELECT 1")).scalar()

    def by_key() -> object:
        with factory() as uow:
            return uow.session.execute(
                select(REQUESTS).where(REQUESTS.c.id == rng.choice(seed.requests))
            ).first()

    def queue_pending() -> object:
        net = rng.choice(seed.networks)
        return pages.list_requests(admin, statuses=frozenset({S.PENDING}), network_id=net)

    def queue() -> object:
        net = rng.choice(seed.networks)
        return pages.list_requests(admin, statuses=QUEUE, network_id=net)

    def queue_everywhere() -> object:
        return pages.list_requests(admin, statuses=QUEUE)

    def dashboard() -> object:
        operator = Actor("user", str(rng.choice(seed.users)))
        return pages.list_requests(operator)

    def detail() -> object:
        return pages.detail(admin, rng.choice(seed.requests))

    target = TARGET_P95_MS if name == "postgresql" else None
    for label, fn, has_target in (
        ("baseline: SELECT 1", select_one, False),
        ("baseline: primary-key lookup", by_key, False),
        ("admin queue (pending+failed, network) + count", queue, True),
        ("admin queue (pending, network) + count", queue_pending, True),
        ("admin queue (pending+failed, all) + count", queue_everywhere, True),
        ("operator dashboard (user) + count", dashboard, True),
        ("request detail + timeline", detail, True),
    ):
        samples, warm = timed(fn, args.iterations)
        q = statistics.quantiles(samples, n=100)
        verdict = ""
        if has_target and target is not None:
            verdict = f"  target p95 < {target:g} ms: {'PASS' if q[94] < target else 'MISS'}"
        lines.append(f"  {label:47} p50 {q[49]:6.2f} ms   p95 {q[94]:6.2f} ms{verdict}")
    lines.append(
        f"  ({args.iterations} timed calls each, after {warm} warm-up calls; "
        "a fresh unit of work per call"
        + ("" if target is not None else "; no target on SQLite")
        + ")"
    )
    if args.explain and factory.engine.dialect.name == "postgresql":
        with factory() as uow:
            repo: Any = uow.requests
            for statuses in ({S.PENDING}, QUEUE):
                flt = RequestFilter(statuses=frozenset(statuses), network_id=seed.networks[0])
                for stmt, params in (repo.query_statement(flt), repo.count_statement(flt)):
                    compiled = stmt.params(params).compile(
                        factory.engine, compile_kwargs={"literal_binds": True}
                    )
                    plan = uow.session.execute(text(f"EXPLAIN ANALYZE {compiled}")).scalars()
                    lines.extend("    " + p for p in plan)
    return lines


@contextlib.contextmanager
def postgres(args: argparse.Namespace) -> Iterator[SqlUnitOfWorkFactory]:
    with contextlib.ExitStack() as stack:
        url = args.postgres_url or stack.enter_context(
            temporary_postgres_database(prefix="ztix_bench")
        )
        if args.postgres_url:
            upgrade(url)
        factory = sql_uow_factory(url)
        stack.callback(factory.dispose)
        if args.postgres_url:
            empty_database(factory.engine)
        yield factory


@contextlib.contextmanager
def sqlite(args: argparse.Namespace) -> Iterator[SqlUnitOfWorkFactory]:
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(Path(tmp) / "bench.db")
        upgrade(url)
        factory = sql_uow_factory(url)
        try:
            yield factory
        finally:
            factory.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", help="an existing database to use (it is EMPTIED)")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--asns", type=int, default=5_000)
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument("--explain", action="store_true", help="print the queue queries' plans")
    args = parser.parse_args(argv)
    for name, backend in (("postgresql", postgres), ("sqlite", sqlite)):
        if args.only and args.only != name:
            continue
        with backend(args) as factory:
            for line in run(name, factory, args):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
