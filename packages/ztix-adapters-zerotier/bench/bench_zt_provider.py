"""Provider and lifecycle figures on the controller emulator: authorize (POST + read-back)
latency, readiness-gate latency, reconciliation of N networks, backup / verify / restore /
drill time for a home with M members.

Timed lines say how many calls they timed (n=…); the others are one run each. No target:
these figures size the provider's calls. The same-run baseline says how fast this machine
is right now: a bare GET on a stdlib HTTP server on 127.0.0.1 answering a fixed JSON body,
through an httpx client as the provider uses.

Run: ``uv run python packages/ztix-adapters-zerotier/bench/bench_zt_provider.py [members]``
"""

from __future__ import annotations

import ipaddress
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _baseline import bare_http_server  # beside this script (python puts its folder first)

from ztix_adapters_zerotier.backup import create_backup, restore_backup, verify_backup
from ztix_adapters_zerotier.drill import run_drill
from ztix_adapters_zerotier.emulator.testing import running_emulator
from ztix_adapters_zerotier.reconcile import reconcile_networks
from ztix_adapters_zerotier.testing import peering_network, self_hosted_provider
from ztix_core.values import NodeId


def timed(label: str, count: int, call: Callable[[int], object]) -> None:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    print(f"{label:40} n={count:5}  median {statistics.median(samples):7.2f} ms  p95 {p95:7.2f} ms")


def once(label: str, call: Callable[[], object]) -> None:
    start = time.perf_counter()
    call()
    print(f"{label:40} {(time.perf_counter() - start) * 1000:9.1f} ms  (one run)")


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with bare_http_server() as url, httpx.Client(base_url=url) as bare:
        timed("baseline: bare GET (stdlib server)", 300, lambda i: bare.get("/"))
    with tempfile.TemporaryDirectory() as tmp, running_emulator(Path(tmp) / "home") as zt:
        nets = [peering_network(zt.address, suffix=f"{i:06x}", index=i) for i in range(20)]
        provider = self_hosted_provider(zt, networks=nets)
        once("reconcile 20 networks (create)", lambda: reconcile_networks(provider))
        once("reconcile 20 networks (no change)", lambda: reconcile_networks(provider))
        timed("readiness gate, 20 networks", 20, lambda i: provider.check_readiness([]))
        net = nets[0]

        def authorize(i: int) -> None:
            node = NodeId(f"{0x0A00000000 + i:010x}")
            v4 = ipaddress.IPv4Address(int(net.ipv4_prefix.network_address) + 1 + i % 250)
            v6 = net.ipv6_prefix.network_address + 1 + i
            provider.authorize_member(net.id, node, [v4, v6], f"AS{64500 + i}")

        timed("authorize_member (POST + read-back)", members, authorize)
        timed("authorize_member again (idempotent)", min(members, 200), authorize)
        once(f"list_members ({members})", lambda: provider.list_members(net.id))
        backups = Path(tmp) / "backups"
        result = create_backup(zt.home, backups, retention=3)
        once(
            f"backup ({len(result.manifest.files)} files)",
            lambda: create_backup(zt.home, backups, retention=3),
        )
        once("verify backup", lambda: verify_backup(result.path))
        once(
            "restore into a fresh home", lambda: restore_backup(result.path, Path(tmp) / "restored")
        )
        once(
            "drill (restore + emulator + reconcile + readiness)",
            lambda: run_drill(result.path, networks=nets),
        )
    print("no target: figures for sizing the provider's calls")


if __name__ == "__main__":
    main()
