"""Admins' per-member settings: display name, max-prefix, fixed addresses — each change
audited, carried to the route servers and the controller; every bad input refused with
nothing written."""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

import pytest

from ztix_core.errors import (
    Conflict,
    InvalidTransition,
    InvalidValue,
    PermissionDenied,
    SettingsError,
)
from ztix_core.max_prefix import MAX_PREFIX_LIMIT, effective_max_prefix
from ztix_core.memory import InMemoryFleet
from ztix_core.ports import CachedFacts, MaxPrefixOverride, NetworkFacts, PeerSpec
from ztix_core.records import Actor, MemberFacts, RouteServer
from ztix_core.settings import load_settings
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import MemberSettings, Provisioner, RegistryFacts
from ztix_core.usecases._common import TOPIC_MEMBER_UPDATE, TOPIC_SYNC
from ztix_core.values import Asn, NodeId

OPERATOR = Actor("user", "someone")
NODE = "abcdef0123"


@pytest.fixture
def members(world: World) -> MemberSettings:
    return MemberSettings(
        world.store, world.clock, world.fleet.servers, allow_documentation_asns=True
    )


def _submit(w: World, asn: int = 64500, node: str = NODE) -> uuid.UUID:
    rid: uuid.UUID = w.workflow.submit(w.user.id, asn, w.network.id, node).id
    return rid


def _active(w: World, members: MemberSettings, asn: int = 64500, node: str = NODE) -> uuid.UUID:
    rid = _submit(w, asn, node)
    members.approve(ADMIN, rid)
    assert w.provisioner.provision(rid) is S.ACTIVE
    return rid


def _outbox_topics(w: World) -> list[str]:
    with w.store() as uow:
        return [m.topic for m in uow.outbox.claim_unsent(1000)]


def _drain(w: World) -> None:
    with w.store() as uow:
        for m in uow.outbox.claim_unsent(1000):
            uow.outbox.mark_sent(m.id, w.clock.now())
        uow.commit()


def _peer(w: World, server: str = "rs1", asn: int = 64500) -> PeerSpec:
    return next(p for p in w.fleet.applied[server] if p.asn == Asn(asn))


# ------------------------------------------------------------------ approval with addresses


def test_approve_with_fixed_addresses_provisions_them(
    world: World, members: MemberSettings
) -> None:
    rid = _submit(world)
    request = members.approve(ADMIN, rid, ipv4="10.1.0.77", ipv6="fd00:1::77")
    assert request.status is S.APPROVED
    assert _outbox_topics(world) == ["provision_request"]
    assert world.provisioner.provision(rid) is S.ACTIVE
    member = world.provider.members[(world.network.id, NodeId(NODE))]
    assert member.ip_assignments == ("10.1.0.77", "fd00:1::77")
    peer = _peer(world)
    assert (str(peer.ipv4), str(peer.ipv6)) == ("10.1.0.77", "fd00:1::77")
    with world.store() as uow:
        approved = [
            e for e in uow.audit.for_target("request", str(rid)) if e.action == "request.approved"
        ]
        assert approved[0].metadata["fixed_addresses"] == {
            "ipv4": "10.1.0.77",
            "ipv6": "fd00:1::77",
        }
        assert {str(a.address) for a in uow.allocations.for_request(rid)} == {
            "10.1.0.77",
            "fd00:1::77",
        }


def test_approve_with_one_fixed_family_allocates_the_other(
    world: World, members: MemberSettings
) -> None:
    rid = _submit(world)
    members.approve(ADMIN, rid, ipv6="fd00:1::abcd")
    assert world.provisioner.provision(rid) is S.ACTIVE
    member = world.provider.members[(world.network.id, NodeId(NODE))]
    assert member.ip_assignments == ("10.1.0.3", "fd00:1::abcd")  # .1, .2: route servers


def test_a_fixed_address_is_held_from_approval_on(world: World, members: MemberSettings) -> None:
    first = _submit(world)
    members.approve(ADMIN, first, ipv4="10.1.0.3")  # the next free one, held before provisioning
    second = _submit(world, 64501, "abcdef0456")
    members.approve(ADMIN, second)
    assert world.provisioner.provision(second) is S.ACTIVE
    assert world.provisioner.provision(first) is S.ACTIVE
    got = {n.value: m.ip_assignments[0] for (_, n), m in world.provider.members.items()}
    assert got == {NODE: "10.1.0.3", "abcdef0456": "10.1.0.4"}


