"""Benchmark: approval → active on the whole stack (PostgreSQL, Redis, controller emulator,
two BIRD route servers over SSH, ``ztix worker`` processes), as an admin's approval has it.

Measures, from ``approve()`` returning to the request being ``active`` in the database
(polled every 5 ms):

* latency — ``--sequential`` approvals one after the other (p50/p95/max over that many
  runs); target: p95 < 1 s;
* burst — ``--burst`` requests approved at once (8 threads, as admins clicking), the time
  until all are active and the applies per route server it took (one run); targets:
  < 60 s and ≤ 20 applies per server.

Baselines, measured in the same run before and after (the machine is shared; they say how
busy it was): a bare ``SELECT 1`` round trip on the lab's database, the controller
emulator's readiness check, and a bare ``bird -p`` of a fixed 500-member config rendered
for the first route server (what each apply runs on each server at least once).

    uv run python packages/ztix-worker/bench/bench_provisioning.py [--sequential 50]
        [--burst 500] [--processes 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from ztix_adapters_bird.lab import write_config
from ztix_adapters_bird.render import render_server
from ztix_core.ports import PeerSpec
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId
from ztix_worker.lab import LAN_V4, LAN_V6, ExchangeLab

BIRD = "/usr/sbin/bird"
LATENCY_P95_TARGET_S = 1.0
BURST_TARGET_S = 60.0
BURST_APPLIES_TARGET = 20
BASELINE_RUNS = 20
BASELINE_MEMBERS = 500


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _median_ms(fn: Callable[[], object], runs: int = BASELINE_RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def baselines(lab: ExchangeLab) -> str:
    """Median ms of a bare SELECT 1, a controller GET /status and a bare bird -p."""
    engine = lab.app.uow_factory.engine  # type: ignore[attr-defined]

    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def status() -> None:
        lab.provider.check_readiness([])

    def parse() -> None:
        subprocess.run([BIRD, "-p", "-c", str(fixed)], check=True, capture_output=True)

    fixed = write_config(
        render_server(lab.rs_settings[0], [_peer(i) for i in range(BASELINE_MEMBERS)]),
        lab.workdir / "baseline-config",
    )

    return (
        f"SELECT 1 {_median_ms(select_one):.1f} ms, "
        f"controller readiness {_median_ms(status):.1f} ms, "
        f"bird -p of a {BASELINE_MEMBERS}-member config {_median_ms(parse, 5):.1f} ms "
        f"(medians of {BASELINE_RUNS}, {BASELINE_RUNS} and 5 runs)"
    )


def _peer(i: int) -> PeerSpec:
    """Member ``i`` of the fixed config the bird -p baseline parses."""
    return PeerSpec(
        Asn(60_000 + i),
        ipaddress.IPv4Address(int(LAN_V4.network_address) + 10 + i),
        ipaddress.IPv6Address(int(LAN_V6.network_address) + 10 + i),
        100,
        50,
        f"baseline member {i}",
        NetworkId("0123456789abcdef"),
    )


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


def burst(lab: ExchangeLab, n: int) -> tuple[float, float, dict[str, int]]:
    """Submit n requests, then approve them all at once; seconds until all are active,
    seconds the approvals themselves took, and the applies per server meanwhile."""
    rids = [lab.submit(50000 + i) for i in range(n)]
    before = lab.applies()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # admins clicking at once: approvals overlap
        list(pool.map(lab.approve, rids))
    approved = time.monotonic() - started
    lab.wait_status(rids, RequestStatus.ACTIVE, timeout=600)
    took = time.monotonic() - started
    after = lab.applies()
    return took, approved, {k: after[k] - before.get(k, 0) for k in after}


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
        print(
            f"ztix worker --processes {args.processes} --threads {args.threads}; "
            f"{len(lab.server_names)} route servers over SSH",
            flush=True,
        )
        print(f"baseline before: {baselines(lab)}", flush=True)
        if args.sequential:
            lat = sequential(lab, args.sequential)
            p95 = _pct(lat, 95)
            print(
                f"approval → active, {len(lat)} sequential approvals (one run each): "
                f"p50 {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"max {max(lat) * 1000:.0f} ms; target p95 < "
                f"{LATENCY_P95_TARGET_S * 1000:.0f} ms: {_verdict(p95 < LATENCY_P95_TARGET_S)}",
                flush=True,
            )
        if args.burst:
            took, approving, applies = burst(lab, args.burst)
            worst = max(applies.values())
            print(
                f"{args.burst} simultaneous approvals (one run) → all active in {took:.1f} s "
                f"(approving took {approving:.1f} s of that); target < {BURST_TARGET_S:.0f} s: "
                f"{_verdict(took < BURST_TARGET_S)}",
                flush=True,
            )
            print(
                "  applies per route server: "
                + ", ".join(f"{k} {v}" for k, v in sorted(applies.items()))
                + f"; target ≤ {BURST_APPLIES_TARGET} each: "
                f"{_verdict(worst <= BURST_APPLIES_TARGET)}",
                flush=True,
            )
        print(f"baseline after: {baselines(lab)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
