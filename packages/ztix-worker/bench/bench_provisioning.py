"""Benchmark: approval → active on the whole stack (PostgreSQL, Redis, controller emulator,
two BIRD route servers over SSH, ``ztix worker``).

Prints the latency of one approval to active (p50/p95 over N sequential requests) and the
time for M simultaneous approvals to all become active, with the applies per route server.
Targets (issue 6): p50 < 1 s; 500 approvals active in < 60 s with ≤ 20 applies per server.

    uv run python packages/ztix-worker/bench/bench_provisioning.py [--sequential 50]
        [--burst 500] [--processes 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from ztix_core.status import RequestStatus
from ztix_worker.lab import ExchangeLab


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sequential(lab: ExchangeLab, n: int) -> list[float]:
    """Approve one request at a time; seconds from approve() to active as seen in the DB."""
    latencies = []
    for i in range(n):
        rid = lab.submit(40000 + i)
        started = time.monotonic()
        lab.approve(rid)
        lab.wait_status([rid], RequestStatus.ACTIVE, timeout=60, interval=0.005)
        latencies.append(time.monotonic() - started)
    return latencies


def burst(lab: ExchangeLab, n: int) -> tuple[float, dict[str, int]]:
    """Submit n requests, then approve them all at once; seconds until all are active."""
    rids = [lab.submit(50000 + i) for i in range(n)]
    before = lab.applies()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # admins clicking at once: approvals overlap
        list(pool.map(lab.approve, rids))
    approved = time.monotonic() - started
    lab.wait_status(rids, RequestStatus.ACTIVE, timeout=600)
    took = time.monotonic() - started
    after = lab.applies()
    print(f"  (approving {n} took {approved:.1f} s of that)")
    return took, {k: after[k] - before.get(k, 0) for k in after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    settings = {"stuck_after_s": 300.0, "reconcile_interval_s": 60.0}
    with ExchangeLab(worker_settings=settings) as lab:
        lab.worker("--processes", str(args.processes), "--threads", str(args.threads))
        warm = lab.submit(39999)
        lab.approve(warm)
        lab.wait_status([warm], RequestStatus.ACTIVE, timeout=60)
        if args.sequential:
            lat = sequential(lab, args.sequential)
            print(
                f"approval → active, {len(lat)} sequential requests: "
                f"p50 {statistics.median(lat) * 1000:.0f} ms, "
                f"p95 {_pct(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
                f"(target p50 < 1000 ms)"
            )
        if args.burst:
            took, applies = burst(lab, args.burst)
            worst = max(applies.values())
            print(
                f"{args.burst} simultaneous approvals → all active in {took:.1f} s "
                f"(target < 60 s); applies per route server: {applies} "
                f"(target ≤ 20 each){'' if worst <= 20 else ' — OVER TARGET'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
