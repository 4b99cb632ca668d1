"""Benchmark: the route-server drift check, and what noticing drift costs the apply.

For each N (members) one local BIRD 2 daemon (user bird) behind a key-only sshd on
127.0.0.1, all N applied once; then medians over ``--repeats`` runs (warm SSH connection)
of:

* ``check_drift`` of the server in sync, and with one peer file edited by hand;
* an unchanged apply (the fleet's probe: listing compared with ``.ztix-stat``, BIRD's times
  with ``.ztix-configured``);
* one member added (the probe and upload in one round trip);
* the repair: an apply of the same members after one peer file was edited by hand;

and as same-run baselines, run as local processes on the same files and daemon: hashing
every config file (``find | xargs sha256sum``) plus ``birdc show status`` and ``birdc
show protocols`` — the work the check's script does, without SSH.

Needs root, bird2 and openssh-server (as the tests). Run:
``uv run python packages/ztix-adapters-bird/bench/bench_drift.py [--sizes 100,1000,3000]``
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import subprocess
import time
from collections.abc import Callable

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.testing import BIRDC, TEST_USER, bird_lab, simple_config
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


def median_ms(runs: list[float]) -> float:
    return statistics.median(runs) * 1000


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(n: int, repeats: int) -> dict[str, float]:
    with bird_lab() as lab:
        sshd = lab.sshd()
        d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
        server = RouteServerSettings(
            "rs1",
            Asn(64999),
            ipaddress.IPv4Address("10.0.0.1"),
            ipv4=ipaddress.IPv4Address("10.0.0.1"),
            transport="ssh",
            ssh=sshd.target(),
            paths=d.paths(),
            policy=PolicyKnobs(confirm_timeout_s=30),
        )
        fleet = BirdFleet(BirdSettings((server,), retry_for_s=0))
        peers = [peer(i) for i in range(n)]
        try:
            first = fleet.apply(peers)
            assert first[0].result == "applied", first
            edited = d.config_dir / "peers" / f"AS{200000 + n // 2}.conf"
            wanted = edited.read_bytes()
            out: dict[str, list[float]] = {
                k: []
                for k in (
                    "check (in sync)",
                    "check (1 file edited)",
                    "apply unchanged",
                    "apply +1 member",
                    "apply repairing 1 edited file",
                    "baseline: hash + 2 birdc",
                )
            }
            has_check = hasattr(fleet, "check_drift")
            outcome: list[object] = []  # each apply's outcomes, appended by the timed call
            for r in range(repeats):
                if has_check:
                    out["check (in sync)"].append(timed(lambda: fleet.check_drift(peers)))
                out["apply unchanged"].append(timed(lambda: outcome.append(fleet.apply(peers))))
                assert "unchanged" in repr(outcome[-1]), outcome[-1]
                peers.append(peer(n + r))
                out["apply +1 member"].append(timed(lambda: outcome.append(fleet.apply(peers))))
                assert "applied" in repr(outcome[-1]), outcome[-1]
                edited.write_bytes(wanted + b"# by hand\n")
                if has_check:
                    out["check (1 file edited)"].append(timed(lambda: fleet.check_drift(peers)))
                out["apply repairing 1 edited file"].append(
                    timed(lambda: outcome.append(fleet.apply(peers)))
                )
                repaired = edited.read_bytes() == wanted
                out["baseline: hash + 2 birdc"].append(timed(lambda: baseline(d.config_dir, d)))
                if not repaired:
                    out.setdefault("(hand edit NOT repaired by the apply)", []).append(0.0)
                    edited.write_bytes(wanted)
            return {k: median_ms(v) for k, v in out.items() if v}
        finally:
            fleet.close()


def baseline(config_dir: os.PathLike[str], d: object) -> None:
    subprocess.run(
        f"cd {config_dir} && find . -path './.*' -prune -o -type f -printf '%P\\0' "
        "| xargs -0 -r sha256sum -- > /dev/null",
        shell=True,
        check=True,
    )
    sock = str(d.socket)  # type: ignore[attr-defined]
    for cmd in (("show", "status"), ("show", "protocols")):
        subprocess.run([BIRDC, "-s", sock, "-v", *cmd], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for n in (int(x) for x in args.sizes.split(",")):
        results = run(n, args.repeats)
        print(f"N = {n:,} (medians of {args.repeats}, ms)")
        for name, value in results.items():
            print(f"  {name:32} {value:8.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
