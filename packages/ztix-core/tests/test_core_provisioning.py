"""Provisioning: readiness → IPAM → provider → route-server sync, idempotent; leaving."""

from __future__ import annotations

import ipaddress
import uuid

import attrs
import pytest

from ztix_core.errors import ProviderError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.records import Actor
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import Provisioner, ProvisioningSettings
from ztix_core.values import NodeId


def _approved(w: World, asn: int = 64500, node: str = "abcdef0123") -> uuid.UUID:
    req = w.workflow.submit(w.user.id, asn, w.network.id, node)
    w.workflow.approve(ADMIN, req.id)
    rid: uuid.UUID = req.id
    return rid


def _status(w: World, rid: uuid.UUID) -> S:
    with w.store() as uow:
        req = uow.requests.get(rid)
        assert req is not None
        status: S = req.status
        return status


def _actions(w: World, rid: uuid.UUID) -> list[str]:
    with w.store() as uow:
        return [e.action for e in uow.audit.for_target("request", str(rid))]


def test_approved_request_becomes_active_on_every_server(world: World) -> None:
    rid = _approved(world)
    assert world.provisioner.provision(rid) is S.ACTIVE
    member = world.provider.members[(world.network.id, NodeId("abcdef0123"))]
    # route servers own .1 and .2 (reserved), so the member gets .3 / ::3
    assert member.ip_assignments == ("10.1.0.3", "fd00:1::3")
    assert member.authorized and member.name == "AS64500"
    for name in ("rs1", "rs2"):
        assert [p.asn.value for p in world.fleet.applied[name]] == [64500]
    assert _actions(world, rid) == [
        "request.submitted",
        "request.approved",
        "request.provisioning",
        "membership.allocated",
        "membership.authorized",
        "request.active",
    ]
    with world.store() as uow:
        states = uow.route_servers.list()
        assert [(s.desired_generation, s.applied_generation) for s in states] == [(1, 1), (1, 1)]


def test_provision_is_idempotent(world: World) -> None:
    rid = _approved(world)
    world.provisioner.provision(rid)
    assert world.provisioner.provision(rid) is None  # already active: nothing to do
    assert world.provisioner.sync_route_servers().outcomes == ()
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 1}
    assert len(world.provider.members) == 1


def test_killed_midway_then_rerun_converges(world: World) -> None:
    rid = _approved(world)
    world.provider.fail_next = ProviderError("boom", kind="timeout", transient=True)
    with pytest.raises(ProviderError):
        world.provisioner.provision(rid, final_attempt=False)
    assert _status(world, rid) is S.PROVISIONING
    assert world.provisioner.provision(rid) is S.ACTIVE
    with world.store() as uow:
        assert len(uow.memberships.list()) == 1
        assert len(uow.allocations.for_network(world.network.id)) == 2


def test_readiness_gate_fails_closed_with_remediation(world: World) -> None:
    rid = _approved(world)
    world.provider.ready = False
    assert world.provisioner.provision(rid) is S.FAILED
    assert world.provider.calls == []
    with world.store() as uow:
        req = uow.requests.get(rid)
        assert req is not None and req.retry_count == 1
        assert "controller_reachable" in (req.last_error or "")
        event = uow.audit.for_target("request", str(rid))[-1]
        assert event.metadata["check"] == "controller_reachable"
        assert event.metadata["remediation"] == "start the controller"


def test_permanent_provider_error_fails_and_retry_recovers(world: World) -> None:
    rid = _approved(world)
    world.provider.fail_next = ProviderError(
        "bad token",
        kind="unauthorized",
        transient=False,
        remediation="set ZT_CONTROLLER_AUTH_TOKEN",
        status=401,
    )
    assert world.provisioner.provision(rid) is S.FAILED
    with world.store() as uow:
        event = uow.audit.for_target("request", str(rid))[-1]
        assert event.metadata["kind"] == "unauthorized" and event.metadata["status"] == 401
        first = uow.memberships.get_for_request(rid)
    world.workflow.retry(ADMIN, rid)
    assert world.provisioner.provision(rid) is S.ACTIVE
    with world.store() as uow:
        again = uow.memberships.get_for_request(rid)
    assert first is not None and again is not None
    assert (first.ipv4, first.ipv6) == (again.ipv4, again.ipv6)  # stable across retries


def test_route_server_down_fails_naming_it_and_retry_replays_only_it(world: World) -> None:
    rid = _approved(world)
    world.fleet.down.add("rs2")
    assert world.provisioner.provision(rid) is S.FAILED
    with world.store() as uow:
        req = uow.requests.get(rid)
        assert req is not None and "rs2" in (req.last_error or "")
        assert "connection refused" in (req.last_error or "")
        rs2 = uow.route_servers.get("rs2")
        assert rs2 is not None and rs2.behind and rs2.last_error
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 0}
    world.fleet.down.clear()
    world.workflow.retry(ADMIN, rid)
    assert world.provisioner.provision(rid) is S.ACTIVE
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 1}


