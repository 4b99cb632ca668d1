"""Render benchmark: what a sync renders for 100 / 1,000 / 3,000 members, beside ``bird -p``.

Run: ``uv run python packages/ztix-adapters-bird/bench/bench_render.py [N ...]``

Per member count: ``render_server`` for one route server (RTR source), for two, and for one
with a static table of 2,000 VRPs; ``BirdFleet.refused_peers`` over the two servers (the
check the worker runs before every sync, on the whole member set); and "a sync" — what the
worker runs before each apply on a 2-server fleet: ``refused_peers``, then every server's
file set (``BirdFleet.render``, as ``fleet.apply`` renders it). The same-run baseline that
says how fast this machine is right now: a bare ``bird -p`` of the rendered config (BIRD's
own C parser on the same files; Debian's BIRD 2.0.12 parses quadratically in named
filters/functions, the layout keeps that count fixed).
Targets at 3,000 members: rendering one server < 0.5 s; refused_peers (2 servers) < 50 ms;
a sync's renders < 0.5 s.
Every figure is the median of RENDER_RUNS (5) runs after a warm-up render (bird -p:
PARSE_RUNS, 3).
"""

from __future__ import annotations

import functools
import ipaddress
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import example_server, write_config, write_vrps
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings, RpkiSource
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

BIRD = "/usr/sbin/bird"
RENDER_RUNS = 5
PARSE_RUNS = 3


def members(n: int) -> list[PeerSpec]:
    net = NetworkId("0123456789abcdef")
    base4 = int(ipaddress.IPv4Address("10.64.0.0"))
    base6 = int(ipaddress.IPv6Address("fd00:64::"))
    return [
        PeerSpec(
            asn=Asn(131_072 + i),
            ipv4=ipaddress.IPv4Address(base4 + 10 + i),
            ipv6=ipaddress.IPv6Address(base6 + 10 + i),
            max_prefix_v4=100,
            max_prefix_v6=50,
            description=f'Member {i} Networks "Ltd"; #{i}',
            network_id=net,
        )
        for i in range(n)
    ]


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def render_both(servers: tuple[RouteServerSettings, ...], peers: list[PeerSpec]) -> None:
    for server in servers:
        render_server(server, peers)


def sync_renders(fleet: BirdFleet, peers: list[PeerSpec]) -> None:
    """What a sync runs before it applies: the refused-member check, then every server's
    file set."""
    assert not fleet.refused_peers(peers)
    fleet.render(peers)


def bird_parse(main: Path) -> None:
    done = subprocess.run(
        [BIRD, "-p", "-c", str(main)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"bird -p failed: {done.stderr}")


def main(argv: list[str]) -> None:
    counts = [int(a) for a in argv] or [100, 1_000, 3_000]
    with tempfile.TemporaryDirectory(prefix="ztix-bench-") as tmp:
        work = Path(tmp)
        vrp_file = work / "vrps.json"
        # 2,000 VRPs, the size of a small static table.
        write_vrps(
            vrp_file, [(f"45.{i // 256}.{i % 256}.0/24", 24, 131_072 + i) for i in range(2000)]
        )
        rtr = example_server(
            ipv4=ipaddress.IPv4Address("10.64.0.1"),
            ipv6=ipaddress.IPv6Address("fd00:64::1"),
            rpki=RpkiSource(rtr_servers=("127.0.0.1:8282",)),
        )
        rtr2 = example_server(
            name="rs2",
            router_id=ipaddress.IPv4Address("10.64.0.2"),
            ipv4=ipaddress.IPv4Address("10.64.0.2"),
            ipv6=ipaddress.IPv6Address("fd00:64::2"),
            rpki=RpkiSource(rtr_servers=("127.0.0.1:8282",)),
        )
        static = example_server(
            ipv4=ipaddress.IPv4Address("10.64.0.1"),
            ipv6=ipaddress.IPv6Address("fd00:64::1"),
            rpki=RpkiSource(vrp_file=str(vrp_file)),
        )
        fleet = BirdFleet(
            BirdSettings(tuple(attrs.evolve(s, transport="local") for s in (rtr, rtr2)))
        )
        print(
            f"{'members':>8} {'render (RTR)':>13} {'2 servers':>10} {'render (static VRPs)':>21} "
            f"{'files':>6} {'bytes':>10} {'refused_peers':>14} {'a sync':>10} "
            f"| {'baseline: bird -p':>17}"
        )
        verdicts = []
        for n in counts:
            peers = members(n)
            render_server(rtr, peers)  # warm the template cache
            t_rtr = timed(functools.partial(render_server, rtr, peers), RENDER_RUNS)
            t_two = timed(functools.partial(render_both, (rtr, rtr2), peers), RENDER_RUNS)
            t_static = timed(functools.partial(render_server, static, peers), RENDER_RUNS)
            files = render_server(rtr, peers)
            conf = write_config(files, work / f"n{n}")
            t_parse = timed(functools.partial(bird_parse, conf), PARSE_RUNS)
            size = sum(len(v) for v in files.values())
            t_refused = timed(functools.partial(fleet.refused_peers, peers), RENDER_RUNS)
            t_sync = timed(functools.partial(sync_renders, fleet, peers), RENDER_RUNS)
            print(
                f"{n:>8} {t_rtr * 1000:>10.1f} ms {t_two * 1000:>7.1f} ms "
                f"{t_static * 1000:>18.1f} ms {len(files):>6} {size:>10,}"
                f" {t_refused * 1000:>11.1f} ms {t_sync * 1000:>7.1f} ms"
                f" | {t_parse * 1000:>14.1f} ms"
            )
            if n == 3_000:
                verdicts += [
                    ("render 3,000 members, one server < 500 ms", t_rtr < 0.5, t_rtr),
                    ("refused_peers 3,000 members, 2 servers < 50 ms", t_refused < 0.05, t_refused),
                    ("a sync's renders, 3,000 members, 2 servers < 500 ms", t_sync < 0.5, t_sync),
                ]
        fleet.close()
        for what, ok, value in verdicts:
            print(f"{'PASS' if ok else 'MISS'}  {what}: {value * 1000:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
