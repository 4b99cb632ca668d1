"""The rendered route-server policy on real BGP sessions.

Network namespaces around a bridge (created here, always deleted), a route-server BIRD
running the config ``render_server`` produced, stayrtr serving a VRP file inside the
route server's namespace, and four member BIRDs announcing a matrix of good and bad
routes. Every prefix is checked: what the route server accepted (and with which RPKI
community) or filtered (and with which reason community), and which members received it.
Needs root; without it the lab raises and these tests fail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from ztix_adapters_bird.lab import (
    Announcement,
    Bird,
    Lab,
    Route,
    member_config,
    wait_until,
    write_vrps,
)
from ztix_adapters_bird.policy import RejectReason, RpkiState
from ztix_adapters_bird.render import protocol_name, render_server
from ztix_adapters_bird.settings import RemotePaths, RouteServerSettings, RpkiSource
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS = 65000
M1, M2, M3, M4 = 100, 200, 210_000, 400  # M3 has a 32-bit ASN
ADDR = {RS: 1, M1: 11, M2: 12, M3: 13, M4: 14}
ROLE = {M1: "m1", M2: "m2", M3: "m3", M4: "m4"}
M4_LIMIT = 3
EVIL_DESCRIPTION = 'M1 "evil"; } # \\ x\nprotocol bgp pwn { }'


def v4(asn: int) -> str:
    return f"10.77.0.{ADDR[asn]}"


def v6(asn: int) -> str:
    return f"fd77::{ADDR[asn]}"


VRPS = [
    ("45.100.0.0/16", 24, M1),
    ("45.101.0.0/16", 16, M1),  # announcing a /24 from it is RPKI invalid (too long)
    ("45.66.0.0/24", 24, 999),  # M1 announcing it is RPKI invalid (wrong origin)
    ("45.200.0.0/16", 24, M2),
    ("45.40.0.0/16", 24, M4),
    ("2a0a:100::/32", 48, M1),
    ("2a0a:666::/32", 48, 999),
]
VRP_FIX = ("45.66.0.0/24", 24, M1)

LONG_PATH = (M1,) * 70

ANNOUNCE: dict[int, list[Announcement]] = {
    M1: [
        Announcement("45.100.1.0/24"),  # valid
        Announcement("45.66.0.0/24"),  # invalid: wrong origin
        Announcement("45.101.1.0/24"),  # invalid: too long for its ROA
        Announcement("45.150.0.0/24"),  # unknown
        Announcement("10.10.0.0/16"),  # bogon prefix
        Announcement("45.100.2.0/24", path=(M1, 64512)),  # private ASN in the path
        Announcement("45.100.3.0/25"),  # too specific
        Announcement("44.0.0.0/7"),  # too short
        Announcement("45.100.4.0/24", next_hop="10.77.0.99"),  # third-party next hop
        Announcement("45.100.5.0/24", path=LONG_PATH),  # 70 hops
        Announcement("45.150.0.1/32", communities=((65535, 666),)),  # blackhole
        Announcement("45.150.0.2/32"),  # /32 without BLACKHOLE: too specific
        # A blackhole inside a ROA's space but longer than its maxLength stays RPKI
        # invalid: ROV applies to blackholes too (BIRD 2.0 cannot check the origin alone).
        Announcement("45.100.6.1/32", communities=((65535, 666),)),
        Announcement("45.100.7.0/24", communities=((0, M2),)),  # not to M2
        Announcement("45.100.8.0/24", large_communities=((RS, 0, M3),)),  # not to M3
        Announcement("45.100.9.0/24", communities=((0, RS),)),  # to nobody
        Announcement("45.100.10.0/24", communities=((0, RS), (RS, M2))),  # only to M2
        Announcement(
            "45.100.11.0/24", large_communities=((RS, 0, 0), (RS, 1, M3))
        ),  # only to M3 (32-bit: large form only)
        Announcement(  # mixed forms: nobody (standard) + to M3 (large)
            "45.100.13.0/24", communities=((0, RS),), large_communities=((RS, 1, M3),)
        ),
        Announcement(  # nobody (large) + to M2 (standard)
            "45.100.14.0/24", communities=((RS, M2),), large_communities=((RS, 0, 0),)
        ),
        Announcement("45.100.12.0/24", communities=((65535, 0),)),  # graceful shutdown
        Announcement(  # forged route-server communities are scrubbed
            "45.150.1.0/24", large_communities=((RS, 1000, 1), (RS, 1101, 3), (RS, 1000, 4))
        ),
        Announcement("2a0a:100:1::/48"),  # valid
        Announcement("2a0a:666:1::/48"),  # invalid: wrong origin
        Announcement("2a0a:999::/32"),  # unknown
        Announcement("2a0a:100:2::/56"),  # too specific
        Announcement("fc00:1::/48"),  # bogon (ULA)
        Announcement("2001:db8:1::/48"),  # bogon (documentation)
        Announcement("3000::/16"),  # fine length-wise; unknown
        Announcement("2a0a:100:3::/48", path=(M1, 4200000001)),  # private 32-bit ASN
    ],
    M2: [
        Announcement("45.200.1.0/24"),  # valid
        Announcement("45.200.2.0/24", path=(M2, 64496)),  # documentation ASN in the path
        Announcement("2a0a:200:1::/48"),  # unknown
    ],
    M3: [
        Announcement("45.30.1.0/24", path=(M2,)),  # pretends to be M2: first AS wrong
        Announcement("45.30.2.0/24", path=(M3, 3333)),  # unknown, origin elsewhere
        Announcement("45.30.3.0/24", next_hop=v4(M2)),  # next hop of another member
        Announcement("2a0a:300::/32", path=(M1,)),  # first AS wrong (IPv6)
    ],
    M4: [Announcement(f"45.40.{i}.0/24") for i in range(1, M4_LIMIT + 3)],
}

ACCEPT = "accepted"
FILTER = "filtered"
OTHERS = {M1: {M2, M3}, M2: {M1, M3}, M3: {M1, M2}}


@attrs.frozen
class Expect:
    sender: int
    prefix: str
    outcome: str
    code: int  # RpkiState when accepted, RejectReason when filtered
    receivers: frozenset[int] = frozenset()


def _expectations() -> list[Expect]:
    a, f = ACCEPT, FILTER
    s, r = RpkiState, RejectReason
    rows = [
        (M1, "45.100.1.0/24", a, s.VALID, OTHERS[M1]),
        (M1, "45.66.0.0/24", f, r.RPKI_INVALID, ()),
        (M1, "45.101.1.0/24", f, r.RPKI_INVALID, ()),
        (M1, "45.150.0.0/24", a, s.UNKNOWN, OTHERS[M1]),
        (M1, "10.10.0.0/16", f, r.BOGON_PREFIX, ()),
        (M1, "45.100.2.0/24", f, r.BOGON_ASN, ()),
        (M1, "45.100.3.0/25", f, r.PREFIX_TOO_LONG, ()),
        (M1, "44.0.0.0/7", f, r.PREFIX_TOO_SHORT, ()),
        (M1, "45.100.4.0/24", f, r.NEXT_HOP_NOT_PEER, ()),
        (M1, "45.100.5.0/24", f, r.AS_PATH_TOO_LONG, ()),
        (M1, "45.150.0.1/32", a, s.UNKNOWN, OTHERS[M1]),
        (M1, "45.150.0.2/32", f, r.PREFIX_TOO_LONG, ()),
        (M1, "45.100.6.1/32", f, r.RPKI_INVALID, ()),
        (M1, "45.100.7.0/24", a, s.VALID, {M3}),
        (M1, "45.100.8.0/24", a, s.VALID, {M2}),
        (M1, "45.100.9.0/24", a, s.VALID, ()),
        (M1, "45.100.10.0/24", a, s.VALID, {M2}),
        (M1, "45.100.11.0/24", a, s.VALID, {M3}),
        (M1, "45.100.13.0/24", a, s.VALID, {M3}),
        (M1, "45.100.14.0/24", a, s.VALID, {M2}),
        (M1, "45.100.12.0/24", a, s.VALID, OTHERS[M1]),
        (M1, "45.150.1.0/24", a, s.UNKNOWN, OTHERS[M1]),
        (M1, "2a0a:100:1::/48", a, s.VALID, OTHERS[M1]),
        (M1, "2a0a:666:1::/48", f, r.RPKI_INVALID, ()),
        (M1, "2a0a:999::/32", a, s.UNKNOWN, OTHERS[M1]),
        (M1, "2a0a:100:2::/56", f, r.PREFIX_TOO_LONG, ()),
        (M1, "fc00:1::/48", f, r.BOGON_PREFIX, ()),
        (M1, "2001:db8:1::/48", f, r.BOGON_PREFIX, ()),
        (M1, "3000::/16", a, s.UNKNOWN, OTHERS[M1]),
        (M1, "2a0a:100:3::/48", f, r.BOGON_ASN, ()),
        (M2, "45.200.1.0/24", a, s.VALID, OTHERS[M2]),
        (M2, "45.200.2.0/24", f, r.BOGON_ASN, ()),
        (M2, "2a0a:200:1::/48", a, s.UNKNOWN, OTHERS[M2]),
        (M3, "45.30.1.0/24", f, r.FIRST_AS_NOT_PEER, ()),
        (M3, "45.30.2.0/24", a, s.UNKNOWN, OTHERS[M3]),
        (M3, "45.30.3.0/24", f, r.NEXT_HOP_NOT_PEER, ()),
        (M3, "2a0a:300::/32", f, r.FIRST_AS_NOT_PEER, ()),
    ]
    return [Expect(snd, p, o, int(c), frozenset(rcv)) for snd, p, o, c, rcv in rows]


EXPECTATIONS = _expectations()


def _announced() -> set[tuple[int, str]]:
    return {(asn, ann.prefix) for asn, anns in ANNOUNCE.items() if asn != M4 for ann in anns}


def test_expectation_table_covers_every_announcement() -> None:
    assert {(e.sender, e.prefix) for e in EXPECTATIONS} == _announced()


@attrs.define
class Env:
    lab: Lab
    rs: Bird
    members: dict[int, Bird]
    vrp_file: Path
    rs_log: Path


def _rs_settings(workdir: Path) -> RouteServerSettings:
    return RouteServerSettings(
        name="lab-rs",
        asn=Asn(RS),
        router_id=ipaddress.IPv4Address(v4(RS)),
        ipv4=ipaddress.IPv4Address(v4(RS)),
        ipv6=ipaddress.IPv6Address(v6(RS)),
        paths=RemotePaths(config_dir=str(workdir / "rs"), log_file=str(workdir / "rs.log")),
        rpki=RpkiSource(rtr_servers=("127.0.0.1:8282",)),
    )


def _peers() -> list[PeerSpec]:
    net = NetworkId("0123456789abcdef")
    return [
        PeerSpec(
            asn=Asn(asn),
            ipv4=ipaddress.IPv4Address(v4(asn)),
            ipv6=ipaddress.IPv6Address(v6(asn)),
            max_prefix_v4=M4_LIMIT if asn == M4 else 100,
            max_prefix_v6=M4_LIMIT if asn == M4 else 100,
            description=EVIL_DESCRIPTION if asn == M1 else f"member AS{asn}",
            network_id=net,
        )
        for asn in (M1, M2, M3, M4)
    ]


def _by_prefix(routes: list[Route], proto: str | None = None) -> dict[str, Route]:
    return {r.prefix: r for r in routes if proto is None or r.proto == proto}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("bgplab")
    with Lab(work) as lab:
        rs_node = lab.add_node("rs", f"{v4(RS)}/24", f"{v6(RS)}/64")
        vrp_file = work / "vrps.json"
        write_vrps(vrp_file, VRPS)
        lab.start_stayrtr(rs_node, vrp_file)
        settings = _rs_settings(work)
        rs_dir = Path(settings.paths.config_dir)
        for name, content in render_server(settings, _peers()).items():
            target = rs_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        rs = lab.start_bird(rs_node, rs_dir / "bird.conf")
        members: dict[int, Bird] = {}
        for asn, role in ROLE.items():
            node = lab.add_node(role, f"{v4(asn)}/24", f"{v6(asn)}/64")
            conf = work / f"{role}.conf"
            conf.write_text(
                member_config(
                    asn=asn,
                    router_id=v4(asn),
                    ipv4=v4(asn),
                    ipv6=v6(asn),
                    rs_asn=RS,
                    rs_ipv4=v4(RS),
                    rs_ipv6=v6(RS),
                    announcements=ANNOUNCE[asn],
                    log_file=work / f"{role}.log",
                )
            )
            members[asn] = lab.start_bird(node, conf)
        yield Env(lab, rs, members, vrp_file, Path(settings.paths.log_file))


def _rs_view(rs: Bird) -> tuple[dict[str, Route], dict[str, Route]]:
    return _by_prefix(rs.routes()), _by_prefix(rs.routes(filtered=True))


def _check_route_server(rs: Bird) -> bool:
    accepted, filtered = _rs_view(rs)
    for e in EXPECTATIONS:
        proto = protocol_name(e.sender, 6 if ":" in e.prefix else 4)
        if e.outcome == ACCEPT:
            assert e.prefix in accepted, f"{e.prefix} not accepted yet"
            route = accepted[e.prefix]
            assert route.proto == proto, (e.prefix, route.proto)
            ours = {c for c in route.large_communities if c[0] == RS and c[1] >= 1000}
            assert ours == {(RS, 1000, e.code)}, f"{e.prefix}: {ours}"
            assert e.prefix not in filtered, f"{e.prefix} also filtered"
        else:
            assert e.prefix in filtered, f"{e.prefix} not filtered yet"
            route = filtered[e.prefix]
            assert route.proto == proto, (e.prefix, route.proto)
            reasons = {c for c in route.large_communities if c[:2] == (RS, 1101)}
            assert reasons == {(RS, 1101, e.code)}, f"{e.prefix}: {reasons}"
            assert e.prefix not in accepted, f"{e.prefix} also accepted"
    return True


def _check_members(members: dict[int, Bird]) -> bool:
    for asn in (M1, M2, M3):
        got = _by_prefix(members[asn].routes())
        received = {p for p, r in got.items() if r.proto.startswith("rs_")}
        expected = {e.prefix for e in EXPECTATIONS if asn in e.receivers}
        missing, extra = sorted(expected - received), sorted(received - expected)
        assert received == expected, f"AS{asn} missing {missing}, unexpected {extra}"
    return True


@pytest.fixture(scope="module")
def converged(env: Env) -> Env:
    wait_until(lambda: _check_route_server(env.rs), 60, "the route server's verdicts")
    wait_until(lambda: _check_members(env.members), 30, "members to receive their routes")
    return env


def test_sessions_come_up_and_description_is_inert(converged: Env) -> None:
    for asn in (M1, M2, M3):
        for fam in (4, 6):
            state, _since, info = converged.rs.protocol(protocol_name(asn, fam))
            assert (state, info) == ("up", "Established"), (asn, fam, state, info)
    detail = converged.rs.protocol_detail(protocol_name(M1, 4))
    assert "Description:    M1 'evil'; } # / x protocol bgp pwn { }" in detail
    names = converged.rs.cmd("show", "protocols")
    assert "pwn" not in names


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=lambda e: f"AS{e.sender}-{e.prefix}")
def test_route_server_verdict(converged: Env, expect: Expect) -> None:
    accepted, filtered = _rs_view(converged.rs)
    table = accepted if expect.outcome == ACCEPT else filtered
    assert expect.prefix in table
    route = table[expect.prefix]
    ours = {c for c in route.large_communities if c[0] == RS and c[1] >= 1000}
    if expect.outcome == ACCEPT:
        assert ours == {(RS, 1000, expect.code)}
    else:
        assert (RS, 1101, expect.code) in ours
        assert len([c for c in ours if c[1] == 1101]) == 1


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=lambda e: f"AS{e.sender}-{e.prefix}")
def test_what_each_member_receives(converged: Env, expect: Expect) -> None:
    for asn in (M1, M2, M3):
        got = _by_prefix(converged.members[asn].routes())
        route = got.get(expect.prefix)
        if asn in expect.receivers:
            assert route is not None and route.proto.startswith("rs_"), (asn, expect.prefix)
            # Transparent route server: path and next hop are the sender's.
            assert route.as_path[0] == expect.sender
            want_hop = v4(expect.sender) if "." in expect.prefix else v6(expect.sender)
            assert route.next_hop == want_hop
            # Control communities never leave the route server; RPKI info does.
            assert not {c for c in route.communities if c[0] in (0, RS)}
            assert not {c for c in route.large_communities if c[:2] in ((RS, 0), (RS, 1))}
            assert (RS, 1000, expect.code) in route.large_communities
        else:
            assert route is None or not route.proto.startswith("rs_"), (asn, expect.prefix)


def test_blackhole_gets_no_export_on_the_way_out(converged: Env) -> None:
    for asn in (M2, M3):
        route = _by_prefix(converged.members[asn].routes())["45.150.0.1/32"]
        assert {(65535, 666), (65535, 65281)} <= route.communities


def test_graceful_shutdown_lowers_local_pref_and_is_passed_on(converged: Env) -> None:
    rs_route = _by_prefix(converged.rs.routes())["45.100.12.0/24"]
    assert rs_route.local_pref == 0
    assert (65535, 0) in rs_route.communities
    for asn in (M2, M3):
        route = _by_prefix(converged.members[asn].routes())["45.100.12.0/24"]
        assert (65535, 0) in route.communities


def test_forged_route_server_communities_are_scrubbed(converged: Env) -> None:
    route = _by_prefix(converged.rs.routes())["45.150.1.0/24"]
    assert {c for c in route.large_communities if c[0] == RS} == {(RS, 1000, 2)}


def test_import_limit_shuts_the_session_and_nothing_leaks(converged: Env) -> None:
    def limit_hit() -> bool:
        state, _since, info = converged.rs.protocol(protocol_name(M4, 4))
        assert "Route limit exceeded" in info, (state, info)
        return True

    wait_until(limit_hit, 20, "AS400's import limit")
    for asn in (M1, M2, M3):
        got = _by_prefix(converged.members[asn].routes())
        assert not [p for p in got if p.startswith("45.40.")], asn
    assert not [p for p in _by_prefix(converged.rs.routes()) if p.startswith("45.40.")]


def test_vrp_change_revalidates_without_session_reset(converged: Env) -> None:
    proto = protocol_name(M1, 4)
    before = converged.rs.protocol(proto)
    assert before[0] == "up"
    assert "45.66.0.0/24" in _by_prefix(converged.rs.routes(filtered=True))
    write_vrps(converged.vrp_file, [*VRPS, VRP_FIX])

    def now_valid() -> bool:
        route = _by_prefix(converged.rs.routes()).get("45.66.0.0/24")
        assert route is not None, "45.66.0.0/24 still filtered"
        assert {c for c in route.large_communities if c[0] == RS} == {(RS, 1000, 1)}
        return True

    wait_until(now_valid, 30, "45.66.0.0/24 to become RPKI valid")
    assert "45.66.0.0/24" not in _by_prefix(converged.rs.routes(filtered=True))
    wait_until(
        lambda: "45.66.0.0/24" in _by_prefix(converged.members[M2].routes()),
        20,
        "AS200 to receive 45.66.0.0/24",
    )
    assert converged.rs.protocol(proto) == before  # same state, same "since": no reset


def test_no_filter_runtime_errors(converged: Env) -> None:
    # A filter that crashed at run time would also "reject": make sure none did.
    log = converged.rs_log.read_text()
    assert "Started" in log
    assert "runtime error" not in log.lower(), [
        line for line in log.splitlines() if "runtime" in line.lower()
    ]