BAD_ADDRESSES = [
    ({"ipv4": "10.9.0.5"}, InvalidValue, "outside network"),
    ({"ipv6": "fd00:9::5"}, InvalidValue, "outside network"),
    ({"ipv4": "10.1.0.0"}, InvalidValue, "network address"),
    ({"ipv4": "10.1.0.255"}, InvalidValue, "broadcast address"),
    ({"ipv6": "fd00:1::"}, InvalidValue, "subnet-router anycast"),
    ({"ipv4": "10.1.0.1"}, InvalidValue, "route server rs1's own address"),
    ({"ipv6": "fd00:1::2"}, InvalidValue, "route server rs2's own address"),
    ({"ipv4": "fd00:1::9"}, InvalidValue, "is an IPv6 address; an IPv4 address is needed"),
    ({"ipv6": "10.1.0.9"}, InvalidValue, "is an IPv4 address; an IPv6 address is needed"),
    ({"ipv4": "10.1.0.300"}, InvalidValue, "not an IP address"),
    ({"ipv4": "10.1.0.50", "ipv6": "fd00:1::"}, InvalidValue, "subnet-router anycast"),
]


@pytest.mark.parametrize(("given", "error", "text"), BAD_ADDRESSES)
def test_approve_refuses_a_bad_address_and_changes_nothing(
    world: World,
    members: MemberSettings,
    given: dict[str, str],
    error: type[Exception],
    text: str,
) -> None:
    rid = _submit(world)
    before = world.store.tables.copy()
    with pytest.raises(error, match=text):
        members.approve(ADMIN, rid, **given)
    assert world.store.tables == before


def test_approve_refuses_a_taken_address(world: World, members: MemberSettings) -> None:
    _active(world, members)  # holds 10.1.0.3 / fd00:1::3
    rid = _submit(world, 64501, "abcdef0456")
    before = world.store.tables.copy()
    with pytest.raises(Conflict, match=r"10\.1\.0\.3 is already held by another member"):
        members.approve(ADMIN, rid, ipv4="10.1.0.3")
    assert world.store.tables == before


def test_approve_with_addresses_needs_a_pending_request_and_an_admin(
    world: World, members: MemberSettings
) -> None:
    rid = _active(world, members)
    with pytest.raises(InvalidTransition):
        members.approve(ADMIN, rid, ipv4="10.1.0.90")
    other = _submit(world, 64501, "abcdef0456")
    with pytest.raises(PermissionDenied):
        members.approve(OPERATOR, other, ipv4="10.1.0.90")


# ------------------------------------------------------------------ display name, max-prefix


def test_display_name_and_max_prefix_reach_the_route_servers(
    world: World, members: MemberSettings
) -> None:
    rid = _active(world, members)
    _drain(world)
    change = members.set(
        ADMIN, rid, display_name='  Example Networks "edge"  ', max_prefix_v4=1234, max_prefix_v6=56
    )
    assert change.facts.display_name == 'Example Networks "edge"'
    assert set(change.changes) == {"display_name", "max_prefix_v4", "max_prefix_v6"}
    assert _outbox_topics(world) == [TOPIC_SYNC]
    with world.store() as uow:
        event = uow.audit.for_target("request", str(rid))[-1]
    assert event.action == "member.settings_changed" and event.actor == "user:admin"
    assert event.metadata["changes"]["max_prefix_v4"] == {"from": None, "to": 1234}
    world.provisioner.sync_route_servers()
    for server in ("rs1", "rs2"):
        peer = _peer(world, server)
        assert peer.description == 'Example Networks "edge"'
        assert (peer.max_prefix_v4, peer.max_prefix_v6) == (1234, 56)
    # clearing one family: the next source (the default) holds again
    members.set(ADMIN, rid, max_prefix_v6=None, display_name="")
    world.provisioner.sync_route_servers()
    peer = _peer(world)
    assert (peer.max_prefix_v4, peer.max_prefix_v6) == (1234, 50)
    assert peer.description == "AS64500"


def test_setting_the_same_values_again_writes_nothing(
    world: World, members: MemberSettings
) -> None:
    rid = _active(world, members)
    members.set(ADMIN, rid, display_name="Example", max_prefix_v4=10)
    before = world.store.tables.copy()
    change = members.set(ADMIN, rid, display_name="Example", max_prefix_v4=10)
    assert change.changes == {}
    assert world.store.tables == before


