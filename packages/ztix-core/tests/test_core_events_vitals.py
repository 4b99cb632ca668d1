"""Provisioning events (what the worker's metrics count) and the vital signs."""

from __future__ import annotations

import uuid

from ztix_core.errors import ProviderError
from ztix_core.memory import RecordingEvents
from ztix_core.records import ControllerObservation, ObservedCheck
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import read_vitals


def _approved(w: World, asn: int = 64500, node: str = "abcdef0123") -> uuid.UUID:
    req = w.workflow.submit(w.user.id, asn, w.network.id, node)
    w.workflow.approve(ADMIN, req.id)
    rid: uuid.UUID = req.id
    return rid


def _recording(w: World) -> RecordingEvents:
    events = RecordingEvents()
    w.provisioner.events = events
    return events


def test_an_activation_reports_the_applies_then_the_approval(world: World) -> None:
    events = _recording(world)
    rid = _approved(world)
    world.clock.advance(seconds=7)
    assert world.provisioner.provision(rid) is S.ACTIVE
    assert events.kinds == ["applied", "applied", "activated"]
    assert [(o.server, o.result) for o in events.applied] == [
        ("rs1", "applied"),
        ("rs2", "applied"),
    ]
    ((request, at),) = events.activated
    assert request.id == rid and request.decided_at is not None
    assert (at - request.decided_at).total_seconds() == 7


def test_failures_report_their_stage(world: World) -> None:
    events = _recording(world)
    rid = _approved(world)
    world.provider.fail_next = ProviderError("bad token", kind="unauthorized", transient=False)
    assert world.provisioner.provision(rid) is S.FAILED
    assert events.kinds == ["failed"] and events.failed[0][0].id == rid
    assert events.failed[0][1] == "authorize"
    world.workflow.retry(ADMIN, rid)
    world.fleet.down.add("rs2")
    assert world.provisioner.provision(rid) is S.FAILED
    assert events.kinds[1:] == ["applied", "applied", "failed"]
    assert [o.result for o in events.applied] == ["applied", "failed"]
    assert events.failed[1][1] == "route_server"
    # recovered once rs2 catches up: reported as an activation too
    world.fleet.down.clear()
    world.provisioner.sync_route_servers(force=True)
    assert events.kinds[-1] == "activated" and events.activated[0][0].id == rid


def test_a_refused_member_reports_route_server_config(world: World) -> None:
    events = _recording(world)
    world.fleet.refuse[64500] = "bogon"
    rid = _approved(world)
    assert world.provisioner.provision(rid) is S.FAILED
    assert [stage for _, stage in events.failed] == ["route_server_config"]


def test_a_readiness_failure_reports_readiness(world: World) -> None:
    events = _recording(world)
    world.provider.ready = False
    assert world.provisioner.provision(_approved(world)) is S.FAILED
    assert events.kinds == ["failed"] and events.failed[0][1] == "readiness"


def test_vitals_read_requests_generations_controller_and_outbox(world: World) -> None:
    empty = read_vitals(world.store, world.clock)
    assert empty.outbox_pending == 0 and empty.outbox_oldest_age_s == 0.0
    assert empty.controller is None and empty.route_servers == ()
    assert set(empty.requests) == set(S) and sum(empty.requests.values()) == 0
    rid = _approved(world)
    world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0124")
    world.clock.advance(seconds=90)
    vitals = read_vitals(world.store, world.clock)
    assert vitals.requests[S.APPROVED] == 1 and vitals.requests[S.PENDING] == 1
    # approving wrote a provision message 90 s ago that nothing relayed
    assert vitals.outbox_pending == 1 and vitals.outbox_oldest_age_s == 90.0
    world.provisioner.provision(rid)
    with world.store() as uow:
        uow.observations.record_controller(
            ControllerObservation(b.T0, (ObservedCheck("controller_reachable", True),))
        )
        uow.commit()
    vitals = read_vitals(world.store, world.clock)
    assert vitals.requests[S.ACTIVE] == 1
    assert [(s.name, s.desired_generation, s.applied_generation) for s in vitals.route_servers] == [
        ("rs1", 1, 1),
        ("rs2", 1, 1),
    ]
    assert vitals.controller is not None and vitals.controller.ready
