"""The stricter route-server policy on real BGP sessions: AS_SET paths, transit-free
networks, BGP roles (RFC 9234) and the prepend communities.

One lab for the module: a route server running ``render_server``'s config with the
default policy (roles on, the default transit-free list) and strict roles for two members,
six member BIRDs and a minimal BGP speaker (:mod:`ztix_adapters_bird.speaker`) that
announces AS_SET paths, which no BIRD filter can build. Needs root; without it the lab
raises and these tests fail.
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
)
from ztix_adapters_bird.policy import RejectReason, prepend_community
from ztix_adapters_bird.render import protocol_name, render_server
from ztix_adapters_bird.settings import PolicyKnobs, RemotePaths, RouteServerSettings
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS = 65000
M1, M2, M3 = 100, 200, 210_000  # M1 and M2 announce the role rs_client; M2 is strict
TF = 3356  # on the default transit-free list
NOROLE = 400  # strict, announces no role: refused
WRONG = 410  # not strict, announces the role "peer": refused (roles must pair up)
SPK = 500  # the speaker
ADDR = {RS: 1, M1: 11, M2: 12, M3: 13, TF: 14, NOROLE: 15, WRONG: 17, SPK: 16}
NODE = {M1: "m1", M2: "m2", M3: "m3", TF: "tf", NOROLE: "norole", WRONG: "wrong"}
ROLE = {M1: "rs_client", M2: "rs_client", WRONG: "peer"}
RECEIVERS = (M1, M2, M3, TF)


def v4(asn: int) -> str:
    return f"10.78.0.{ADDR[asn]}"


def v6(asn: int) -> str:
    return f"fd78::{ADDR[asn]}"


def pre(times: int, peer: int = 0) -> tuple[int, int, int]:
    return prepend_community(RS, times, peer)


ANNOUNCE: dict[int, list[Announcement]] = {
    M1: [
        Announcement("45.100.1.0/24"),
        Announcement("45.100.2.0/24", path=(M1, TF, 300)),  # a transit-free ASN: a leak
        Announcement("45.100.3.0/24", large_communities=(pre(1, M2),)),
        Announcement("45.100.4.0/24", large_communities=(pre(2, M2),)),
        Announcement("45.100.5.0/24", large_communities=(pre(3, M2),)),
        Announcement("45.100.6.0/24", large_communities=(pre(2),)),  # twice to everyone
        # Once to everyone, three times to TF: the request naming the peer wins.
        Announcement("45.100.7.0/24", large_communities=(pre(1), pre(3, TF))),
        # Two requests for M2: the larger count wins.
        Announcement("45.100.8.0/24", large_communities=(pre(1, M2), pre(3, M2))),
        # 64 hops, the longest path allowed: no AS_SET, accepted.
        Announcement("45.100.9.0/24", path=(M1,) * 64),
        Announcement("2a0a:100:1::/48", large_communities=(pre(2, M3),)),
    ],
    M3: [
        Announcement("45.30.1.0/24", otc=999),  # OTC from a route-server client: a leak
        Announcement("45.30.2.0/24"),
    ],
    TF: [Announcement("45.33.1.0/24", path=(TF, 174, 300))],  # a transit-free member
    NOROLE: [Announcement("45.40.1.0/24")],
    WRONG: [Announcement("45.41.1.0/24")],
    M2: [],
}
SPEAKER_ROUTES = {
    "45.50.1.0/24": f"{SPK} {{600 700}}",
    # A set in the middle, between the same ASN: first and last alone would miss it.
    "45.50.2.0/24": f"{SPK} 600 {{700 800}} 600",
    "45.50.3.0/24": f"{SPK} 600",
    "45.50.4.0/24": f"{SPK} {{{TF}}}",  # a transit-free ASN inside a set: AS_SET first
}


@attrs.frozen
class Expect:
    """Where one route goes: filtered with a reason, or received by ``prepends``' keys
    with that many route-server-side prepends of the sender's ASN."""

    sender: int
    prefix: str
    path: tuple[int, ...]
    reason: RejectReason | None = None
    prepends: dict[int, int] = attrs.field(factory=dict)


def _everyone_but(sender: int, extra: int = 0, **special: int) -> dict[int, int]:
    counts = {asn: extra for asn in RECEIVERS if asn != sender}
    counts.update({int(k.removeprefix("AS")): v for k, v in special.items()})
    return counts


