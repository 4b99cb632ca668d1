"""The repository contract: every storage adapter must pass these tests.

Use it from an adapter's test module::

    from ztix_core.testing.repository_contract import *  # noqa: F403

and provide a ``uow_factory`` fixture returning a zero-argument callable that opens a
unit of work over an EMPTY store (one per test). The in-memory store passes it in the
core's own tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from typing import Any

import attrs
import pytest

from ztix_core.errors import DuplicateLiveRequest, DuplicateRecord, InvalidTransition, NotFound
from ztix_core.looking_glass import (
    FilteredRoute,
    LookingGlassServer,
    LookingGlassSession,
    LookingGlassSnapshot,
)
from ztix_core.ports import (
    CachedFacts,
    MaxPrefixOverride,
    NetworkFacts,
    RequestFilter,
    UnitOfWorkFactory,
)
from ztix_core.records import (
    AuditEvent,
    ControllerObservation,
    IpAllocation,
    NetworkAccess,
    ObservedCheck,
    RouteServerObservation,
    RouteServerState,
    SessionObservation,
    User,
    ZtNetwork,
    new_id,
)
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.testing import builders as b
from ztix_core.testing.member_facts_contract import (  # noqa: F401  (re-exported below)
    test_member_facts_need_a_known_request,
    test_member_facts_roundtrip,
)
from ztix_core.values import Asn, NetworkId, NodeId

__all__ = [name for name in dir() if name.startswith("test_")]  # refreshed at the end

S = RequestStatus


def _seed(uow_factory: UnitOfWorkFactory) -> tuple[User, ZtNetwork]:
    u, n = b.user(), b.network()
    with uow_factory() as uow:
        uow.users.add(u)
        uow.networks.add(n)
        uow.commit()
    return u, n


# ------------------------------------------------------------------ unit of work


def test_uncommitted_changes_are_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.users.add(b.user("ghost"))
    with uow_factory() as uow:
        assert uow.users.get_by_username("ghost") is None


def test_exception_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.users.add(b.user("ghost"))
        raise RuntimeError("boom")
    with uow_factory() as uow:
        assert uow.users.list() == []


def test_commit_is_visible_to_the_next_unit(uow_factory: UnitOfWorkFactory) -> None:
    u = b.user(
        "bob",
        email="bob@example.net",
        email_verified=True,
        is_admin=True,
        peeringdb_id=42,
        verified_user=True,
    )
    with uow_factory() as uow:
        uow.users.add(u)
        uow.commit()
    with uow_factory() as uow:
        assert uow.users.get(u.id) == u


def test_refused_write_leaves_the_store_unchanged(uow_factory: UnitOfWorkFactory) -> None:
    _seed(uow_factory)
    with pytest.raises(DuplicateRecord), uow_factory() as uow:
        uow.users.add(b.user("carol"))
        uow.users.add(b.user("ALICE"))
        uow.commit()
    with uow_factory() as uow:
        assert [x.username for x in uow.users.list()] == ["alice"]


# ------------------------------------------------------------------ users & credentials


def test_usernames_are_unique_case_insensitively(uow_factory: UnitOfWorkFactory) -> None:
    u, _ = _seed(uow_factory)
    with uow_factory() as uow:
        assert uow.users.get_by_username("ALICE") == u
        with pytest.raises(DuplicateRecord):
            uow.users.add(b.user("Alice"))


def test_peeringdb_ids_are_unique(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.users.add(b.user("a", peeringdb_id=7))
        uow.commit()
    with uow_factory() as uow:
        assert uow.users.get_by_peeringdb_id(7) is not None
        with pytest.raises(DuplicateRecord):
            uow.users.add(b.user("b", peeringdb_id=7))


def test_users_without_username_may_coexist(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.users.add(b.user(username=None, display_name="X", peeringdb_id=1))
        uow.users.add(b.user(username=None, display_name="Y", peeringdb_id=2))
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.users.list()) == 2


def test_update_user(uow_factory: UnitOfWorkFactory) -> None:
    u, _ = _seed(uow_factory)
    with uow_factory() as uow:
        uow.users.update(attrs.evolve(u, is_admin=True, email="a@example.net", disabled=True))
        uow.commit()
    with uow_factory() as uow:
        got = uow.users.get(u.id)
        assert got is not None and got.is_admin and got.email == "a@example.net"
        assert got.disabled
        with pytest.raises(NotFound):
            uow.users.update(b.user("nobody"))


def test_credentials(uow_factory: UnitOfWorkFactory) -> None:
    u, _ = _seed(uow_factory)
    with uow_factory() as uow:
        assert uow.credentials.get(u.id) is None
        uow.credentials.set(u.id, "hash1")
        uow.credentials.set(u.id, "hash2")
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.get(u.id) == "hash2"
        with pytest.raises(NotFound):
            uow.credentials.set(b.user("nobody").id, "h")


# ------------------------------------------------------------------ ASN links, networks


def test_asn_links(uow_factory: UnitOfWorkFactory) -> None:
    u, _ = _seed(uow_factory)
    with uow_factory() as uow:
        uow.asn_links.add(b.link(u.id, 64501))
        uow.asn_links.add(b.link(u.id, 64500, network_name="Example"))
        uow.asn_links.add(b.link(u.id, 64500, network_name="Renamed", can_manage_sessions=True))
        uow.commit()
    with uow_factory() as uow:
        links = uow.asn_links.list_for_user(u.id)
        assert [lk.asn for lk in links] == [Asn(64500), Asn(64501)]
        assert links[0].network_name == "Renamed" and links[0].can_manage_sessions
        uow.asn_links.remove(u.id, Asn(64501))
        uow.asn_links.remove(u.id, Asn(65000))  # absent: fine
        uow.commit()
    with uow_factory() as uow:
        assert [lk.asn for lk in uow.asn_links.list_for_user(u.id)] == [Asn(64500)]
        with pytest.raises(NotFound):
            uow.asn_links.add(b.link(b.user("nobody").id))


def test_networks(uow_factory: UnitOfWorkFactory) -> None:
    _, n = _seed(uow_factory)
    with uow_factory() as uow:
        assert uow.networks.get(n.id) == n
        assert uow.networks.list() == [n]
        with pytest.raises(DuplicateRecord):
            uow.networks.add(n)
        changed = attrs.evolve(n, name="renamed", description="d", retired=True)
        uow.networks.update(changed)
        with pytest.raises(NotFound):
            uow.networks.update(attrs.evolve(n, id=NetworkId("ffffffffff000001")))
        uow.commit()
    with uow_factory() as uow:
        assert uow.networks.get(n.id) == changed


def test_network_access(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    with uow_factory() as uow:
        assert uow.network_access.list_for_user(u.id) == []
        uow.network_access.grant(NetworkAccess(u.id, n.id))
        uow.network_access.grant(NetworkAccess(u.id, n.id))
        uow.commit()
    with uow_factory() as uow:
        assert uow.network_access.list_for_user(u.id) == [NetworkAccess(u.id, n.id)]
        with pytest.raises(NotFound):
            uow.network_access.grant(NetworkAccess(u.id, b.network(99).id))
    with uow_factory() as uow:
        uow.network_access.revoke(NetworkAccess(u.id, n.id))
        uow.network_access.revoke(NetworkAccess(u.id, n.id))  # absent: fine
        uow.commit()
    with uow_factory() as uow:
        assert uow.network_access.list_for_user(u.id) == []


# ------------------------------------------------------------------ join requests


def test_request_roundtrip(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    r = b.request(
        u.id,
        n.id,
        notes='hello "world"',
        retry_count=2,
        last_error="x",
        decided_at=b.T0 + dt.timedelta(seconds=1),
        decided_by="user:1",
    )
    with uow_factory() as uow:
        uow.requests.add(r)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.get(r.id) == r


def test_one_live_request_per_asn_and_network(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    first = b.request(u.id, n.id)
    with uow_factory() as uow:
        uow.requests.add(first)
        uow.commit()
    for status in LIVE_STATUSES:
        with uow_factory() as uow:
            with pytest.raises(DuplicateLiveRequest) as info:
                uow.requests.add(b.request(u.id, n.id, node="abcdef0002", status=status))
            assert info.value.existing_id == first.id
    with uow_factory() as uow:
        assert uow.requests.count(RequestFilter()) == 1
        assert uow.requests.find_live(Asn(64500), n.id) == first


def test_get_many(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    r1, r2 = b.request(u.id, n.id), b.request(u.id, n.id, asn=64501, node="abcdef0002")
    with uow_factory() as uow:
        uow.requests.add(r1)
        uow.requests.add(r2)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.get_many([r1.id, r2.id, b.user().id]) == {r1.id: r1, r2.id: r2}
        assert uow.requests.get_many([]) == {}


def test_dead_requests_do_not_hold_the_slot(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    with uow_factory() as uow:
        for status in (S.REJECTED, S.REMOVED, S.FAILED, S.REJECTED):
            uow.requests.add(b.request(u.id, n.id, status=status))
        live = b.request(u.id, n.id)
        uow.requests.add(live)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.find_live(Asn(64500), n.id) == live
        assert uow.requests.find_live(Asn(64501), n.id) is None


def test_request_needs_known_user_and_network(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.requests.add(b.request(b.user("nobody").id, n.id))
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.requests.add(b.request(u.id, b.network(77).id))
    with uow_factory() as uow:
        assert uow.requests.count(RequestFilter()) == 0


def test_update_is_compare_and_set(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    r = b.request(u.id, n.id)
    with uow_factory() as uow:
        uow.requests.add(r)
        uow.commit()
    approved = attrs.evolve(r, status=S.APPROVED, decided_by="user:x")
    with uow_factory() as uow:
        uow.requests.update(approved, expected_status=S.PENDING)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(InvalidTransition) as info:
            uow.requests.update(attrs.evolve(r, status=S.REJECTED), expected_status=S.PENDING)
        assert info.value.current_status == "approved"
    with uow_factory() as uow:
        assert uow.requests.get(r.id) == approved
        with pytest.raises(NotFound):
            uow.requests.update(b.request(u.id, n.id), expected_status=S.PENDING)


def test_moving_back_to_live_respects_the_slot(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    failed = b.request(u.id, n.id, status=S.FAILED)
    live = b.request(u.id, n.id, node="abcdef0002")
    with uow_factory() as uow:
        uow.requests.add(failed)
        uow.requests.add(live)
        uow.commit()
    with uow_factory() as uow, pytest.raises(DuplicateLiveRequest):
        uow.requests.update(attrs.evolve(failed, status=S.APPROVED), expected_status=S.FAILED)
    with uow_factory() as uow:
        got = uow.requests.get(failed.id)
        assert got is not None and got.status is S.FAILED


def test_query_filters_order_and_paging(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    other_user, other_net = b.user("bob"), b.network(2)
    made = []
    with uow_factory() as uow:
        uow.users.add(other_user)
        uow.networks.add(other_net)
        for i in range(12):
            r = b.request(
                u.id if i % 2 else other_user.id,
                n.id if i % 3 else other_net.id,
                asn=64500 + i,
                node=f"abcdef{i:04d}",
                status=S.PENDING if i % 4 else S.ACTIVE,
                at=b.T0 + dt.timedelta(minutes=i),
            )
            uow.requests.add(r)
            made.append(r)
        uow.commit()
    newest_first = sorted(made, key=lambda r: r.requested_at, reverse=True)
    with uow_factory() as uow:
        q = uow.requests.query
        assert q(RequestFilter()) == newest_first
        assert q(RequestFilter(limit=5, offset=5)) == newest_first[5:10]
        pend = RequestFilter(statuses=frozenset({S.PENDING}), network_id=n.id)
        assert q(pend) == [
            r for r in newest_first if r.status is S.PENDING and r.network_id == n.id
        ]
        assert uow.requests.count(attrs.evolve(pend, limit=1)) == len(q(pend))
        assert q(RequestFilter(asn=Asn(64503))) == [made[3]]
        assert q(RequestFilter(user_id=u.id)) == [r for r in newest_first if r.user_id == u.id]
        assert q(RequestFilter(node_id=NodeId("abcdef0007"))) == [made[7]]
        cut = b.T0 + dt.timedelta(minutes=6)
        assert q(RequestFilter(submitted_before=cut)) == [
            r for r in newest_first if r.requested_at < cut
        ]
        assert q(RequestFilter(submitted_after=cut)) == [
            r for r in newest_first if r.requested_at >= cut
        ]


def test_count_by_status_in_one_call(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    other_user, other_net = b.user("bob"), b.network(2)
    statuses = [S.PENDING, S.ACTIVE, S.FAILED, S.REJECTED, S.PENDING, S.FAILED, S.REMOVED]
    made = []
    with uow_factory() as uow:
        uow.users.add(other_user)
        uow.networks.add(other_net)
        for i, status in enumerate(statuses * 2):
            r = b.request(
                u.id if i % 2 else other_user.id,
                n.id if i < len(statuses) else other_net.id,
                asn=64500 + i,
                node=f"abcdef{i:04d}",
                status=status,
                at=b.T0 + dt.timedelta(minutes=i),
            )
            uow.requests.add(r)
            made.append(r)
        uow.commit()

    def expected(flt: RequestFilter, among: frozenset[S] | None = None) -> dict[S, int]:
        counts = dict.fromkeys(among if among is not None else S, 0)
        with uow_factory() as uow:
            for status in counts:
                counts[status] = uow.requests.count(attrs.evolve(flt, statuses=frozenset({status})))
        return counts

    def counted(flt: RequestFilter) -> dict[S, int]:
        with uow_factory() as uow:
            return uow.requests.count_by_status(flt)

    everything = counted(RequestFilter())
    # every status is a key, 0 for those no request is in
    assert everything == {s: sum(1 for r in made if r.status is s) for s in S}
    assert everything[S.APPROVED] == 0 and sum(everything.values()) == len(made)
    cut = b.T0 + dt.timedelta(minutes=9)
    for flt in (
        RequestFilter(network_id=n.id),
        RequestFilter(user_id=u.id),
        RequestFilter(asn=Asn(64502)),
        RequestFilter(network_id=other_net.id, submitted_before=cut),
        RequestFilter(submitted_after=cut, limit=1, offset=3),  # paging is ignored
    ):
        assert counted(flt) == expected(flt), flt
    some = frozenset({S.PENDING, S.APPROVED})
    flt = RequestFilter(statuses=some, network_id=n.id)
    assert counted(flt) == expected(flt, some) == {S.PENDING: 2, S.APPROVED: 0}


# ------------------------------------------------------------------ memberships, addresses


def test_memberships(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    r1, r2 = b.request(u.id, n.id), b.request(u.id, n.id, asn=64501, node="abcdef0002")
    m1 = b.membership(r1)
    with uow_factory() as uow:
        uow.requests.add(r1)
        uow.requests.add(r2)
        uow.memberships.add(m1)
        uow.commit()
    with uow_factory() as uow:
        assert uow.memberships.get_for_request(r1.id) == m1
        assert uow.memberships.get_for_request(r2.id) is None
        assert uow.memberships.get_for_requests([r1.id, r2.id, uuid.uuid4()]) == {r1.id: m1}
        assert uow.memberships.get_for_requests([]) == {}
        with pytest.raises(DuplicateRecord):
            uow.memberships.add(b.membership(r1, "10.1.0.3", "fd00:1::3"))
    with uow_factory() as uow, pytest.raises(DuplicateRecord):  # same node on the same network
        uow.memberships.add(b.membership(r2, "10.1.0.3", "fd00:1::3", node_id=r1.node_id))
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.memberships.add(b.membership(b.request(u.id, n.id, node="abcdef0009")))
    m1b = attrs.evolve(m1, authorized=True, config_generation=3, removal_generation=4)
    with uow_factory() as uow:
        uow.memberships.update(m1b)
        uow.commit()
    with uow_factory() as uow:
        assert uow.memberships.list() == [m1b]
        assert uow.memberships.asns_among([r1.asn, r2.asn, Asn(64999)]) == {r1.asn}
        assert uow.memberships.asns_among([]) == set()
        uow.memberships.delete(m1.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.memberships.list() == []
        assert uow.memberships.asns_among([r1.asn]) == set()
        with pytest.raises(NotFound):
            uow.memberships.update(m1b)


def test_allocations_are_unique_per_network(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    r1, r2 = b.request(u.id, n.id), b.request(u.id, n.id, asn=64501, node="abcdef0002")
    a4, a6 = ipaddress.IPv4Address("10.1.0.2"), ipaddress.IPv6Address("fd00:1::2")
    with uow_factory() as uow:
        uow.requests.add(r1)
        uow.requests.add(r2)
        uow.allocations.reserve(IpAllocation(n.id, a4, r1.id))
        uow.allocations.reserve(IpAllocation(n.id, a6, r1.id))
        uow.commit()
    with uow_factory() as uow, pytest.raises(DuplicateRecord) as info:
        uow.allocations.reserve(IpAllocation(n.id, a4, r2.id))
    assert info.value.details.get("field") == "address"  # callers retry on this one
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.allocations.reserve(
            IpAllocation(n.id, ipaddress.IPv4Address("10.1.0.9"), b.request(u.id, n.id).id)
        )
    with uow_factory() as uow:
        assert uow.allocations.for_network(n.id) == {a4, a6}
        assert [a.address for a in uow.allocations.for_request(r1.id)] == [a4, a6]
        assert uow.allocations.for_request(r2.id) == []
        assert uow.allocations.release_for_request(r1.id) == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.allocations.for_network(n.id) == set()
        uow.allocations.reserve(IpAllocation(n.id, a4, r2.id))  # reusable once released
        uow.commit()


def test_lowest_free_address_is_found_by_storage(uow_factory: UnitOfWorkFactory) -> None:
    u, n = _seed(uow_factory)
    other = b.network(2)
    v4, v6 = ipaddress.IPv4Address, ipaddress.IPv6Address
    first4, last4 = v4("10.1.0.1"), v4("10.1.0.254")
    first6, last6 = v6("fd00:1::1"), v6("fd00:1::ffff:ffff:ffff:fffe")
    r1, r2 = b.request(u.id, n.id), b.request(u.id, other.id, asn=64501, node="abcdef0002")
    with uow_factory() as uow:
        assert uow.allocations.lowest_free(n.id, first4, last4) == first4
        assert uow.allocations.lowest_free(n.id, first6, last6) == first6
        uow.networks.add(other)
        uow.requests.add(r1)
        uow.requests.add(r2)
        held = ["10.1.0.1", "10.1.0.2", "10.1.0.4", "fd00:1::1", "fd00:1::2", "fd00:1::3"]
        for text in held:
            uow.allocations.reserve(IpAllocation(n.id, ipaddress.ip_address(text), r1.id))
        # another network's addresses and the top half of the /64 change nothing
        uow.allocations.reserve(IpAllocation(other.id, v4("10.1.0.3"), r2.id))
        uow.allocations.reserve(IpAllocation(n.id, v6("fd00:1::8000:0:0:4"), r1.id))
        uow.commit()
    with uow_factory() as uow:
        a = uow.allocations
        assert a.lowest_free(n.id, first4, last4) == v4("10.1.0.3")
        assert a.lowest_free(n.id, first4, last4, skip=[v4("10.1.0.3")]) == v4("10.1.0.5")
        assert a.lowest_free(n.id, v4("10.1.0.4"), last4) == v4("10.1.0.5")
        assert a.lowest_free(n.id, first4, v4("10.1.0.2")) is None
        assert a.lowest_free(n.id, v4("10.1.0.3"), v4("10.1.0.3"), skip=[v4("10.1.0.3")]) is None
        assert a.lowest_free(other.id, v4("10.1.0.3"), last4) == v4("10.1.0.4")
        assert a.lowest_free(n.id, first6, last6) == v6("fd00:1::4")
        assert a.lowest_free(n.id, first6, last6, skip=[v6("fd00:1::4")]) == v6("fd00:1::5")
        assert a.lowest_free(n.id, v6("fd00:1::8000:0:0:4"), last6) == v6("fd00:1::8000:0:0:5")
        # a prefix wider than a /64: the lowest free address still, across /64s
        wide_first, wide_last = v6("fd00:1::1"), v6("fd00:1:0:ffff:ffff:ffff:ffff:fffe")
        assert a.lowest_free(n.id, wide_first, wide_last) == v6("fd00:1::4")
        assert a.held_among(n.id, [v4("10.1.0.2"), v4("10.1.0.3"), v6("fd00:1::3")]) == {
            v4("10.1.0.2"),
            v6("fd00:1::3"),
        }
        assert a.held_among(n.id, []) == set()
    with uow_factory() as uow:
        uow.allocations.reserve(IpAllocation(n.id, v6("fd00:1:0:1::4"), r1.id))
        uow.commit()
    with uow_factory() as uow:  # held in another /64 of a wide prefix: not this address
        assert uow.allocations.lowest_free(n.id, wide_first, wide_last) == v6("fd00:1::4")


# ------------------------------------------------------------------ audit, outbox, RS state


def test_audit_trail(uow_factory: UnitOfWorkFactory) -> None:
    events = [
        b.audit_event("r1", "request.submitted", b.T0, nested={"a": [1, 2]}, text="é\"'"),
        b.audit_event("r1", "request.approved", b.T0 + dt.timedelta(seconds=1), actor="user:1"),
        b.audit_event(
            "r2", "request.approved", b.T0 + dt.timedelta(seconds=2), actor="system:policy_auto"
        ),
    ]
    with uow_factory() as uow:
        for e in events:
            uow.audit.append(e)
        uow.commit()
    with uow_factory() as uow:
        assert uow.audit.for_target("request", "r1") == events[:2]
        assert uow.audit.recent(2) == [events[2], events[1]]
        assert uow.audit.recent(10, action="request.approved") == [events[2], events[1]]
        assert uow.audit.count_since("request.approved", "system:policy_auto", b.T0) == 1
        since = b.T0 + dt.timedelta(seconds=3)
        assert uow.audit.count_since("request.approved", "system:policy_auto", since) == 0


def test_audit_latest_for_target(uow_factory: UnitOfWorkFactory) -> None:
    def rs_event(server: str, action: str, second: int) -> AuditEvent:
        at = b.T0 + dt.timedelta(seconds=second)
        return AuditEvent(new_id(), at, "system:worker", action, "route_server", server, {})

    events = [
        rs_event("rs1", "route_server.applied", 0),
        rs_event("rs2", "route_server.failed", 1),
        rs_event("rs1", "route_server.failed", 2),
        rs_event("rs1", "route_server.retried", 3),
    ]
    with uow_factory() as uow:
        for e in events:
            uow.audit.append(e)
        uow.commit()
    outcomes = {"route_server.applied", "route_server.unchanged", "route_server.failed"}
    with uow_factory() as uow:
        assert uow.audit.latest_for_target("route_server", "rs1", outcomes) == events[2]
        assert uow.audit.latest_for_target("route_server", "rs2", outcomes) == events[1]
        applied = {"route_server.applied"}
        assert uow.audit.latest_for_target("route_server", "rs1", applied) == events[0]
        assert uow.audit.latest_for_target("route_server", "rs3", outcomes) is None
        assert uow.audit.latest_for_target("request", "rs1", outcomes) is None
        assert uow.audit.latest_for_target("route_server", "rs1", ()) is None


def test_outbox(uow_factory: UnitOfWorkFactory) -> None:
    first = b.outbox(at=b.T0)
    second = b.outbox("deprovision_request", at=b.T0 + dt.timedelta(seconds=1))
    with uow_factory() as uow:
        assert uow.outbox.oldest_unsent_at() is None
    with uow_factory() as uow:
        uow.outbox.add(second)
        uow.outbox.add(first)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.pending_count() == 2
        assert uow.outbox.oldest_unsent_at() == b.T0
        assert uow.outbox.unsent_correlation_ids() == {"corr"}
        claimed = uow.outbox.claim_unsent(10)
        assert [m.id for m in claimed] == [first.id, second.id]
        assert claimed[0].payload == first.payload and claimed[0].correlation_id == "corr"
        uow.outbox.record_attempt(first.id)
        uow.outbox.mark_sent(second.id, b.T0 + dt.timedelta(seconds=5))
        uow.commit()
    with uow_factory() as uow:
        (left,) = uow.outbox.claim_unsent(10)
        assert left.id == first.id and left.attempts == 1
        assert uow.outbox.pending_count() == 1
        assert uow.outbox.oldest_unsent_at() == b.T0
        uow.outbox.mark_sent(first.id, b.T0 + dt.timedelta(seconds=6))
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.unsent_correlation_ids() == set()
        assert uow.outbox.oldest_unsent_at() is None


def test_route_server_state(uow_factory: UnitOfWorkFactory) -> None:
    s1 = RouteServerState(
        "rs2", 3, 2, "d3", "d2", 3, "apply: boom", b.T0, b.T0, "file peers/AS1.conf: changed", b.T0
    )
    with uow_factory() as uow:
        assert uow.route_servers.get("rs2") is None
        uow.route_servers.put(RouteServerState("rs1"))
        uow.route_servers.put(attrs.evolve(s1, desired_generation=1))
        uow.route_servers.put(s1)
        uow.commit()
    with uow_factory() as uow:
        assert uow.route_servers.get("rs2") == s1
        assert [s.name for s in uow.route_servers.list()] == ["rs1", "rs2"]


def _session(server: str, asn: int, family: int, state: str = "up") -> SessionObservation:
    return SessionObservation(
        server=server,
        asn=Asn(asn),
        protocol=f"AS{asn}_{family}",
        state=state,
        observed_at=b.T0,
        since="2026-12-03 01:00:00",
        info="Established" if state == "up" else "Active  Socket: Connection refused",
        imported=3,
        filtered=1,
        exported=40,
        last_error="" if state == "up" else "Socket: Connection refused",
    )


def test_observations_replace_a_servers_reading(uow_factory: UnitOfWorkFactory) -> None:
    first = RouteServerObservation("rs1", True, b.T0, "", 4, 3)
    with uow_factory() as uow:
        assert uow.observations.route_servers() == []
        assert uow.observations.controller() is None
        uow.observations.record_route_server(
            first,
            [_session("rs1", 64500, 4), _session("rs1", 64500, 6), _session("rs1", 64501, 4)],
        )
        uow.observations.record_route_server(
            RouteServerObservation("rs2", True, b.T0, "", 1, 0),
            [_session("rs2", 64500, 4, state="start")],
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.observations.route_servers()[0] == first
        got = uow.observations.sessions_for_asn(Asn(64500))
        assert [(s.server, s.protocol) for s in got] == [
            ("rs1", "AS64500_4"),
            ("rs1", "AS64500_6"),
            ("rs2", "AS64500_4"),
        ]
        assert got[0] == _session("rs1", 64500, 4) and got[0].established
        assert not got[2].established and got[2].last_error == "Socket: Connection refused"
    later = b.T0 + dt.timedelta(minutes=1)
    down = RouteServerObservation("rs1", False, later, "ssh: connection refused")
    with uow_factory() as uow:
        uow.observations.record_route_server(down, [])
        uow.commit()
    with uow_factory() as uow:
        assert [o.server for o in uow.observations.route_servers()] == ["rs1", "rs2"]
        assert uow.observations.route_servers()[0] == down
        assert [s.server for s in uow.observations.sessions_for_asn(Asn(64500))] == ["rs2"]
        assert uow.observations.sessions_for_asn(Asn(64501)) == []
        uow.observations.forget_route_server("rs2")
        uow.observations.forget_route_server("unknown")
        uow.commit()
    with uow_factory() as uow:
        assert [o.server for o in uow.observations.route_servers()] == ["rs1"]
        assert uow.observations.sessions_for_asn(Asn(64500)) == []


def test_controller_observation_is_replaced(uow_factory: UnitOfWorkFactory) -> None:
    bad = ControllerObservation(
        b.T0,
        (
            ObservedCheck("reachable", True, "answered"),
            ObservedCheck("token", False, "401", "set ZT_CONTROLLER_AUTH_TOKEN_FILE"),
        ),
    )
    with uow_factory() as uow:
        uow.observations.record_controller(bad)
        uow.commit()
    with uow_factory() as uow:
        assert uow.observations.controller() == bad
        assert not bad.ready
        good = ControllerObservation(b.T0, (ObservedCheck("reachable", True),))
        uow.observations.record_controller(good)
        uow.rollback()
        assert uow.observations.controller() == bad
        uow.observations.record_controller(good)
        uow.commit()
    with uow_factory() as uow:
        got = uow.observations.controller()
        assert got == good and got.ready
    assert not ControllerObservation(b.T0).ready


def test_looking_glass_snapshot_is_replaced_whole(uow_factory: UnitOfWorkFactory) -> None:
    servers = (
        LookingGlassServer(
            "rs1",
            (
                LookingGlassSession(
                    "AS64500_v4",
                    "Established",
                    "2026-12-01 10:00:00",
                    "Established",
                    "",
                    6,
                    2,
                    4,
                    9,
                    False,
                ),
                LookingGlassSession("AS64500_v6", "Active", last_error="Socket: refused"),
            ),
            (
                FilteredRoute(
                    "45.66.0.0/24",
                    "AS64500_v4",
                    ("RPKI invalid",),
                    (13,),
                    "invalid",
                    "64500",
                    "10.0.0.11",
                ),
                FilteredRoute("10.10.0.0/16", "AS64500_v4", ("unknown reason 99",), (99,)),
            ),
            filtered_total=4000,
            note="the query was ended after 20 s",
        ),
        LookingGlassServer("rs2", error="ssh: connection refused"),
    )
    asked = LookingGlassSnapshot(Asn(64500), requested_at=b.T0)
    with uow_factory() as uow:
        assert uow.observations.looking_glass(Asn(64500)) is None
        uow.observations.put_looking_glass(asked)
        uow.commit()
    with uow_factory() as uow:
        assert uow.observations.looking_glass(Asn(64500)) == asked
        assert asked.pending
        seen = attrs.evolve(asked, observed_at=b.T0 + dt.timedelta(seconds=3), servers=servers)
        uow.observations.put_looking_glass(seen)
        uow.rollback()
        assert uow.observations.looking_glass(Asn(64500)) == asked
        uow.observations.put_looking_glass(seen)
        uow.observations.put_looking_glass(LookingGlassSnapshot(Asn(4_200_000_000)))
        uow.commit()
    with uow_factory() as uow:
        got = uow.observations.looking_glass(Asn(64500))
        assert got == seen and not got.pending
        assert got.servers[0].not_shown == 3998
        assert uow.observations.looking_glass(Asn(4_200_000_000)) == LookingGlassSnapshot(
            Asn(4_200_000_000)
        )
        assert uow.observations.looking_glass(Asn(64501)) is None


# ------------------------------------------------------------------ PeeringDB facts


def _facts(asn: int, **over: Any) -> NetworkFacts:
    base = NetworkFacts(
        Asn(asn),
        "Example Net",
        irr_as_set="AS-EXAMPLE",
        max_prefix_v4=1250,
        max_prefix_v6=63,
        never_via_route_servers=False,
        policy_general="Selective",
        status="ok",
        info_prefixes4=1000,
        info_prefixes6=50,
        peeringdb_id=20,
        updated="2026-11-30T10:00:00Z",
    )
    return attrs.evolve(base, **over)


def test_network_facts_cache_keeps_facts_absence_and_fetch_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    later = b.T0 + dt.timedelta(hours=7)
    found = CachedFacts(Asn(64500), _facts(64500), b.T0, b.T0)
    absent = CachedFacts(Asn(64501), None, b.T0, b.T0)
    unknown = CachedFacts(Asn(4_200_000_000), None, None, later, "PeeringDB timed out")
    nulls = CachedFacts(
        Asn(64502),
        _facts(64502, max_prefix_v6=None, info_prefixes6=None, name="Ünïcode"),
        b.T0,
        b.T0,
    )
    with uow_factory() as uow:
        uow.network_facts.put(found)
        uow.network_facts.put_many([absent, unknown, nulls])
        uow.network_facts.put_many([])
        uow.commit()
    with uow_factory() as uow:
        got = uow.network_facts.get_many([Asn(64500), Asn(64501), Asn(4_200_000_000), Asn(1)])
        assert got == {
            Asn(64500): found,
            Asn(64501): absent,
            Asn(4_200_000_000): unknown,
        }
        assert not got[Asn(4_200_000_000)].known and got[Asn(64501)].known
        assert [e.asn for e in uow.network_facts.list()] == [
            Asn(64500),
            Asn(64501),
            Asn(64502),
            Asn(4_200_000_000),
        ]
        assert uow.network_facts.get_many([Asn(64502)])[Asn(64502)] == nulls
        assert uow.network_facts.get_many([]) == {}
        # stale: the old facts stay with their fetch time, the failed ask is recorded
        stale = CachedFacts(Asn(64500), found.facts, b.T0, later, "HTTP 503")
        uow.network_facts.put(stale)
        uow.rollback()
        assert uow.network_facts.get_many([Asn(64500)])[Asn(64500)] == found
        uow.network_facts.put(stale)
        uow.commit()
    with uow_factory() as uow:
        assert uow.network_facts.get_many([Asn(64500)])[Asn(64500)] == stale
        many = [CachedFacts(Asn(a), _facts(a), b.T0, b.T0) for a in range(100_000, 101_200)]
        uow.network_facts.put_many([*many, attrs.evolve(absent, checked_at=later)])
        uow.commit()
    with uow_factory() as uow:
        got_many = uow.network_facts.get_many([e.asn for e in many])
        assert len(got_many) == 1200 and got_many[Asn(100_500)] == many[500]
        assert uow.network_facts.get_many([Asn(64501)])[Asn(64501)].checked_at == later


def test_max_prefix_overrides(uow_factory: UnitOfWorkFactory) -> None:
    one = MaxPrefixOverride(Asn(64500), 500, None, "bursty after migration", "user:x", b.T0)
    two = MaxPrefixOverride(Asn(64501), None, 80, "v6 only", "system:cli", b.T0)
    with uow_factory() as uow:
        uow.network_facts.set_override(one)
        uow.network_facts.set_override(two)
        uow.commit()
    with uow_factory() as uow:
        assert uow.network_facts.overrides() == {Asn(64500): one, Asn(64501): two}
        assert uow.network_facts.overrides([Asn(64501), Asn(7)]) == {Asn(64501): two}
        assert uow.network_facts.overrides([]) == {}
        replaced = attrs.evolve(one, max_prefix_v4=600, max_prefix_v6=70, reason="more")
        uow.network_facts.set_override(replaced)
        assert uow.network_facts.clear_override(Asn(64501)) is True
        assert uow.network_facts.clear_override(Asn(7)) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.network_facts.overrides() == {Asn(64500): replaced}


__all__ = [name for name in dir() if name.startswith("test_")]