def test_a_pending_request_keeps_its_settings_until_it_is_a_member(
    world: World, members: MemberSettings
) -> None:
    rid = _submit(world)
    members.set(ADMIN, rid, display_name="Early bird", max_prefix_v4=7)
    assert _outbox_topics(world) == []  # no member yet: nothing to sync
    members.approve(ADMIN, rid)
    world.provisioner.provision(rid)
    peer = _peer(world)
    assert (peer.description, peer.max_prefix_v4) == ("Early bird", 7)


BAD_VALUES = [
    ({"max_prefix_v4": 0}, "max_prefix_v4: must be 1-10000000, got 0"),
    ({"max_prefix_v6": -5}, "max_prefix_v6: must be 1-10000000, got -5"),
    ({"max_prefix_v4": MAX_PREFIX_LIMIT + 1}, "must be 1-10000000"),
    ({"max_prefix_v4": True}, "not a whole number"),
    ({"max_prefix_v6": "12"}, "not a whole number"),
    ({"display_name": "two\nlines"}, r"control characters .* U\+000A"),
    ({"display_name": "tab\there"}, r"U\+0009"),
    ({"display_name": "esc\x1b[31m"}, r"U\+001B"),
    ({"display_name": "nul\x00"}, r"U\+0000"),
    ({"display_name": "x" * 121}, "at most 120 characters, got 121"),
    ({"display_name": "ok", "max_prefix_v4": 0}, "max_prefix_v4"),
]


@pytest.mark.parametrize(("given", "text"), BAD_VALUES)
def test_bad_values_are_refused_and_change_nothing(
    world: World, members: MemberSettings, given: dict[str, object], text: str
) -> None:
    rid = _active(world, members)
    members.set(ADMIN, rid, display_name="Before", max_prefix_v4=9)
    before = world.store.tables.copy()
    with pytest.raises(InvalidValue, match=text):
        members.set(ADMIN, rid, **given)  # type: ignore[arg-type]
    assert world.store.tables == before


def test_who_and_when_settings_may_change(world: World, members: MemberSettings) -> None:
    rid = _submit(world)
    with pytest.raises(PermissionDenied):
        members.set(OPERATOR, rid, display_name="Mine")
    with pytest.raises(Conflict, match="chosen when it is approved"):
        members.set(ADMIN, rid, ipv4="10.1.0.50")
    world.workflow.reject(ADMIN, rid, "no")
    with pytest.raises(Conflict, match="rejected: its member settings can no longer change"):
        members.set(ADMIN, rid, display_name="Late")
    with pytest.raises(InvalidValue, match="changed, not cleared"):
        members.set(ADMIN, rid, ipv4=None)


# ------------------------------------------------------------------ address change


def test_changing_an_address_moves_it_on_the_controller_and_route_servers(
    world: World, members: MemberSettings
) -> None:
    rid = _active(world, members)
    _drain(world)
    change = members.set(ADMIN, rid, ipv4="10.1.0.200")
    assert change.changes == {
        "ipv4": (None, ipaddress.IPv4Address("10.1.0.200")),
    }
    assert _outbox_topics(world) == [TOPIC_MEMBER_UPDATE]
    with world.store() as uow:
        m = uow.memberships.get_for_request(rid)
        assert m is not None and str(m.ipv4) == "10.1.0.200" and str(m.ipv6) == "fd00:1::3"
        assert uow.allocations.for_network(world.network.id) == {
            ipaddress.IPv4Address("10.1.0.200"),
            ipaddress.IPv6Address("fd00:1::3"),
        }
    assert world.provisioner.update_member(rid) is True
    member = world.provider.members[(world.network.id, NodeId(NODE))]
    assert member.ip_assignments == ("10.1.0.200", "fd00:1::3")
    assert str(_peer(world).ipv4) == "10.1.0.200"
    # the old address is free again
    other = _submit(world, 64501, "abcdef0456")
    members.approve(ADMIN, other, ipv4="10.1.0.3")


def test_an_address_another_member_holds_is_refused(world: World, members: MemberSettings) -> None:
    first = _active(world, members)
    second = _active(world, members, 64501, "abcdef0456")  # 10.1.0.4
    before = world.store.tables.copy()
    with pytest.raises(Conflict, match="already held"):
        members.set(ADMIN, second, ipv4="10.1.0.3")
    with pytest.raises(InvalidValue, match="route server rs1"):
        members.set(ADMIN, first, ipv6="fd00:1::1")
    assert world.store.tables == before