EXPECTATIONS = [
    Expect(M1, "45.100.1.0/24", (M1,), prepends=_everyone_but(M1)),
    Expect(M1, "45.100.2.0/24", (M1, TF, 300), RejectReason.TRANSIT_FREE_ASN),
    Expect(M1, "45.100.3.0/24", (M1,), prepends=_everyone_but(M1, AS200=1)),
    Expect(M1, "45.100.4.0/24", (M1,), prepends=_everyone_but(M1, AS200=2)),
    Expect(M1, "45.100.5.0/24", (M1,), prepends=_everyone_but(M1, AS200=3)),
    Expect(M1, "45.100.6.0/24", (M1,), prepends=_everyone_but(M1, 2)),
    Expect(M1, "45.100.7.0/24", (M1,), prepends=_everyone_but(M1, 1, AS3356=3)),
    Expect(M1, "45.100.8.0/24", (M1,), prepends=_everyone_but(M1, AS200=3)),
    Expect(M1, "45.100.9.0/24", (M1,) * 64, prepends=_everyone_but(M1)),
    Expect(M1, "2a0a:100:1::/48", (M1,), prepends=_everyone_but(M1, AS210000=2)),
    Expect(M3, "45.30.2.0/24", (M3,), prepends=_everyone_but(M3)),
    Expect(TF, "45.33.1.0/24", (TF, 174, 300), prepends=_everyone_but(TF)),
    Expect(SPK, "45.50.1.0/24", (SPK, 600, 700), RejectReason.AS_SET_IN_PATH),
    Expect(SPK, "45.50.2.0/24", (SPK, 600, 700, 800, 600), RejectReason.AS_SET_IN_PATH),
    Expect(SPK, "45.50.3.0/24", (SPK, 600), prepends=_everyone_but(SPK)),
    Expect(SPK, "45.50.4.0/24", (SPK, TF), RejectReason.AS_SET_IN_PATH),
]
#: Routes that never reach a table: the leak marked with OTC is treated as withdrawn.
NEVER_SEEN = ["45.30.1.0/24", "45.40.1.0/24", "45.41.1.0/24"]


def test_expectations_cover_every_announcement() -> None:
    announced = {a.prefix for anns in ANNOUNCE.values() for a in anns} | set(SPEAKER_ROUTES)
    assert {e.prefix for e in EXPECTATIONS} | set(NEVER_SEEN) == announced


@attrs.define
class Env:
    lab: Lab
    rs: Bird
    members: dict[int, Bird]
    rs_log: Path
    speaker_log: Path


def _settings(work: Path) -> RouteServerSettings:
    return RouteServerSettings(
        name="lab-rs",
        asn=Asn(RS),
        router_id=ipaddress.IPv4Address(v4(RS)),
        ipv4=ipaddress.IPv4Address(v4(RS)),
        ipv6=ipaddress.IPv6Address(v6(RS)),
        paths=RemotePaths(config_dir=str(work / "rs"), log_file=str(work / "rs.log")),
        # The defaults under test (roles on, the transit-free list), strict for two.
        policy=PolicyKnobs(bgp_roles_strict_asns=(M2, NOROLE)),
    )


def _peers() -> list[PeerSpec]:
    return [
        PeerSpec(
            asn=Asn(asn),
            ipv4=ipaddress.IPv4Address(v4(asn)),
            ipv6=ipaddress.IPv6Address(v6(asn)),
            max_prefix_v4=100,
            max_prefix_v6=100,
            description=f"member AS{asn}",
            network_id=NetworkId("0123456789abcdef"),
        )
        for asn in (*NODE, SPK)
    ]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("policylab")
    with Lab(work) as lab:
        rs_node = lab.add_node("rs", f"{v4(RS)}/24", f"{v6(RS)}/64")
        settings = _settings(work)
        rs_dir = Path(settings.paths.config_dir)
        for name, content in render_server(settings, _peers()).items():
            target = rs_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        rs = lab.start_bird(rs_node, rs_dir / "bird.conf")
        members: dict[int, Bird] = {}
        for asn, role in NODE.items():
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
                    role=ROLE.get(asn),
                )
            )
            members[asn] = lab.start_bird(node, conf)
        spk_node = lab.add_node("spk", f"{v4(SPK)}/24", f"{v6(SPK)}/64")
        routes = [f"{prefix}={path}" for prefix, path in SPEAKER_ROUTES.items()]
        lab.start_speaker(spk_node, asn=SPK, peer=v4(RS), routes=routes)
        yield Env(lab, rs, members, Path(settings.paths.log_file), work / "speaker-spk.out")


def _by_prefix(routes: list[Route]) -> dict[str, Route]:
    return {r.prefix: r for r in routes}


def _received(bird: Bird) -> dict[str, Route]:
    return {p: r for p, r in _by_prefix(bird.routes()).items() if r.proto.startswith("rs_")}


