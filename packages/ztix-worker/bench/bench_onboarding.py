"""Benchmark: onboarding many members through the public use cases, in-process.

Two ways, each for ``--members`` operators (3,000 by default; each its own user with one
ASN), target < 10 ms per member on SQLite and on PostgreSQL (PASS/MISS printed for each):

``import`` — what an exchange moving its existing members onto ztix runs
(``ztix member import``): ``MemberImport.run`` files, approves and provisions them in
chunks of 500 (a few statements per chunk, one multi-row insert per table), authorizes
each on the in-memory ZeroTier provider, and syncs an in-memory fleet of two route servers
once at the end, which turns every member active.

``one-by-one`` — what the web and the worker do for one operator at a time:
``RequestWorkflow.submit`` → ``RequestWorkflow.approve`` (an admin) →
``Provisioner.provision(sync=False)``, and every ``--sync-every`` members one
``Provisioner.sync_route_servers()``, as the worker's coalesced syncs do; a last sync at
the end. Six units of work per member: on PostgreSQL each commit and each statement is a
round trip, which this path cannot go below.

The time of all of it, divided by the member count, is the figure. Also printed: this
process's CPU ms per member (on a shared machine the wall clock includes waiting for a
core), for one-by-one the median member's ms (the baseline is a median too) and the first
and the last tenth's ms per member (a cost that grows with the member count shows up as a
ratio well above 1), and the SQL statements per member.

Baseline, in the same run before and after, on the same engine: a bare ``INSERT`` of one
row and a ``SELECT`` of it back in one transaction (median per pair over 500 pairs): what
this machine's database round trips cost right now (the machine is shared).

    uv run python packages/ztix-worker/bench/bench_onboarding.py [--members 3000]
        [--sync-every 500] [--backend sqlite --backend postgres]
        [--path import --path one-by-one]

PostgreSQL: a temporary database on 127.0.0.1:5432 (``ZTIX_TEST_POSTGRES_URL``), dropped
afterwards; SQLite: a migrated file in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, event, text

from ztix_adapters_sql.testing import migrated_sqlite_url, temporary_postgres_database
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory, sql_uow_factory
from ztix_core.memory import InMemoryFleet, InMemoryProvider, InMemoryRegistry
from ztix_core.memory.clock import SystemClock
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import Actor, RouteServer, ZtNetwork
from ztix_core.status import RequestStatus
from ztix_core.testing import builders
from ztix_core.usecases import (
    ImportEntry,
    MemberImport,
    MemberSettings,
    Provisioner,
    RequestWorkflow,
)
from ztix_core.values import Asn, NetworkId

TARGET_MS = 10.0
BASELINE_PAIRS = 500
ADMIN = Actor("user", "bench-admin", is_admin=True)
NETWORK = ZtNetwork(
    NetworkId("8056c2e21c000001"),
    "bench",
    ipaddress.IPv4Network("185.1.0.0/20"),
    ipaddress.IPv6Network("2a0c:b641:780::/64"),
)
FIRST_ASN = 10_000


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with temporary_postgres_database(prefix="ztix_bench") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield migrated_sqlite_url(Path(tmp))


def baseline_ms(engine: Engine) -> float:
    """Median ms of one INSERT + SELECT pair in its own transaction."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS bench_baseline (id VARCHAR(36) PRIMARY KEY, n INTEGER)"
        )
    samples = []
    for i in range(BASELINE_PAIRS):
        key = str(uuid.uuid4())
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_baseline (id, n) VALUES (:k, :n)"), {"k": key, "n": i}
            )
            conn.execute(
                text("SELECT n FROM bench_baseline WHERE id = :k"), {"k": key}
            ).scalar_one()
        samples.append(time.perf_counter() - started)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM bench_baseline")
    return statistics.median(samples) * 1000


def _seed(uow_factory: SqlUnitOfWorkFactory, members: int) -> list[uuid.UUID]:
    users = [builders.user(f"operator{i}") for i in range(members)]
    with uow_factory() as uow:
        uow.networks.add(NETWORK)
        for i, user in enumerate(users):
            uow.users.add(user)
            uow.asn_links.add(builders.link(user.id, FIRST_ASN + i))
        uow.commit()
    return [u.id for u in users]


