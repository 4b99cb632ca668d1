"""Benchmark: safe apply of "one member added" over SSH, beside BIRD's own work.

For N = 100, 1,000 and 3,000 members on 2 route servers (two local BIRD 2 daemons running
as user bird, reached over a key-only sshd on 127.0.0.1 started here): render the config
with ``render_server``, apply all N once, then apply N+1, N+2, … members (one added each
time; only the new peer file is uploaded) and report the median wall time of the whole
fleet apply (both servers in parallel, warm SSH connections; a cold one, with the SSH
handshake, is shown too), printed beside BIRD's own parse + check + configure time for the
same config on the same daemon (``bird -p``, ``birdc configure check``, ``birdc configure``,
each timed as a local process).

Needs root, bird2 and openssh-server (as the tests). Run:
``uv run python packages/ztix-adapters-bird/bench/bench_apply.py [--sizes 100,1000,3000]``
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.testing import BIRD, BIRDC, TEST_USER, BirdDaemon, bird_lab, simple_config
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

NET = NetworkId("8056c2e21c000001")


def peer(i: int) -> PeerSpec:
    return PeerSpec(
        Asn(200000 + i),
        ipaddress.IPv4Address(f"100.64.{(i + 10) // 250}.{(i + 10) % 250 + 1}"),
        ipaddress.IPv6Address(f"2001:7f8:ffff::{i + 10:x}"),
        100,
        50,
        f"member {i}",
        NET,
    )


def timed(argv: Sequence[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc.stdout + proc.stderr


def bird_own(d: BirdDaemon) -> tuple[float, float, float]:
    """BIRD's own parse, check and configure time for the daemon's current config."""
    main = str(d.main_config)
    t_parse, out = timed([BIRD, "-p", "-c", main])
    assert not out.strip(), out
    t_check, out = timed([BIRDC, "-s", str(d.socket), "-v", "configure", "check", f'"{main}"'])
    assert "0020" in out, out
    t_conf, out = timed([BIRDC, "-s", str(d.socket), "-v", "configure"])
    assert "0003" in out or "0004" in out, out
    return t_parse, t_check, t_conf


def bird_own_parallel(daemons: Sequence[BirdDaemon]) -> float:
    """Wall time of BIRD's own work on every daemon at once (as a parallel apply has it)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(daemons)) as pool:
        list(pool.map(bird_own, daemons))
    return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f}"


