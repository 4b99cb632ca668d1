"""The live-state queries: a request's sessions, the route-server and controller overviews,
who may see them, and what they say before anything was observed."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest

from ztix_core.errors import NotFound, PermissionDenied
from ztix_core.records import (
    Actor,
    AuditEvent,
    ControllerObservation,
    ObservedCheck,
    RouteServerObservation,
    SessionObservation,
    new_id,
)
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases.oversight import (
    Oversight,
    address_family,
    session_state,
)
from ztix_core.values import Asn


def _active(w: World, asn: int = 64500, node: str = "abcdef0123") -> uuid.UUID:
    req = w.workflow.submit(w.user.id, asn, w.network.id, node)
    w.workflow.approve(ADMIN, req.id)
    assert w.provisioner.provision(req.id) is S.ACTIVE
    rid: uuid.UUID = req.id
    return rid


def _observe(w: World) -> dt.datetime:
    """rs1 reachable with AS64500's v4 session up and v6 refused (and another member's);
    rs2 unreachable."""
    at = w.clock.now()
    up = SessionObservation(
        "rs1", Asn(64500), "AS64500_v4", "Established", at, since="2026-01-01 11:00:00",
        info="Established", imported=12, filtered=1, exported=300,
    )  # fmt: skip
    refused = SessionObservation(
        "rs1", Asn(64500), "AS64500_v6", "Active", at, info="Active Socket: Connection refused",
        last_error="Socket: Connection refused",
    )  # fmt: skip
    other = SessionObservation("rs1", Asn(64501), "AS64501_v4", "Established", at)
    with w.store() as uow:
        uow.observations.record_route_server(
            RouteServerObservation("rs1", True, at, sessions_total=3, sessions_established=2),
            [refused, up, other],
        )
        uow.observations.record_route_server(
            RouteServerObservation("rs2", False, at, message="rs2: connection refused"), []
        )
        uow.commit()
    return at


def test_the_owner_sees_every_session_by_server_and_family(world: World) -> None:
    rid = _active(world)
    at = _observe(world)
    alice = Actor("user", str(world.user.id))
    found = Oversight(world.store, world.clock).request_sessions(alice, rid)
    assert found.asn == Asn(64500) and found.observed_at == at
    rs1, rs2 = found.servers
    assert [(ln.family, ln.state, ln.established) for ln in rs1.sessions] == [
        ("IPv4", "Established", True),
        ("IPv6", "Active — Socket: Connection refused", False),
    ]
    assert (rs1.sessions[0].session.imported, rs1.sessions[0].session.exported) == (12, 300)
    assert rs1.note == "" and rs2.sessions == ()
    assert rs2.note == "unreachable: rs2: connection refused"
    assert [ln.session.protocol for ln in found.lines] == ["AS64500_v4", "AS64500_v6"]


def test_before_any_reading_every_configured_server_says_so(world: World) -> None:
    rid = _active(world)
    found = Oversight(world.store, world.clock).request_sessions(ADMIN, rid)
    assert found.observed_at is None
    assert [(s.server, s.note) for s in found.servers] == [
        ("rs1", "no reading yet"),
        ("rs2", "no reading yet"),
    ]


def test_a_reachable_server_without_the_members_session_says_so(world: World) -> None:
    rid = _active(world, 64501)
    with world.store() as uow:
        reading = RouteServerObservation("rs1", True, world.clock.now())
        uow.observations.record_route_server(reading, [])
        uow.commit()
    found = Oversight(world.store, world.clock).request_sessions(ADMIN, rid)
    assert [s.note for s in found.servers] == ["no session for this member", "no reading yet"]


def test_another_operator_sees_no_session_and_unknown_ids_are_not_found(world: World) -> None:
    rid = _active(world)
    _observe(world)
    bob = world.add_user("bob", 64502)
    oversight = Oversight(world.store, world.clock)
    with pytest.raises(PermissionDenied):
        oversight.request_sessions(Actor("user", str(bob.id)), rid)
    with pytest.raises(NotFound):
        oversight.request_sessions(ADMIN, new_id())
    assert len(oversight.request_sessions(ADMIN, rid).lines) == 2


def test_route_server_overview_joins_state_reading_and_last_apply(world: World) -> None:
    _active(world)
    at = _observe(world)
    with world.store() as uow:  # a later failure on rs2 is its last apply
        uow.audit.append(
            AuditEvent(
                new_id(), at + dt.timedelta(seconds=5), "system:worker", "route_server.failed",
                "route_server", "rs2",
                {"generation": 2, "stage": "configure", "message": "bird: syntax error",
                 "duration_s": 1.25},
            )
        )  # fmt: skip
        uow.audit.append(
            AuditEvent(
                new_id(), at + dt.timedelta(seconds=6), "system:worker", "route_server.retried",
                "route_server", "rs2", {"attempt": 1},
            )
        )  # fmt: skip
        uow.commit()
    rows = Oversight(world.store, world.clock).route_servers(ADMIN)
    assert [r.name for r in rows] == ["rs1", "rs2"]
    rs1, rs2 = rows
    assert rs1.state is not None and rs1.state.applied_generation == 1
    assert rs1.reading is not None and rs1.reading.sessions_established == 2
    assert rs1.last_apply is not None and rs1.last_apply.result == "applied"
    assert rs1.last_apply.generation == 1 and rs1.last_apply.duration_s is not None
    assert rs2.reading is not None and not rs2.reading.reachable
    assert rs2.last_apply is not None
    assert attrs.astuple(rs2.last_apply)[1:] == (
        "failed", 2, "configure", "bird: syntax error", 1.25,
    )  # fmt: skip


def test_route_server_overview_lists_an_observed_server_without_state(world: World) -> None:
    with world.store() as uow:
        reading = RouteServerObservation("rs9", False, world.clock.now(), message="timeout")
        uow.observations.record_route_server(reading, [])
        uow.commit()
    (row,) = Oversight(world.store, world.clock).route_servers(ADMIN)
    assert (row.name, row.state, row.last_apply) == ("rs9", None, None)


def _lifecycle(w: World, action: str, seconds: int, **metadata: object) -> None:
    at = w.clock.now() + dt.timedelta(seconds=seconds)
    event = AuditEvent(
        new_id(), at, "system:controller-lifecycle", action, "controller",
        "self_hosted_controller", dict(metadata),
    )  # fmt: skip
    with w.store() as uow:
        uow.audit.append(event)
        uow.commit()


def test_controller_overview_reads_checks_networks_backup_drill(world: World) -> None:
    retired = b.network(2, name="old", retired=True)
    with world.store() as uow:
        uow.networks.add(retired)
        uow.observations.record_controller(
            ControllerObservation(
                world.clock.now(),
                (
                    ObservedCheck("controller_reachable", True, "answers"),
                    ObservedCheck("networks_present", False, "missing 1", "run reconcile"),
                ),
            )
        )
        uow.commit()
    _lifecycle(world, "controller.backup_created", 1, archive="a1.tar.gz", files=3, bytes=900)
    _lifecycle(
        world, "controller.backup_failed", 2, kind="io", message="disk full",
        remediation="free space",
    )  # fmt: skip
    _lifecycle(
        world, "controller.drill_passed", 3, archive="a1.tar.gz", passed=True, summary="passed",
        readiness={"ready": True, "checks": {}}, reconcile={"ok": True}, controller_kind="emulator",
    )  # fmt: skip
    _lifecycle(world, "controller.readiness_failed", 4, message="not a backup")
    seen = Oversight(world.store, world.clock).controller(ADMIN)
    assert seen.reading is not None and not seen.reading.ready
    assert [n.name for n in seen.networks] == [world.network.name, "old"]
    assert seen.networks[1].retired
    assert seen.last_backup is not None and not seen.last_backup.ok
    assert (seen.last_backup.reason, seen.last_backup.remediation) == ("disk full", "free space")
    assert seen.last_drill is not None and seen.last_drill.passed
    assert seen.last_drill.stages == (("readiness", True), ("reconcile", True))
    assert seen.last_drill.controller_kind == "emulator" and seen.last_restore is None


def test_a_failed_drill_names_its_stage_and_a_backup_its_size(world: World) -> None:
    _lifecycle(world, "controller.backup_created", 1, archive="a1.tar.gz", files=3, bytes=900)
    _lifecycle(
        world, "controller.drill_failed", 2, archive="a1.tar.gz", passed=False,
        summary="restore: manifest checksum mismatch", stage="restore",
    )  # fmt: skip
    seen = Oversight(world.store, world.clock).controller(ADMIN)
    assert seen.last_backup is not None and seen.last_backup.ok
    assert (seen.last_backup.archive, seen.last_backup.files, seen.last_backup.size_bytes) == (
        "a1.tar.gz", 3, 900,
    )  # fmt: skip
    assert seen.last_drill is not None and not seen.last_drill.passed
    assert seen.last_drill.stages == (("restore", False),)
    assert seen.last_drill.summary == "restore: manifest checksum mismatch"


def test_controller_overview_before_anything_happened(world: World) -> None:
    seen = Oversight(world.store, world.clock).controller(ADMIN)
    assert (seen.reading, seen.last_backup, seen.last_drill, seen.last_restore) == (
        None, None, None, None,
    )  # fmt: skip
    assert [n.id for n in seen.networks] == [world.network.id]


def test_overviews_are_for_admins_only(world: World) -> None:
    oversight = Oversight(world.store, world.clock)
    operator = Actor("user", str(world.user.id))
    with pytest.raises(PermissionDenied):
        oversight.route_servers(operator)
    with pytest.raises(PermissionDenied):
        oversight.controller(operator)


@pytest.mark.parametrize(
    ("protocol", "family"),
    [("AS64500_v4", "IPv4"), ("AS64500_v6", "IPv6"), ("AS64500_ipv6", "IPv6"), ("peer", "")],
)
def test_address_family_from_the_protocol_name(protocol: str, family: str) -> None:
    assert address_family(protocol) == family


@pytest.mark.parametrize(
    ("state", "info", "error", "text"),
    [
        ("up", "Established", "", "Established"),
        ("Established", "", "", "Established"),
        ("Active", "Active Socket: Connection refused", "Socket: Connection refused",
         "Active — Socket: Connection refused"),
        ("start", "Active Socket: Connection refused", "Socket: Connection refused",
         "Active Socket: Connection refused"),
        ("Connect", "", "", "Connect"),
        ("down", "", "", "down"),
        ("", "", "", "unknown"),
    ],
)  # fmt: skip
def test_session_state_in_words(state: str, info: str, error: str, text: str) -> None:
    s = SessionObservation("rs1", Asn(64500), "AS64500_v4", state, b.T0, info=info,
                           last_error=error)  # fmt: skip
    assert session_state(s) == text
