"""Benchmark: the looking glass on a member with half a million filtered routes.

A local BIRD 2 daemon (started here, stopped at the end) holds one member session
``AS64500_v4`` whose import filter drops all ``--routes`` routes (default 500,000) with
the bogon reject community, kept as filtered. The member is a static protocol, so no BGP
session is needed to fill the table; the looking glass reads routes the same way.

Reported (medians over ``--repeats`` runs, with the load average):

* the looking glass as the worker runs it (``BirdFleet.looking_glass``: one restricted
  birdc, the count commands, the filtered listing read until ``--cap`` routes);
  target: under 2 s, and at least 5 times faster than reading the whole listing;
* same-run baselines on the same daemon: ``show route filtered protocol … count`` alone
  (BIRD's own counting, which the looking glass also pays) and the whole filtered listing
  read to its end (what an uncapped looking glass would cost: time and bytes).

Needs root and bird2. Run:
``uv run python packages/ztix-adapters-bird/bench/bench_looking_glass.py [--routes 500000]``
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.settings import BirdSettings, RemotePaths, RouteServerSettings
from ztix_adapters_bird.testing import BIRD, BIRDC
from ztix_core.values import Asn

RS_ASN = 65000
MEMBER = Asn(64500)
TARGET_S = 2.0
SPEEDUP_TARGET = 5.0


def write_config(path: Path, routes: int) -> None:
    with path.open("w") as f:
        f.write(
            "router id 10.0.0.1;\nprotocol device {}\n"
            "protocol static AS64500_v4 { ipv4 { import keep filtered on; import filter {\n"
            f"  bgp_large_community.add(({RS_ASN}, 1101, 3)); reject;\n}}; }};\n"
        )
        for i in range(routes):
            f.write(f"route {ipaddress.IPv4Address(0x0A000000 + i)}/32 blackhole;\n")
        f.write("}\n")


def birdc(socket: Path, *args: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    proc = subprocess.run([BIRDC, "-s", str(socket), *args], capture_output=True, check=False)
    return time.perf_counter() - started, len(proc.stdout), proc.stdout.decode()[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=500_000)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ztix-lg-bench-") as tmp:
        work = Path(tmp)
        conf, socket, pid = work / "bird.conf", work / "bird.ctl", work / "bird.pid"
        write_config(conf, args.routes)
        subprocess.run([BIRD, "-c", str(conf), "-s", str(socket), "-P", str(pid)], check=True)
        try:
            run(work, socket, args)
        finally:
            if pid.exists():
                os.kill(int(pid.read_text().strip()), 15)


def run(work: Path, socket: Path, args: argparse.Namespace) -> None:
    count_cmd = ("show", "route", "filtered", "protocol", "AS64500_v4", "count")
    deadline = time.monotonic() + 600
    while f"{args.routes} of" not in birdc(socket, *count_cmd)[2]:
        if time.monotonic() > deadline:
            raise SystemExit("BIRD did not load the routes within 600 s")
        time.sleep(0.5)
    server = RouteServerSettings(
        name="bench",
        asn=Asn(RS_ASN),
        router_id=ipaddress.IPv4Address("10.0.0.1"),
        transport="local",
        paths=RemotePaths(config_dir=str(work), control_socket=str(socket)),
    )
    fleet = BirdFleet(BirdSettings((server,), looking_glass_max_routes=args.cap))
    lg_times, count_times, full_times = [], [], []
    full_bytes = 0
    try:
        for _ in range(args.repeats):
            started = time.perf_counter()
            answer = fleet.looking_glass(MEMBER).servers[0]
            lg_times.append(time.perf_counter() - started)
            assert len(answer.filtered_routes) == args.cap, answer
            assert answer.not_shown == args.routes - args.cap, answer.not_shown
            assert answer.filtered_routes[0].reasons == ("bogon prefix",)
            count_times.append(birdc(socket, *count_cmd)[0])
            seconds, full_bytes, _ = birdc(
                socket, "show", "route", "filtered", "protocol", "AS64500_v4", "all"
            )
            full_times.append(seconds)
    finally:
        fleet.close()
    lg, count, full = (statistics.median(t) for t in (lg_times, count_times, full_times))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"looking glass, {args.routes:,} filtered routes, cap {args.cap}, runs {args.repeats}")
    print(f"load average {load}")
    print(f"  looking glass (fleet)         {lg * 1000:9.1f} ms")
    print(f"  baseline: count alone         {count * 1000:9.1f} ms")
    print(f"  baseline: whole listing       {full * 1000:9.1f} ms ({full_bytes / 1e6:.1f} MB)")
    verdict = "PASS" if lg < TARGET_S else "MISS"
    print(f"{verdict} looking glass under {TARGET_S:g} s: {lg:.2f} s")
    speedup = full / lg if lg else float("inf")
    verdict = "PASS" if speedup >= SPEEDUP_TARGET else "MISS"
    print(f"{verdict} at least {SPEEDUP_TARGET:g}x faster than the whole listing: {speedup:.1f}x")


if __name__ == "__main__":
    main()
