"""The looking-glass use case: who may look and refresh, the outbox message a refresh
writes, coalescing, and the worker's reading landing as the member's snapshot."""

from __future__ import annotations

import uuid

import pytest

from ztix_core.errors import Conflict, NotFound, PermissionDenied
from ztix_core.fleets.none import NoRouteServers
from ztix_core.looking_glass import FilteredRoute
from ztix_core.records import Actor
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases._common import TOPIC_LOOKING_GLASS
from ztix_core.usecases.looking_glass import LookingGlass
from ztix_core.values import Asn


def _active(w: World, asn: int = 64500) -> uuid.UUID:
    req = w.workflow.submit(w.user.id, asn, w.network.id, "abcdef0123")
    w.workflow.approve(ADMIN, req.id)
    assert w.provisioner.provision(req.id) is S.ACTIVE
    rid: uuid.UUID = req.id
    return rid


def _lg(w: World) -> LookingGlass:
    return LookingGlass(w.store, w.clock, w.fleet, min_interval_s=10, pending_for_s=60)


def _counts(w: World) -> tuple[int, int, int]:
    with w.store() as uow:
        return (
            uow.outbox.pending_count(),
            len(uow.audit.recent(1000)),
            len(w.store.tables.looking_glasses),
        )


def test_refresh_asks_the_worker_and_the_reading_lands(world: World) -> None:
    rid = _active(world)
    owner = Actor("user", str(world.user.id))
    lg = _lg(world)
    first = lg.view(owner, rid)
    assert first.snapshot is None and not first.pending and first.available
    with world.store() as uow:
        before = {m.id for m in uow.outbox.claim_unsent(1000)}
    asked = lg.refresh(owner, rid)
    assert asked.queued and asked.pending and asked.observed_at is None
    with world.store() as uow:
        new = [m for m in uow.outbox.claim_unsent(1000) if m.id not in before]
        assert [(m.topic, m.payload, m.correlation_id) for m in new] == [
            (TOPIC_LOOKING_GLASS, {"asn": 64500, "request_id": str(rid)}, str(rid))
        ]
        assert uow.audit.recent(1, "looking_glass.requested")[0].target_id == str(rid)
    world.fleet.filtered[64500] = (
        FilteredRoute("45.66.0.0/24", "AS64500_v4", ("RPKI invalid",), (13,), "invalid"),
    )
    world.clock.advance(seconds=2)
    snapshot = lg.run(Asn(64500))
    assert world.fleet.looking_glass_calls == [Asn(64500)]
    seen = lg.view(ADMIN, rid)
    assert seen.snapshot == snapshot and not seen.pending
    assert seen.observed_at == world.clock.now()
    rs1 = seen.snapshot.servers[0]
    assert rs1.server == "rs1" and [s.protocol for s in rs1.sessions] == [
        "AS64500_v4",
        "AS64500_v6",
    ]
    assert rs1.filtered_routes[0].reasons == ("RPKI invalid",)


def test_refreshes_are_coalesced(world: World) -> None:
    rid = _active(world)
    lg = _lg(world)
    assert lg.refresh(ADMIN, rid).queued
    counts = _counts(world)
    world.clock.advance(seconds=30)
    again = lg.refresh(ADMIN, rid)  # still pending: nothing written
    assert not again.queued and again.pending and _counts(world) == counts
    world.clock.advance(seconds=31)  # pending for longer than pending_for: a lost message
    lost = lg.view(ADMIN, rid)
    assert not lost.pending and lost.unanswered  # the pages stop waiting
    assert lg.refresh(ADMIN, rid).queued  # and Refresh asks again
    assert lg.view(ADMIN, rid).pending
    lg.run(Asn(64500))
    counts = _counts(world)
    world.clock.advance(seconds=5)
    fresh = lg.refresh(ADMIN, rid)  # the reading is 5 s old: fresh enough
    assert not fresh.queued and not fresh.pending and _counts(world) == counts
    world.clock.advance(seconds=5)
    assert lg.refresh(ADMIN, rid).queued


def test_only_the_owner_or_an_admin_and_nothing_written_on_refusal(world: World) -> None:
    rid = _active(world)
    lg = _lg(world)
    other = world.add_user("bob", 64501)
    bob = Actor("user", str(other.id))
    counts = _counts(world)
    with pytest.raises(PermissionDenied):
        lg.view(bob, rid)
    with pytest.raises(PermissionDenied):
        lg.refresh(bob, rid)
    with pytest.raises(NotFound):
        lg.refresh(ADMIN, uuid.uuid4())
    assert _counts(world) == counts


def test_a_member_not_on_the_route_servers_is_refused(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    lg = _lg(world)
    counts = _counts(world)
    with pytest.raises(Conflict) as err:
        lg.refresh(ADMIN, req.id)
    assert "pending" in err.value.message and err.value.details["current_status"] == "pending"
    assert _counts(world) == counts
    assert not lg.view(ADMIN, req.id).available


def test_a_down_server_is_an_entry_with_its_error(world: World) -> None:
    _active(world)
    world.fleet.down.add("rs2")
    snapshot = _lg(world).run(Asn(64500))
    assert [(s.server, bool(s.error)) for s in snapshot.servers] == [
        ("rs1", False),
        ("rs2", True),
    ]


def test_without_route_servers(world: World) -> None:
    lg = LookingGlass(world.store, world.clock, NoRouteServers())
    assert lg.run(Asn(64500)).servers == ()
    with pytest.raises(RuntimeError):
        LookingGlass(world.store, world.clock).run(Asn(64500))


def test_the_cap_of_the_in_memory_fleet(world: World) -> None:
    _active(world)
    world.fleet.max_routes = 3
    world.fleet.filtered[64500] = tuple(
        FilteredRoute(f"10.{i}.0.0/16", "AS64500_v4", ("bogon prefix",), (3,)) for i in range(10)
    )
    rs1 = _lg(world).run(Asn(64500)).servers[0]
    assert len(rs1.filtered_routes) == 3 and rs1.not_shown == 7