def test_burst_coalesces_into_one_apply_per_server(world: World) -> None:
    ids = [_approved(world, 64500 + i, f"abcdef{i:04d}") for i in range(2)]
    bob = world.add_user("bob", *range(200000, 200020))
    ids += [
        world.workflow.submit(bob.id, 200000 + i, world.network.id, f"bbbbbb{i:04d}").id
        for i in range(20)
    ]
    for rid in ids[2:]:
        world.workflow.approve(ADMIN, rid)
    for rid in ids:  # each actor authorizes its member, then asks for one coalesced sync
        assert world.provisioner.provision(rid, sync=False) is S.PROVISIONING
    assert world.fleet.apply_count == {"rs1": 0, "rs2": 0}
    result = world.provisioner.sync_route_servers()
    assert len(result.activated) == 22
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 1}


def test_leave_removes_peers_then_member_then_addresses(world: World) -> None:
    rid = _approved(world)
    world.provisioner.provision(rid)
    world.workflow.leave(Actor.user(world.user), rid)
    world.fleet.down.add("rs1")
    assert world.provisioner.deprovision(rid) is S.DEPROVISIONING  # rs1 still has the peer
    assert world.provider.members  # not deauthorized before the peers are gone
    world.fleet.down.clear()
    assert world.provisioner.deprovision(rid) is S.REMOVED
    assert world.fleet.applied == {"rs1": (), "rs2": ()}
    assert world.provider.members == {}
    assert world.provider.calls[-2:] == [
        f"deauthorize {world.network.id} abcdef0123",
        f"remove {world.network.id} abcdef0123",
    ]
    with world.store() as uow:
        assert uow.allocations.for_network(world.network.id) == set()
        assert uow.memberships.list() == []
    assert _actions(world, rid)[-3:] == [
        "request.deprovisioning",
        "membership.removed",
        "request.removed",
    ]
    # the addresses are reusable
    again = _approved(world, 64501, "abcdef0999")
    assert world.provisioner.provision(again) is S.ACTIVE
    with world.store() as uow:
        m = uow.memberships.get_for_request(again)
        assert m is not None and m.ipv4 == ipaddress.IPv4Address("10.1.0.3")


def test_failed_request_can_be_given_up(world: World) -> None:
    rid = _approved(world)
    world.fleet.down.add("rs2")
    world.provisioner.provision(rid)
    world.workflow.leave(ADMIN, rid)
    world.fleet.down.clear()
    assert world.provisioner.deprovision(rid) is S.REMOVED
    assert world.provider.members == {}


def test_deprovision_failure_on_the_controller_keeps_it_leaving(world: World) -> None:
    rid = _approved(world)
    world.provisioner.provision(rid)
    world.workflow.leave(ADMIN, rid)
    world.provider.fail_next = ProviderError("down", kind="connect", transient=True)
    assert world.provisioner.deprovision(rid) is S.DEPROVISIONING
    with world.store() as uow:
        req = uow.requests.get(rid)
        assert req is not None and req.last_error == "down"
    assert world.provisioner.deprovision(rid) is S.REMOVED


def test_asn_embedded_scheme_and_registry_max_prefix(world: World) -> None:
    from ztix_core.ports import NetworkFacts
    from ztix_core.values import Asn

    world.registry.put(NetworkFacts(Asn(64500), "Example", max_prefix_v4=7, max_prefix_v6=3))
    prov = Provisioner(
        world.store,
        world.clock,
        world.provider,
        world.fleet,
        world.registry,
        ProvisioningSettings(ipv6_scheme=Ipv6Scheme.ASN_EMBEDDED, default_max_prefix_v6=11),
    )
    rid = _approved(world)
    assert prov.provision(rid) is S.ACTIVE
    (peer,) = world.fleet.applied["rs1"]
    assert str(peer.ipv6) == "fd00:1::a500:6:4500:1"
    assert (peer.max_prefix_v4, peer.max_prefix_v6, peer.description) == (7, 3, "Example")


