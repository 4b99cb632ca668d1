"""Route origin validation against a static ROA table (``RpkiSource.vrp_file``) on real
BGP sessions: the VRP file is read at render time into ``protocol static`` ROA entries."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import (
    Announcement,
    Lab,
    Route,
    member_config,
    wait_until,
    write_config,
    write_vrps,
)
from ztix_adapters_bird.render import protocol_name, render_server
from ztix_adapters_bird.settings import RemotePaths, RouteServerSettings, RpkiSource
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS, M1, M2 = 65000, 100, 200
HOST = {RS: 1, M1: 11, M2: 12}

# prefix -> (accepted?, RPKI state or reject reason)
VERDICTS = {
    "45.100.1.0/24": (True, 1),  # valid
    "45.66.0.0/24": (False, 13),  # invalid: wrong origin
    "45.101.1.0/24": (False, 13),  # invalid: longer than the ROA allows
    "45.150.0.0/24": (True, 2),  # unknown
    "2a0a:100:1::/48": (True, 1),
    "2a0a:666:1::/48": (False, 13),
    "2a0a:999::/32": (True, 2),
}


def _by_prefix(routes: list[Route]) -> dict[str, Route]:
    return {r.prefix: r for r in routes}


def test_static_roa_table_validates_routes(tmp_path: Path) -> None:
    vrp_file = tmp_path / "vrps.json"
    write_vrps(
        vrp_file,
        [
            ("45.100.0.0/16", 24, M1),
            ("45.101.0.0/16", 16, M1),
            ("45.66.0.0/24", 24, 999),
            ("2a0a:100::/32", 48, M1),
            ("2a0a:666::/32", 48, 999),
        ],
    )
    server = RouteServerSettings(
        name="static-rs",
        asn=Asn(RS),
        router_id=ipaddress.IPv4Address("10.78.0.1"),
        ipv4=ipaddress.IPv4Address("10.78.0.1"),
        ipv6=ipaddress.IPv6Address("fd78::1"),
        paths=RemotePaths(log_file=str(tmp_path / "rs.log")),
        rpki=RpkiSource(vrp_file=str(vrp_file)),
    )
    peers = [
        PeerSpec(
            asn=Asn(asn),
            ipv4=ipaddress.IPv4Address(f"10.78.0.{HOST[asn]}"),
            ipv6=ipaddress.IPv6Address(f"fd78::{HOST[asn]}"),
            max_prefix_v4=50,
            max_prefix_v6=50,
            description=f"AS{asn}",
            network_id=NetworkId("0123456789abcdef"),
        )
        for asn in (M1, M2)
    ]
    main = write_config(render_server(server, peers), tmp_path / "rs")
    assert "protocol static ztix_vrp4" in main.read_text()
    with Lab(tmp_path / "lab") as lab:
        rs = lab.start_bird(lab.add_node("rs", "10.78.0.1/24", "fd78::1/64"), main)
        members = {}
        for asn, role in ((M1, "m1"), (M2, "m2")):
            node = lab.add_node(role, f"10.78.0.{HOST[asn]}/24", f"fd78::{HOST[asn]}/64")
            conf = tmp_path / f"{role}.conf"
            conf.write_text(
                member_config(
                    asn=asn,
                    router_id=f"10.78.0.{HOST[asn]}",
                    ipv4=f"10.78.0.{HOST[asn]}",
                    ipv6=f"fd78::{HOST[asn]}",
                    rs_asn=RS,
                    rs_ipv4="10.78.0.1",
                    rs_ipv6="fd78::1",
                    announcements=[Announcement(p) for p in VERDICTS] if asn == M1 else [],
                    log_file=tmp_path / f"{role}.log",
                )
            )
            members[asn] = lab.start_bird(node, conf)

        def verdicts() -> bool:
            accepted = _by_prefix(rs.routes())
            filtered = _by_prefix(rs.routes(filtered=True))
            for prefix, (ok, code) in VERDICTS.items():
                route = accepted.get(prefix) if ok else filtered.get(prefix)
                assert route is not None, f"{prefix} not {'accepted' if ok else 'filtered'} yet"
                assert route.proto == protocol_name(M1, 6 if ":" in prefix else 4)
                ours = {c for c in route.large_communities if c[0] == RS}
                if ok:
                    assert ours == {(RS, 1000, code)}, (prefix, ours)
                else:
                    assert ours == {(RS, 1000, 4), (RS, 1101, code)}, (prefix, ours)
            return True

        wait_until(verdicts, 60, "the route server's verdicts")

        def received() -> bool:
            got = {r.prefix for r in members[M2].routes() if r.proto.startswith("rs_")}
            want = {p for p, (ok, _c) in VERDICTS.items() if ok}
            assert got == want, (sorted(got), sorted(want))
            return True

        wait_until(received, 30, "AS200 to receive the valid and unknown routes")
