"""Registry benchmark: refreshing 5,000 ASNs against a local PeeringDB-shaped server.

Run: ``uv run python packages/ztix-adapters-peeringdb/bench/bench_registry.py [N]``

Figures, for N ASNs (5,000 by default) that all have a network:

- ``PeeringDbRegistry.fetch``: HTTP calls and wall time (batches of 150 with
  ``asn__in``, no pacing: ``min_interval_s = 0``);
- the same with three 429s (``Retry-After: 0``) on three batches: calls and wall time;
- ``RegistryFacts.refresh`` (fetch + every answer written to the cache with its fetch
  time), into SQLite (migrated, on a temporary file), PostgreSQL (127.0.0.1:5432, a
  temporary database) and the in-memory store.

The same-run baseline says how fast this machine and the local server are right now: the
same batches fetched with a bare httpx client and ``json`` (no parsing into facts, no
retries, no cache). Every timed figure is the median of RUNS (5) runs after a warm-up.
Targets at 5,000 ASNs: at most ceil(N / 150) = 34 calls; fetch < 2 s; refresh into
SQLite < 4 s and into PostgreSQL < 4 s. Against the real PeeringDB the default pacing
(``min_interval_s = 1.6``, for 40 calls a minute with a key) adds (calls - 1) x 1.6 s:
printed, not measured.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ztix_adapters_peeringdb.registry import FIELDS, PeeringDbRegistry
from ztix_adapters_peeringdb.testing import Fault, LocalPeeringDb, local_peeringdb, net_record
from ztix_adapters_sql.testing import migrated_sqlite_url, temporary_postgres_database
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.memory import InMemoryStore, SystemClock
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.usecases import RegistryFacts
from ztix_core.values import Asn

RUNS = 5
FIRST_ASN = 200_000


def timed(fn: Callable[[], object], runs: int = RUNS) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bare_batches(pdb: LocalPeeringDb, asns: list[Asn]) -> int:
    """The baseline: every batch through a bare httpx client and json, nothing else."""
    got = 0
    with httpx.Client(base_url=pdb.base_url + "/") as client:
        for i in range(0, len(asns), 150):
            params = {
                "asn__in": ",".join(str(a.value) for a in asns[i : i + 150]),
                "depth": "0",
                "fields": FIELDS,
            }
            got += len(client.get("net", params=params).json()["data"])
    return got


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 5_000
    asns = [Asn(a) for a in range(FIRST_ASN, FIRST_ASN + n)]
    expected_calls = math.ceil(n / 150)
    verdicts: list[tuple[str, bool, str]] = []
    with local_peeringdb(net_record(a.value) for a in asns) as pdb:
        t_bare = timed(lambda: bare_batches(pdb, asns))
        registry = PeeringDbRegistry(pdb.settings(), "bench-key")
        result = registry.fetch(asns)
        assert len(result.found) == n and not result.failed, result.failed
        t_fetch = timed(lambda: registry.fetch(asns))
        print(f"ASNs: {n:,}; runs per figure: {RUNS} (median, after a warm-up)")
        print(f"baseline: bare httpx + json, {expected_calls} batches   {t_bare * 1000:8.1f} ms")
        print(
            f"PeeringDbRegistry.fetch                  {t_fetch * 1000:8.1f} ms  "
            f"{result.calls} calls  ({t_fetch / t_bare:.2f} x baseline)"
        )

        def with_429s() -> int:
            limited = Fault("status", 429, retry_after="0")
            pdb.fail_next(limited, Fault("ok"), limited, Fault("ok"), limited)
            fetched = registry.fetch(asns)
            assert len(fetched.found) == n
            return fetched.calls

        calls_429 = with_429s()
        t_429 = timed(with_429s)
        print(f"fetch with three 429s (Retry-After: 0)   {t_429 * 1000:8.1f} ms  {calls_429} calls")

        with (
            tempfile.TemporaryDirectory() as tmp,
            temporary_postgres_database(prefix="ztix_bench") as pg_url,
        ):
            sql = SqlUnitOfWorkFactory(migrated_sqlite_url(Path(tmp)))
            pg = SqlUnitOfWorkFactory(pg_url)
            stores: list[tuple[str, UnitOfWorkFactory]] = [
                ("SQLite", sql),
                ("PostgreSQL", pg),
                ("in-memory store", InMemoryStore()),
            ]
            t_refresh: dict[str, float] = {}
            for label, store in stores:
                facts = RegistryFacts(store, SystemClock(), registry)
                t_refresh[label] = timed(lambda f=facts: f.refresh(force=True, asns=asns))
                with store() as uow:
                    cached = len(uow.network_facts.get_many(asns))
                print(
                    f"RegistryFacts.refresh into {label:16} {t_refresh[label] * 1000:8.1f} ms  "
                    f"{cached:,} rows cached"
                )
            sql.engine.dispose()
            pg.engine.dispose()
        registry.close()
        paced = (result.calls - 1) * 1.6
        print(
            f"against PeeringDB with the default pacing (1.6 s between calls): at least "
            f"{paced:.0f} s of pauses for {result.calls} calls (computed, not measured)"
        )
        verdicts += [
            (
                f"calls for {n:,} ASNs <= {expected_calls}",
                result.calls <= expected_calls,
                f"{result.calls} calls",
            ),
            ("fetch < 2 s", t_fetch < 2.0, f"{t_fetch * 1000:.1f} ms"),
            (
                "refresh into SQLite < 4 s",
                t_refresh["SQLite"] < 4.0,
                f"{t_refresh['SQLite'] * 1000:.1f} ms",
            ),
            (
                "refresh into PostgreSQL < 4 s",
                t_refresh["PostgreSQL"] < 4.0,
                f"{t_refresh['PostgreSQL'] * 1000:.1f} ms",
            ),
        ]
    for what, ok, value in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {what}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
