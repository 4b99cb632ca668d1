"""The looking glass against a real route server on real BGP sessions.

A route-server BIRD running the rendered config (RPKI from a static VRP file) and two
member BIRDs in network namespaces: AS100 announces valid, RPKI-invalid, bogon and
too-specific routes in both families; AS200 announces more bogons than the looking
glass's cap. ``BirdFleet.looking_glass`` must report each session and count, and each
filtered route with the reason the route server gave, and stop reading at the cap.
Needs root; without it the lab raises and these tests fail.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import (
    Announcement,
    Bird,
    Lab,
    member_config,
    wait_until,
    write_config,
    write_vrps,
)
from ztix_adapters_bird.looking_glass import RouteCap, argv, commands
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import BirdSettings, RemotePaths, RouteServerSettings, RpkiSource
from ztix_adapters_bird.testing import TEST_USER, SshServer, bird_lab, route_server
from ztix_adapters_bird.transport import LocalTransport
from ztix_core.looking_glass import LookingGlassServer
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS, M1, M2 = 65000, 100, 200
HOST = {RS: 1, M1: 11, M2: 12}
CAP = 5
M2_BOGONS = 40

#: prefix → (RPKI state or "", reasons) of every route AS100 sends that is filtered
FILTERED = {
    "45.66.0.0/24": ("invalid", ("RPKI invalid",)),  # wrong origin
    "45.101.1.0/24": ("invalid", ("RPKI invalid",)),  # longer than its ROA allows
    "10.10.0.0/16": ("", ("bogon prefix",)),
    "45.100.3.0/25": ("", ("prefix too long",)),
    "2a0a:666:1::/48": ("invalid", ("RPKI invalid",)),
    "fc00:1::/48": ("", ("bogon prefix",)),
}
ACCEPTED = ("45.100.1.0/24", "45.150.0.0/24", "2a0a:100:1::/48")


def addr(asn: int, family: int) -> str:
    return f"10.79.0.{HOST[asn]}" if family == 4 else f"fd79::{HOST[asn]}"


@attrs.define
class Env:
    rs: Bird
    settings: RouteServerSettings


def _server(work: Path, socket: Path | None = None) -> RouteServerSettings:
    vrp_file = work / "vrps.json"
    paths = RemotePaths(config_dir=str(work / "rs"), log_file=str(work / "rs.log"))
    if socket is not None:
        paths = attrs.evolve(paths, control_socket=str(socket))
    return RouteServerSettings(
        name="lg-rs",
        asn=Asn(RS),
        router_id=ipaddress.IPv4Address(addr(RS, 4)),
        ipv4=ipaddress.IPv4Address(addr(RS, 4)),
        ipv6=ipaddress.IPv6Address(addr(RS, 6)),
        transport="local",
        paths=paths,
        rpki=RpkiSource(vrp_file=str(vrp_file)),
    )


def _peers() -> list[PeerSpec]:
    return [
        PeerSpec(
            asn=Asn(asn),
            ipv4=ipaddress.IPv4Address(addr(asn, 4)),
            ipv6=ipaddress.IPv6Address(addr(asn, 6)),
            max_prefix_v4=1000,
            max_prefix_v6=1000,
            description=f"AS{asn}",
            network_id=NetworkId("0123456789abcdef"),
        )
        for asn in (M1, M2)
    ]


def _announcements(asn: int) -> list[Announcement]:
    if asn == M1:
        return [Announcement(p) for p in (*FILTERED, *ACCEPTED)]
    return [Announcement(f"10.20.{i}.0/24") for i in range(M2_BOGONS)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("lglab")
    write_vrps(
        work / "vrps.json",
        [
            ("45.100.0.0/16", 24, M1),
            ("45.101.0.0/16", 16, M1),
            ("45.66.0.0/24", 24, 999),
            ("2a0a:100::/32", 48, M1),
            ("2a0a:666::/32", 48, 999),
        ],
    )
    main = write_config(render_server(_server(work), _peers()), work / "rs")
    with Lab(work / "lab") as lab:
        rs = lab.start_bird(lab.add_node("rs", f"{addr(RS, 4)}/24", f"{addr(RS, 6)}/64"), main)
        for asn, role in ((M1, "m1"), (M2, "m2")):
            node = lab.add_node(role, f"{addr(asn, 4)}/24", f"{addr(asn, 6)}/64")
            conf = work / f"{role}.conf"
            conf.write_text(
                member_config(
                    asn=asn,
                    router_id=addr(asn, 4),
                    ipv4=addr(asn, 4),
                    ipv6=addr(asn, 6),
                    rs_asn=RS,
                    rs_ipv4=addr(RS, 4),
                    rs_ipv6=addr(RS, 6),
                    announcements=_announcements(asn),
                    log_file=work / f"{role}.log",
                )
            )
            lab.start_bird(node, conf)
        yield Env(rs, _server(work, rs.socket))


def _fleet(env: Env, cap: int = 200) -> BirdFleet:
    return BirdFleet(BirdSettings((env.settings,), looking_glass_max_routes=cap))


def _converged(env: Env) -> LookingGlassServer:
    """The looking glass once every route of both members is in (polled)."""
    fleet = _fleet(env)
    found: list[LookingGlassServer] = []

    def ready() -> bool:
        server = fleet.looking_glass(Asn(M1)).servers[0]
        got = {s.protocol: (s.established, s.accepted, s.filtered) for s in server.sessions}
        assert got == {"AS100_v4": (True, 2, 4), "AS100_v6": (True, 1, 2)}, got
        assert len(server.filtered_routes) == len(FILTERED)
        found[:] = [server]
        return True

    try:
        wait_until(ready, 60, "AS100's routes on the route server")
        m2 = fleet.looking_glass(Asn(M2)).servers[0]
        wait_until(
            lambda: (
                sum(s.filtered for s in fleet.looking_glass(Asn(M2)).servers[0].sessions)
                == M2_BOGONS
            ),
            30,
            f"AS200's {M2_BOGONS} bogons ({m2.sessions})",
        )
    finally:
        fleet.close()
    return found[0]


@pytest.fixture(scope="module")
def m1(env: Env) -> LookingGlassServer:
    return _converged(env)


def test_sessions_and_counts(m1: LookingGlassServer) -> None:
    assert m1.server == "lg-rs" and not m1.error and not m1.note
    v4, v6 = m1.sessions
    assert (v4.protocol, v4.state, v4.received, v4.accepted, v4.filtered) == (
        "AS100_v4",
        "Established",
        6,
        2,
        4,
    )
    assert (v6.protocol, v6.received, v6.accepted, v6.filtered) == ("AS100_v6", 3, 1, 2)
    # the route server sends AS100 what AS200 announced and passed: nothing (all bogons)
    assert (v4.exported, v6.exported) == (0, 0)
    assert v4.since and not v4.import_limit_hit


def test_filtered_routes_carry_the_route_servers_reasons(m1: LookingGlassServer) -> None:
    got = {r.prefix: (r.rpki, r.reasons) for r in m1.filtered_routes}
    assert got == FILTERED
    by_prefix = {r.prefix: r for r in m1.filtered_routes}
    assert by_prefix["45.66.0.0/24"].reason_codes == (13,)
    assert by_prefix["45.66.0.0/24"].protocol == "AS100_v4"
    assert by_prefix["45.66.0.0/24"].as_path == "100"
    assert by_prefix["45.66.0.0/24"].next_hop == addr(M1, 4)
    assert by_prefix["fc00:1::/48"].protocol == "AS100_v6"
    assert (m1.filtered_total, m1.not_shown) == (6, 0)


def test_the_cap_holds_and_the_count_says_how_many_more(env: Env) -> None:
    calls: list[tuple[str, ...]] = []
    settings = BirdSettings((env.settings,), looking_glass_max_routes=CAP)
    fleet = BirdFleet(
        settings,
        transport_factory=lambda s: LocalTransport(hook=lambda _d, argv: calls.append(argv)),
    )
    try:
        server = fleet.looking_glass(Asn(M2)).servers[0]
    finally:
        fleet.close()
    assert len(server.filtered_routes) == CAP
    assert server.filtered_total == M2_BOGONS and server.not_shown == M2_BOGONS - CAP
    assert {r.reasons for r in server.filtered_routes} == {("bogon prefix",)}
    assert len({r.prefix for r in server.filtered_routes}) == CAP
    # one restricted birdc for the whole member, commands on stdin, never in argv
    assert len(calls) == 1 and calls[0][1:3] == ("-r", "-v")
    assert not any("AS200" in a for a in calls[0])


def test_the_stream_is_ended_at_the_cap(env: Env) -> None:
    cap = RouteCap(frozenset({"AS200_v4", "AS200_v6"}), CAP)
    stdin = "".join(f"{c}\n" for c in commands(Asn(M2))).encode()
    result = asyncio.run(
        LocalTransport().stream_lines(
            argv("/usr/sbin/birdc", str(env.rs.socket)), cap, stdin=stdin, timeout=20
        )
    )
    assert result.ended == "stopped" and cap.full and cap.routes == CAP


def test_a_member_the_server_does_not_know(env: Env) -> None:
    fleet = _fleet(env)
    try:
        server = fleet.looking_glass(Asn(64999)).servers[0]
    finally:
        fleet.close()
    assert server.sessions == () and server.filtered_routes == () and server.filtered_total == 0
    assert not server.error


def test_an_unreachable_server_is_an_error_entry(env: Env, tmp_path: Path) -> None:
    gone = attrs.evolve(
        env.settings, paths=attrs.evolve(env.settings.paths, control_socket=str(tmp_path / "x"))
    )
    fleet = BirdFleet(BirdSettings((gone,)))
    try:
        server = fleet.looking_glass(Asn(M1)).servers[0]
    finally:
        fleet.close()
    assert server.error and server.sessions == ()


def test_over_ssh_the_channel_is_closed_at_the_cap(sshd: SshServer) -> None:
    """A member session holding 20,000 filtered routes (a static protocol with the member's
    name and the reject community; about 2.5 MB of listing, more than an SSH window),
    read over SSH with a cap of 5: the remote birdc must not be left running."""
    total = 20_000
    routes = "".join(f"route 10.{i // 256}.{i % 256}.0/24 blackhole;\n" for i in range(total))
    conf = (
        "router id 10.0.0.1;\nprotocol device {}\n"
        "protocol static AS64500_v4 { ipv4 { import keep filtered on; import filter {\n"
        f"  bgp_large_community.add(({RS}, 1101, 3)); reject;\n}}; }};\n{routes}}}\n"
    )
    with bird_lab() as lab:
        daemon = lab.daemon("sshlg", {"bird.conf": conf.encode()}, config_owner=TEST_USER)
        server = route_server(daemon, sshd, asn=RS)
        fleet = BirdFleet(BirdSettings((server,), looking_glass_max_routes=CAP))
        try:
            wait_until(
                lambda: fleet.looking_glass(Asn(64500)).servers[0].filtered_total == total,
                60,
                "BIRD to hold the routes",
            )
            answer = fleet.looking_glass(Asn(64500)).servers[0]
            wait_until(lambda: not _birdc_running(daemon.socket), 30, "the remote birdc to end")
        finally:
            fleet.close()
    assert not answer.error and not answer.note
    assert len(answer.filtered_routes) == CAP and answer.not_shown == total - CAP
    assert {r.reasons for r in answer.filtered_routes} == {("bogon prefix",)}


def _birdc_running(socket: Path) -> bool:
    found = subprocess.run(
        ["pgrep", "-f", f"birdc -r -v -s {socket}"], capture_output=True, check=False
    )
    return found.returncode == 0