def test_provision_ignores_requests_not_approved(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    assert world.provisioner.provision(req.id) is None
    assert world.provisioner.provision(uuid.uuid4()) is None
    assert _status(world, req.id) is S.PENDING


def test_address_exhaustion_fails_the_request_clearly(world: World) -> None:
    import attrs

    small = attrs.evolve(world.network, ipv4_prefix=ipaddress.IPv4Network("10.1.0.0/30"))
    with world.store() as uow:
        uow.tables.networks[small.id] = small
        uow.commit()
    first = _approved(world)  # .1 and .2 belong to the route servers: nothing is left
    assert world.provisioner.provision(first) is S.FAILED
    with world.store() as uow:
        req = uow.requests.get(first)
        assert req is not None and "no free address left in 10.1.0.0/30" in (req.last_error or "")
        assert uow.allocations.for_network(small.id) == set()
        assert uow.memberships.list() == []


def _link(w: World, *asns: int) -> None:
    from ztix_core.testing import builders as b

    with w.store() as uow:
        for asn in asns:
            uow.asn_links.add(b.link(w.user.id, asn))
        uow.commit()


def test_a_member_the_route_servers_refuse_fails_alone(world: World) -> None:
    _link(world, 64502)
    good = _approved(world, 64500, "abcdef0123")
    world.fleet.refuse[64501] = "AS64501 is a bogon ASN"
    bad = _approved(world, 64501, "abcdef0124")
    later = _approved(world, 64502, "abcdef0125")
    for rid in (good, bad, later):
        world.provisioner.provision(rid)
    assert (_status(world, good), _status(world, bad), _status(world, later)) == (
        S.ACTIVE,
        S.FAILED,
        S.ACTIVE,
    )
    for name in ("rs1", "rs2"):
        assert [p.asn.value for p in world.fleet.applied[name]] == [64500, 64502]
    with world.store() as uow:
        req = uow.requests.get(bad)
        assert req is not None and req.last_error is not None
        assert "bogon" in req.last_error and req.last_error.startswith("route servers refuse")
        (event,) = [
            e for e in uow.audit.for_target("request", str(bad)) if e.action == "request.failed"
        ]
        assert event.metadata["stage"] == "route_server_config"
        assert "remediation" in event.metadata


def test_an_active_member_that_becomes_refused_is_left_out_and_audited(world: World) -> None:
    _link(world, 64502)
    a, b_ = _approved(world, 64500, "abcdef0123"), _approved(world, 64501, "abcdef0124")
    world.provisioner.provision(a)
    world.provisioner.provision(b_)
    world.fleet.refuse[64500] = "policy changed"
    c = _approved(world, 64502, "abcdef0125")
    assert world.provisioner.provision(c) is S.ACTIVE
    assert [p.asn.value for p in world.fleet.applied["rs1"]] == [64501, 64502]
    assert _status(world, a) is S.ACTIVE  # its status is not rewritten …
    assert "route_server.member_refused" in _actions(world, a)  # … but it is audited
    world.provisioner.sync_route_servers()  # nothing changed: no second audit event
    assert _actions(world, a).count("route_server.member_refused") == 1


def test_a_failed_request_settles_to_active_once_its_servers_catch_up(world: World) -> None:
    world.fleet.down.add("rs2")
    rid = _approved(world)
    assert world.provisioner.provision(rid) is S.FAILED
    world.fleet.down.clear()
    result = world.provisioner.sync_route_servers()
    assert rid in result.activated and _status(world, rid) is S.ACTIVE
    with world.store() as uow:
        event = uow.audit.for_target("request", str(rid))[-1]
        req = uow.requests.get(rid)
    assert event.action == "request.active" and event.metadata["from"] == "failed"
    assert "controller has it authorized" in str(event.metadata["reason"])
    assert "rs2" in str(event.metadata["failed_with"])
    assert req is not None and req.last_error is None


def test_a_failed_request_stays_failed_without_the_controllers_word(world: World) -> None:
    world.fleet.down.add("rs2")
    rid = _approved(world)
    assert world.provisioner.provision(rid) is S.FAILED
    world.fleet.down.clear()
    world.provider.deauthorize_member(world.network.id, NodeId("abcdef0123"))
    world.provisioner.sync_route_servers()
    assert _status(world, rid) is S.FAILED


def test_retries_past_a_transient_fault_are_audited(world: World) -> None:
    from ztix_core.ports import ApplyOutcome

    real_apply = world.fleet.apply

    def flaky_apply(peers, servers=None):  # type: ignore[no-untyped-def]
        return [
            attrs.evolve(o, retried=("check: Unable to connect to server control socket",))
            for o in real_apply(peers, servers)
        ]

    world.fleet.apply = flaky_apply  # type: ignore[method-assign]
    rid = _approved(world)
    assert world.provisioner.provision(rid) is S.ACTIVE
    with world.store() as uow:
        retried = [e for e in uow.audit.recent(100) if e.action == "route_server.retried"]
        applied = [e for e in uow.audit.recent(100) if e.action == "route_server.applied"]
    assert sorted(e.target_id for e in retried) == ["rs1", "rs2"]
    assert retried[0].metadata["message"].startswith("check: Unable")
    assert all(e.metadata["retries"] == 1 for e in applied)
    assert isinstance(ApplyOutcome("x", "applied").retried, tuple)