def onboard(
    url: str, members: int, sync_every: int, path: str = "one-by-one"
) -> tuple[float, float, list[float], float, int]:
    """Seconds for the whole run, this process's CPU seconds for it, seconds per member,
    statements per member, members active at the end."""
    uow_factory = sql_uow_factory(url)
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    clock = SystemClock()
    provider, registry = InMemoryProvider(), InMemoryRegistry()
    fleet = InMemoryFleet(
        [
            RouteServer(
                f"rs{i}",
                Asn(64999),
                ipaddress.IPv4Address(f"185.1.0.{i}"),
                ipaddress.IPv6Address(f"2a0c:b641:780::{i}"),
            )
            for i in (1, 2)
        ]
    )
    workflow = RequestWorkflow(uow_factory, clock, ManualAdminPolicy(), registry)
    provisioner = Provisioner(uow_factory, clock, provider, fleet, registry)
    provider.ensure_network(NETWORK)
    try:
        users = _seed(uow_factory, members)
        event.listen(uow_factory.engine, "before_cursor_execute", count)
        per_member: list[float] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        if path == "import":
            entries = [
                ImportEntry(user_id, FIRST_ASN + i, f"{0x1000000000 + i:010x}")
                for i, user_id in enumerate(users)
            ]
            importer = MemberImport(
                workflow, MemberSettings(uow_factory, clock, fleet.servers), provisioner
            )
            importer.run(ADMIN, NETWORK.id, entries)
            users = []
        for i, user_id in enumerate(users):
            t0 = time.perf_counter()
            node = f"{0x1000000000 + i:010x}"
            request = workflow.submit(user_id, FIRST_ASN + i, NETWORK.id, node)
            workflow.approve(ADMIN, request.id)
            provisioner.provision(request.id, sync=False)
            if (i + 1) % sync_every == 0:
                provisioner.sync_route_servers()
            per_member.append(time.perf_counter() - t0)
        if path != "import":
            provisioner.sync_route_servers()
        took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        event.remove(uow_factory.engine, "before_cursor_execute", count)
        with uow_factory() as uow:
            active = len(
                [
                    m
                    for m in uow.memberships.list()
                    if (r := uow.requests.get(m.request_id)) and r.status is RequestStatus.ACTIVE
                ]
            )
        return took, cpu, per_member, statements[0] / members, active
    finally:
        uow_factory.dispose()


def run_backend(backend: str, members: int, sync_every: int, path: str) -> bool:
    with _database(backend) as url:
        engine = sql_uow_factory(url).engine
        before = baseline_ms(engine)
        took, cpu, per_member, statements, active = onboard(url, members, sync_every, path)
        after = baseline_ms(engine)
        engine.dispose()
    ms = took / members * 1000
    ok = ms < TARGET_MS and active == members
    print(
        f"{backend}, {path}: {members} members submitted, approved, provisioned ({active} "
        f"active) in {took:.1f} s (one run) → {ms:.2f} ms per member; target < "
        f"{TARGET_MS:.0f} ms: {_verdict(ok)}",
        flush=True,
    )
    print(
        f"  this process's CPU: {cpu / members * 1000:.2f} ms per member (what a busy "
        "machine's waiting for a core leaves out; PostgreSQL's own work is not in it); "
        f"{statements:.1f} SQL statements per member",
        flush=True,
    )
    if per_member:
        tenth = max(1, members // 10)
        first = statistics.mean(per_member[:tenth]) * 1000
        last = statistics.mean(per_member[-tenth:]) * 1000
        median = statistics.median(per_member) * 1000
        print(
            f"  median member {median:.2f} ms (a shared machine's pauses hit the mean); "
            f"first tenth {first:.2f} ms, last tenth {last:.2f} ms per member "
            f"(ratio {last / first:.2f})",
            flush=True,
        )
    print(
        f"  baseline INSERT+SELECT pair: {before:.2f} ms before, {after:.2f} ms after "
        f"(medians of {BASELINE_PAIRS}); the run is {ms / ((before + after) / 2):.1f} pairs "
        "per member",
        flush=True,
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--sync-every", type=int, default=500)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--path", action="append", choices=["import", "one-by-one"])
    args = parser.parse_args(argv)
    for path in args.path or ["import", "one-by-one"]:
        for backend in args.backend or ["sqlite", "postgres"]:
            run_backend(backend, args.members, args.sync_every, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