def _check_route_server(rs: Bird) -> bool:
    accepted, filtered = _by_prefix(rs.routes()), _by_prefix(rs.routes(filtered=True))
    for e in EXPECTATIONS:
        if e.reason is None:
            assert e.prefix in accepted, f"{e.prefix} not accepted yet"
            assert e.prefix not in filtered, f"{e.prefix} also filtered"
        else:
            assert e.prefix in filtered, f"{e.prefix} not filtered yet"
            route = filtered[e.prefix]
            reasons = {c for c in route.large_communities if c[:2] == (RS, 1101)}
            assert reasons == {(RS, 1101, int(e.reason))}, f"{e.prefix}: {reasons}"
            assert route.as_path == list(e.path), (e.prefix, route.as_path)
            assert e.prefix not in accepted, f"{e.prefix} also accepted"
    return True


def _check_members(members: dict[int, Bird]) -> bool:
    for asn in RECEIVERS:
        expected = {e.prefix for e in EXPECTATIONS if asn in e.prepends}
        received = set(_received(members[asn]))
        missing, extra = sorted(expected - received), sorted(received - expected)
        assert received == expected, f"AS{asn} missing {missing}, unexpected {extra}"
    return True


@pytest.fixture(scope="module")
def converged(env: Env) -> Env:
    wait_until(lambda: _check_route_server(env.rs), 60, "the route server's verdicts")
    wait_until(lambda: _check_members(env.members), 30, "members to receive their routes")
    return env


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=lambda e: f"AS{e.sender}-{e.prefix}")
def test_verdict_and_what_each_member_receives(converged: Env, expect: Expect) -> None:
    filtered = _by_prefix(converged.rs.routes(filtered=True))
    if expect.reason is not None:
        assert (RS, 1101, int(expect.reason)) in filtered[expect.prefix].large_communities
    for asn in RECEIVERS:
        route = _received(converged.members[asn]).get(expect.prefix)
        if asn not in expect.prepends:
            assert route is None, (asn, expect.prefix)
            continue
        assert route is not None, (asn, expect.prefix)
        # Exactly the requested route-server-side prepends of the sender's ASN, nothing else.
        want = [expect.sender] * expect.prepends[asn] + list(expect.path)
        assert route.as_path == want, (asn, expect.prefix, route.as_path)
        # Neither action nor control communities leave the route server.
        ours = {c for c in route.large_communities if c[0] == RS and c[1] < 1000}
        assert not ours, (asn, expect.prefix, ours)


def test_an_otc_route_from_a_member_is_treated_as_withdrawn(converged: Env) -> None:
    # RFC 9234: OTC on a route from an RS client is a leak; BIRD drops it before any
    # filter, so it is in no table (and reaches nobody), while the session stays up.
    assert "45.30.1.0/24" not in _by_prefix(converged.rs.routes())
    assert "45.30.1.0/24" not in _by_prefix(converged.rs.routes(filtered=True))
    assert converged.rs.protocol(protocol_name(M3, 4))[2] == "Established"
    wait_until(
        lambda: "Route leak detected" in converged.rs_log.read_text(),
        20,
        "the route server to log the leak",
    )


def test_the_route_server_marks_routes_to_members_with_otc(converged: Env) -> None:
    # RFC 9234 egress: towards an RS client, OTC = the route server's ASN is added; M3
    # announces no role, so its BIRD keeps the attribute exactly as received.
    route = _received(converged.members[M3])["45.100.1.0/24"]
    assert route.attrs.get("BGP.otc") == str(RS), route.attrs


def test_roles_are_negotiated_and_a_member_without_or_with_another_role_is_refused(
    converged: Env,
) -> None:
    for asn in (M1, M2):
        detail = converged.rs.protocol_detail(protocol_name(asn, 4))
        assert "Established" in detail
        assert "Role: rs_server" in detail and "Role: rs_client" in detail, detail
    # M3 announces no role, and is not strict: its session is up.
    assert converged.rs.protocol(protocol_name(M3, 6))[2] == "Established"

    # Strict without a role, and (strict or not) a role that does not pair with
    # rs_server: BIRD refuses the OPEN with "Role mismatch".
    log = converged.rs_log
    for name in [protocol_name(asn, fam) for asn in (NOROLE, WRONG) for fam in (4, 6)]:

        def refused(name: str = name) -> bool:
            return f"{name}: Error: Role mismatch" in log.read_text()

        wait_until(refused, 30, f"{name} to be refused")
        assert converged.rs.protocol(name)[2] != "Established"
    routes = _by_prefix(converged.rs.routes())
    assert "45.40.1.0/24" not in routes and "45.41.1.0/24" not in routes


def test_no_filter_runtime_errors(converged: Env) -> None:
    log = converged.rs_log.read_text()
    assert "runtime error" not in log.lower(), [
        line for line in log.splitlines() if "runtime" in line.lower()
    ]
    assert "session up" in converged.speaker_log.read_text()
