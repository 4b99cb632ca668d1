"""Benchmark: one member added, applied over SSH the way the worker does it, beside BIRD.

For N = 100, 1,000 and 3,000 members on 2 route servers (two local BIRD 2 daemons running
as user bird, reached over a key-only sshd on 127.0.0.1 started here) it applies all N
once, then ``--repeats`` times adds one member and applies (only the new peer file is
uploaded), and reports medians over those runs of:

* the worker's apply — what a sync runs: ``fleet.refused_peers`` (is any member
  refused?) then ``fleet.apply`` (render every server, then apply both in parallel);
  target: < 1 s at every N;
* ``fleet.apply`` alone (render + apply) and the pipeline alone (``apply_rendered``, the
  configs rendered beforehand), warm SSH connections;
* render of one server, a cold apply (a new fleet pays the SSH handshake; one run) and
  the first full apply of all N (one run).

Baselines, measured in the same run right after each apply on the same daemons: BIRD's own
work on the same config (``bird -p``, ``birdc configure check``, ``birdc configure``, each
timed as a local process), on one daemon and on both at once, and a bare ``bird -p``
alone. At 3,000 members BIRD's share of the pipeline should be at least half (the rest is
our overhead: SSH round trips and shell processes; below ~1,000 members that fixed cost
dominates BIRD's few milliseconds); its share of the worker's apply is printed too.

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
WORKER_TARGET_S = 1.0
BIRD_SHARE_TARGET = 0.5
SHARE_TARGET_FROM_N = 3_000


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


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


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
            both, both_ratios, worker, worker_ratios = [], [], [], []
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
                # What a sync does: the refused-member check, then fleet.apply (which
                # renders every server, then applies), one more member added.
                peers = members[: n + 2 * k]
                t = time.perf_counter()
                assert not fleet.refused_peers(peers)
                t_checked = time.perf_counter()
                out = fleet.apply(peers)
                done = time.perf_counter()
                worker.append(done - t)
                with_render.append(done - t_checked)
                worker_ratios.append(sum(bird_own(daemons[0])) / worker[-1])
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
            "repeats": repeats,
            "worker": statistics.median(worker),
            "worker_ratio": statistics.median(worker_ratios),
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
    print(f"one member added, 2 route servers over SSH ({args.repeats} runs per N, medians, ms)")
    for r in rows:
        f = {k: v for k, v in r.items() if isinstance(v, float | int)}
        own = f["parse"] + f["check"] + f["configure"]
        print(f"N={r['n']:,}")
        print(
            f"  worker's apply (refused_peers + fleet.apply) {ms(f['worker'])}   "
            f"target < {WORKER_TARGET_S * 1000:.0f}: {verdict(f['worker'] < WORKER_TARGET_S)}"
        )
        print(f"  fleet.apply (render both + apply)          {ms(f['with_render'])}")
        print(
            f"  pipeline alone (apply_rendered)            {ms(f['wall'])}   "
            f"fastest {ms(f['wall_min']).strip()}, slower server's own {ms(f['server']).strip()}"
        )
        print(f"  render one server                          {ms(f['render'])}   (one run)")
        print(f"  cold apply (new fleet, SSH handshake)      {ms(f['cold'])}   (one run)")
        print(f"  first full apply of all N members          {ms(f['full'])}   (one run)")
        print(
            f"  baseline: BIRD's own on one daemon         {ms(own)}   "
            f"(bird -p {ms(f['parse']).strip()}, check {ms(f['check']).strip()}, "
            f"configure {ms(f['configure']).strip()}); on both at once {ms(f['both']).strip()}"
        )
        share = (
            f"target >= {BIRD_SHARE_TARGET:.0%}: {verdict(f['ratio'] >= BIRD_SHARE_TARGET)}"
            if r["n"] >= SHARE_TARGET_FROM_N
            else f"target from N={SHARE_TARGET_FROM_N:,}: fixed costs dominate below"
        )
        print(
            f"  BIRD's share of the pipeline {f['ratio']:4.0%} ({share}); "
            f"of the worker's apply {f['worker_ratio']:4.0%}; "
            f"upload {int(f['bytes']):,} bytes per server"
        )
    print()
    print("stages of one server's apply (median ms):")
    for r in rows:
        stages = r["stages"]
        assert isinstance(stages, dict)
        print(f"  N={r['n']:>5}: " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