def run_size(n: int, repeats: int) -> dict[str, object]:
    with bird_lab() as lab:
        sshd = lab.sshd()
        daemons = [
            lab.daemon(name, simple_config("10.0.0.1", {}), config_owner=TEST_USER)
            for name in ("rs1", "rs2")
        ]
        servers = tuple(
            RouteServerSettings(
                d.root.name,
                Asn(64999),
                ipaddress.IPv4Address(f"10.0.0.{i + 1}"),
                ssh=sshd.target(),
                paths=d.paths(),
                policy=PolicyKnobs(confirm_timeout_s=60),
            )
            for i, d in enumerate(daemons)
        )
        members = [peer(i) for i in range(n + 2 * repeats + 1)]
        t = time.perf_counter()
        render_server(servers[0], members[:n])
        render_s = time.perf_counter() - t

        fleet = BirdFleet(BirdSettings(servers))
        try:
            t = time.perf_counter()
            out = fleet.apply(members[:n])
            full_s = time.perf_counter() - t
            assert all(o.result == "applied" for o in out), out

            walls, with_render, per_server, stats, own, ratios = [], [], [], [], [], []
            both, both_ratios = [], []
            for k in range(1, repeats + 1):
                # The pipeline alone: configs rendered beforehand, both servers in parallel.
                configs = {s.name: render_server(s, members[: n + 2 * k - 1]) for s in servers}
                t = time.perf_counter()
                out = fleet.apply_rendered(configs)
                walls.append(time.perf_counter() - t)
                assert all(o.result == "applied" for o in out), out
                per_server.append(max(o.duration_s for o in out))
                stats.append(fleet.last_stats["rs1"])
                assert all(s.uploaded_files == 1 for s in fleet.last_stats.values())
                # BIRD's own work for the same config, right after, under the same load.
                own.append(bird_own(daemons[0]))
                ratios.append(sum(own[-1]) / walls[-1])
                both.append(bird_own_parallel(daemons))
                both_ratios.append(both[-1] / walls[-1])
                # What the worker does: fleet.apply renders every server, then applies.
                t = time.perf_counter()
                out = fleet.apply(members[: n + 2 * k])
                with_render.append(time.perf_counter() - t)
                assert all(o.result == "applied" for o in out), out
        finally:
            fleet.close()

        # Cold: a fresh fleet (a new process) pays the SSH handshake.
        cold_fleet = BirdFleet(BirdSettings(servers))
        try:
            t = time.perf_counter()
            out = cold_fleet.apply_rendered(
                {s.name: render_server(s, members[: n + 2 * repeats + 1]) for s in servers}
            )
            cold_s = time.perf_counter() - t
            assert all(o.result == "applied" for o in out), out
        finally:
            cold_fleet.close()

        parse_s = statistics.median(o[0] for o in own)
        check_s = statistics.median(o[1] for o in own)
        conf_s = statistics.median(o[2] for o in own)
        stage_names = sorted({k for s in stats for k in s.timings})
        stages = {k: statistics.median(s.timings.get(k, 0.0) for s in stats) for k in stage_names}
        return {
            "n": n,
            "render": render_s,
            "full": full_s,
            "wall": statistics.median(walls),
            "wall_min": min(walls),
            "ratio": statistics.median(ratios),
            "both": statistics.median(both),
            "both_ratio": statistics.median(both_ratios),
            "with_render": statistics.median(with_render),
            "server": statistics.median(per_server),
            "cold": cold_s,
            "parse": parse_s,
            "check": check_s,
            "configure": conf_s,
            "bytes": statistics.median(s.uploaded_bytes for s in stats),
            "stages": stages,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [run_size(int(n), args.repeats) for n in args.sizes.split(",")]
    print()
    print("one member added, 2 route servers in parallel over SSH (median ms)")
    print(
        f"{'N':>6} {'render':>7} {'apply':>7} {'min':>7} {'1 srv':>7} {'cold':>7} {'+render':>8} | "
        f"{'bird -p':>7} {'check':>7} {'config':>7} {'BIRD':>7} {'BIRD/apply':>10} "
        f"{'BIRD x2':>7} {'x2/apply':>8} "
        f"{'upload':>8} {'first':>7}"
    )
    for r in rows:
        f = {k: v for k, v in r.items() if isinstance(v, float | int)}
        own = f["parse"] + f["check"] + f["configure"]
        print(
            f"{r['n']:>6} {ms(f['render'])} {ms(f['wall'])} {ms(f['wall_min'])} {ms(f['server'])} "
            f"{ms(f['cold'])} "
            f"{ms(f['with_render'])}  | {ms(f['parse'])} {ms(f['check'])} "
            f"{ms(f['configure'])} {ms(own)} {f['ratio']:10.0%} "
            f"{ms(f['both'])} {f['both_ratio']:8.0%} "
            f"{int(f['bytes']):>7}B {ms(f['full'])}"
        )
    print()
    print("render: render_server for one server; apply: both servers in parallel, configs")
    print("rendered beforehand (fleet.apply_rendered), warm SSH connections; min: fastest run;")
    print("1 srv: the slower")
    print("server's own duration; cold: a new fleet (SSH handshake included); +render:")
    print("fleet.apply, which renders every server first (what the worker calls); BIRD:")
    print("bird -p + configure check + configure of the same config on the same daemon;")
    print("BIRD/apply: median over runs of BIRD's own time measured right after each apply;")
    print("BIRD x2: the same work on both daemons at once (wall), as the parallel apply has it;")
    print("upload: tar bytes per server; first: the initial apply of all N members.")
    print()
    print("stages of one server's apply (median ms):")
    for r in rows:
        stages = r["stages"]
        assert isinstance(stages, dict)
        print(f"  N={r['n']:>5}: " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
