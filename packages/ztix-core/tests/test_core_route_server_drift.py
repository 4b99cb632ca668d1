"""Route-server drift: checked only where the server applied the desired state, recorded
in RouteServerState, audited once per finding, repaired through the ordinary sync."""

from __future__ import annotations

import uuid

from ztix_core.fleets.none import NoRouteServers
from ztix_core.ports import FileDrift, RouteServerDrift
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import check_route_servers

HAND_EDIT = RouteServerDrift(
    "rs1",
    files=(FileDrift("peers/AS64500.conf", "changed", "a" * 64, "b" * 64),),
    extra_protocols=("hand_made",),
)


def _active(w: World) -> uuid.UUID:
    req = w.workflow.submit(w.user.id, 64500, w.network.id, "abcdef0123")
    w.workflow.approve(ADMIN, req.id)
    assert w.provisioner.provision(req.id) is S.ACTIVE
    rid: uuid.UUID = req.id
    return rid


def _events(w: World, server: str) -> list[tuple[str, dict[str, object]]]:
    with w.store() as uow:
        return [(e.action, e.metadata) for e in uow.audit.for_target("route_server", server)]


def _drift(w: World, server: str) -> str | None:
    with w.store() as uow:
        state = uow.route_servers.get(server)
        assert state is not None
        return state.drift


def test_in_sync_servers_report_nothing_and_are_not_applied(world: World) -> None:
    _active(world)
    check = check_route_servers(world.provisioner, repair=True)
    assert [d.server for d in check.found] == ["rs1", "rs2"]
    assert check.drifted == () and check.repairs == ()
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 1}
    with world.store() as uow:
        assert all(s.drift is None and s.drift_checked_at for s in uow.route_servers.list())


def test_report_only_records_and_audits_once(world: World) -> None:
    _active(world)
    world.fleet.drift["rs1"] = HAND_EDIT
    first = check_route_servers(world.provisioner)
    assert first.drifted == ("rs1",) and first.repairs == ()
    assert first.still_drifted == ("rs1",)
    summary = "file peers/AS64500.conf: changed; protocols not rendered by ztix: hand_made"
    assert _drift(world, "rs1") == summary
    assert _drift(world, "rs2") is None
    check_route_servers(world.provisioner)  # the same finding: not audited again
    drift_events = [m for a, m in _events(world, "rs1") if a == "route_server.drift"]
    assert len(drift_events) == 1
    assert drift_events[0]["files"] == [
        {
            "name": "peers/AS64500.conf",
            "problem": "changed",
            "expected": "a" * 64,
            "found": "b" * 64,
        }
    ]
    assert drift_events[0]["extra_protocols"] == ["hand_made"]
    assert world.fleet.apply_count == {"rs1": 1, "rs2": 1}  # nothing repaired
    # the hand edit is undone by someone: cleared, and audited as such
    del world.fleet.drift["rs1"]
    check_route_servers(world.provisioner)
    assert _drift(world, "rs1") is None
    assert _events(world, "rs1")[-1] == ("route_server.drift_cleared", {"was": summary})


def test_repair_reapplies_only_the_drifted_server(world: World) -> None:
    _active(world)
    world.fleet.drift["rs1"] = HAND_EDIT
    check = check_route_servers(world.provisioner, repair=True)
    assert check.drifted == ("rs1",)
    assert [(o.server, o.result) for o in check.repairs] == [("rs1", "applied")]
    assert [d.drifted for d in check.after] == [False]
    assert check.still_drifted == ()
    # same digest, but the drift made the apply run anyway; rs2 untouched
    assert world.fleet.apply_count == {"rs1": 2, "rs2": 1}
    actions = [a for a, _ in _events(world, "rs1")]
    assert actions[-4:] == [
        "route_server.drift",
        "route_server.applied",  # the ordinary sync's own event
        "route_server.repaired",
        "route_server.drift_cleared",
    ]
    assert _drift(world, "rs1") is None


def test_unreachable_server_is_neither_recorded_nor_repaired(world: World) -> None:
    _active(world)
    world.fleet.drift["rs1"] = HAND_EDIT
    world.fleet.down.add("rs1")
    check = check_route_servers(world.provisioner, repair=True)
    assert check.found[0].error == "rs1: connection refused"
    assert check.drifted == () and check.repairs == ()
    assert _drift(world, "rs1") is None
    assert [a for a, _ in _events(world, "rs1") if "drift" in a] == []


def test_servers_behind_are_skipped(world: World) -> None:
    _active(world)
    world.fleet.down.add("rs2")
    req = world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0124")
    world.workflow.approve(ADMIN, req.id)
    world.provisioner.provision(req.id)  # rs2 fails: behind the desired state
    check = check_route_servers(world.provisioner)
    assert check.skipped == ("rs2",)
    assert [d.server for d in check.found] == ["rs1"]


def test_no_route_servers_checks_nothing(world: World) -> None:
    assert NoRouteServers().check_drift([]) == []
