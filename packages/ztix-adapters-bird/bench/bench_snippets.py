"""Router-snippet benchmark: what an active request's page adds for its "Router
configuration" section, with 100 / 1,000 / 3,000 active members in SQLite.

Run: ``uv run python packages/ztix-adapters-bird/bench/bench_snippets.py [N ...]``

Per member count, on one member's request: ``RouterConfigQuery.for_request`` over the bird
fleet's ``BirdRouterConfigs`` with two route servers (the database reads and both
snippets rendered: what the page and the download run), the render alone
(``render_snippets``), and as the same-run baseline the request detail query the page
already runs (``RequestQueries.detail``). Target: the router configuration costs no more
than 3x that detail query (median against median, same run), whatever the member count:
it reads one member's rows, never the whole member set. Medians of RUNS (30) after one
warm-up call, the three interleaved.
"""

from __future__ import annotations

import ipaddress
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ztix_adapters_bird.lab import example_server
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs
from ztix_adapters_bird.snippets import BirdRouterConfigs, render_snippets
from ztix_adapters_sql.testing import migrated_sqlite_url
from ztix_core.bootstrap import bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import Actor
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases.router_config import RouterConfigQuery

RUNS = 30
TARGET_RATIO = 3.0
LAN4 = ipaddress.IPv4Network("10.0.0.0/16")
LAN6 = ipaddress.IPv6Network("fd00::/64")


def medians_ms(*calls: Callable[[], object]) -> list[float]:
    """Each call's median, the calls interleaved run by run (a machine whose load moves
    during the run moves every figure alike)."""
    for call in calls:
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(RUNS):
        for call, found in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            found.append((time.perf_counter() - start) * 1000)
    return [statistics.median(found) for found in times]


def run(n: int, work: Path) -> bool:
    settings = Settings(storage="sql", database_url=migrated_sqlite_url(work, f"bench{n}.db"))
    app = bootstrap(settings, Plugins(build_plugin_manager()), with_provisioning=False)
    network = b.network(1, ipv4_prefix=LAN4, ipv6_prefix=LAN6)
    owner = b.user("bench")
    with app.uow_factory() as uow:
        uow.networks.add(network)
        uow.users.add(owner)
        for i in range(n):
            req = b.request(
                owner.id,
                network.id,
                asn=200_000 + i,
                node=f"{i + 1:010x}",
                status=RequestStatus.ACTIVE,
            )
            uow.requests.add(req)
            uow.memberships.add(
                b.membership(req, str(LAN4[100 + i]), str(LAN6[100 + i]), authorized=True)
            )
            if i == 0:
                first = req.id
        uow.commit()
    knobs = PolicyKnobs(allow_documentation_ranges=True)
    servers = (
        example_server(ipv4=LAN4[1], router_id=LAN4[1], ipv6=LAN6[1], policy=knobs),
        example_server(name="rs2", ipv4=LAN4[2], router_id=LAN4[2], ipv6=LAN6[2], policy=knobs),
    )
    query = RouterConfigQuery(app.uow_factory, BirdRouterConfigs(BirdSettings(servers=servers)))
    admin = Actor("user", str(uuid.uuid4()), is_admin=True)
    member = query.for_request(admin, first).member
    config, render, detail = medians_ms(
        lambda: query.for_request(admin, first),
        lambda: render_snippets(servers, member),
        lambda: app.queries.detail(admin, first),
    )
    ratio = config / detail
    ok = ratio <= TARGET_RATIO
    print(
        f"{n:>6,} members: router config {config:6.1f} ms (render alone {render:5.1f} ms); "
        f"baseline detail query {detail:5.1f} ms; ratio {ratio:4.1f}x; "
        f"target <= {TARGET_RATIO:.0f}x: {'PASS' if ok else 'MISS'} "
        f"({RUNS} runs each)"
    )
    return ok


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 1000, 3000]
    print(f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(n, Path(tmp)) for n in sizes]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