def test_update_member_does_nothing_for_a_member_not_yet_authorized(
    world: World, members: MemberSettings
) -> None:
    rid = _submit(world)
    members.approve(ADMIN, rid)
    assert world.provisioner.update_member(rid) is False
    members.set(ADMIN, rid, ipv4="10.1.0.99")  # approved, no membership yet
    assert world.provisioner.provision(rid) is S.ACTIVE
    member = world.provider.members[(world.network.id, NodeId(NODE))]
    assert member.ip_assignments[0] == "10.1.0.99"


# ------------------------------------------------------------------ lookups and precedence


def test_find_by_id_or_asn_and_node(world: World, members: MemberSettings) -> None:
    rid = _submit(world)
    assert members.find(str(rid)) == rid
    assert members.find("AS64500", NODE.upper()) == rid
    with pytest.raises(InvalidValue, match="not a request id"):
        members.find("AS64500")
    with pytest.raises(Exception, match="no pending or current request"):
        members.find("64501", NODE)


def test_max_prefix_precedence_is_one_chain() -> None:
    facts = NetworkFacts(Asn(64500), "X", max_prefix_v4=300, max_prefix_v6=None)
    cached = CachedFacts(Asn(64500), facts, b.T0, b.T0)
    override = MaxPrefixOverride(Asn(64500), None, 70, "why", "system:cli", b.T0)
    member = MemberFacts(uuid.uuid4(), max_prefix_v4=None, max_prefix_v6=None)
    got = effective_max_prefix(cached, override, 100, 50, member)
    assert (got.v4, got.source_v4, got.v6, got.source_v6) == (300, "peeringdb", 70, "override")
    member = MemberFacts(member.request_id, max_prefix_v4=5, max_prefix_v6=6)
    got = effective_max_prefix(cached, override, 100, 50, member)
    assert (got.v4, got.source_v4, got.v6, got.source_v6) == (5, "member", 6, "member")
    got = effective_max_prefix(None, None, 100, 50, None)
    assert (got.v4, got.source_v4, got.v6, got.source_v6) == (100, "default", 50, "default")
    huge = CachedFacts(Asn(64500), NetworkFacts(Asn(64500), "X", max_prefix_v4=10**9), b.T0, b.T0)
    assert effective_max_prefix(huge, None, 100, 50).v4 == MAX_PREFIX_LIMIT


@pytest.mark.parametrize("value", [0, -3, MAX_PREFIX_LIMIT + 1])
def test_the_one_max_prefix_default_is_checked(tmp_path: Path, value: int) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(f"[provisioning]\ndefault_max_prefix_v6 = {value}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(config, {"ZTIX_DATA_DIR": str(tmp_path)})
    assert str(info.value) == (
        f"setting provisioning: default_max_prefix_v6: must be 1-10000000, got {value}"
    )


def test_a_per_asn_override_has_the_same_bounds(world: World) -> None:
    facts = RegistryFacts(world.store, world.clock, world.registry)
    before = world.store.tables.copy()
    for bad in (0, MAX_PREFIX_LIMIT + 1):
        with pytest.raises(InvalidValue, match="must be 1-10000000"):
            facts.set_override(ADMIN, Asn(64500), v4=bad, v6=None, reason="typo")
    assert world.store.tables == before


def test_the_pages_show_the_members_own_limit(world: World, members: MemberSettings) -> None:
    rid = _active(world, members)
    facts = RegistryFacts(world.store, world.clock, world.registry)
    members.set(ADMIN, rid, max_prefix_v6=77)
    shown = facts.for_request(ADMIN, rid).max_prefix
    assert (shown.v4, shown.source_v4, shown.v6, shown.source_v6) == (100, "default", 77, "member")
    assert facts.view(Asn(64500)).max_prefix.source_v6 == "default"  # the ASN's own view


def test_a_fixed_address_a_route_server_took_since_fails_provisioning_clearly(
    world: World, members: MemberSettings
) -> None:
    rid = _submit(world)
    members.approve(ADMIN, rid, ipv4="10.1.0.77")
    moved = InMemoryFleet(
        [RouteServer("rs9", Asn(64999), ipaddress.IPv4Address("10.1.0.77"), None)]
    )
    provisioner = Provisioner(world.store, world.clock, world.provider, moved, world.registry)
    assert provisioner.provision(rid) is S.FAILED
    with world.store() as uow:
        request = uow.requests.get(rid)
        assert request is not None and request.last_error is not None
        assert "10.1.0.77 is a route server's own address" in request.last_error
        assert uow.memberships.get_for_request(rid) is None
