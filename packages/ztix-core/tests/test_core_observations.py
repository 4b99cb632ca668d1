"""The observer records what the fleet and the controller look like, for the pages."""

from __future__ import annotations

import datetime as dt
import ipaddress

from ztix_core.fleets.none import NoRouteServers
from ztix_core.memory import InMemoryFleet, InMemoryProvider, InMemoryStore
from ztix_core.memory.clock import FixedClock
from ztix_core.ports import PeerSpec
from ztix_core.records import RouteServer
from ztix_core.testing import builders as b
from ztix_core.usecases import Observer
from ztix_core.values import Asn


def _peer(asn: int) -> PeerSpec:
    return PeerSpec(
        Asn(asn),
        ipaddress.IPv4Address(f"10.0.0.{asn - 64490}"),
        ipaddress.IPv6Address(f"fd00::{asn - 64490}"),
        100,
        10,
        f"AS{asn}",
        b.network().id,
    )


def _setup() -> tuple[InMemoryStore, FixedClock, InMemoryProvider, InMemoryFleet]:
    store = InMemoryStore()
    network = b.network()
    with store() as uow:
        uow.networks.add(network)
        uow.commit()
    provider = InMemoryProvider()
    provider.ensure_network(network)
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999)), RouteServer("rs2", Asn(64999))])
    fleet.apply([_peer(64500), _peer(64501)])
    return store, FixedClock(b.T0), provider, fleet


def test_sessions_and_readiness_are_recorded() -> None:
    store, clock, provider, fleet = _setup()
    done = Observer(store, clock, provider, fleet).observe()
    assert [(o.server, o.reachable, o.sessions_total) for o in done.route_servers] == [
        ("rs1", True, 4),
        ("rs2", True, 4),
    ]
    assert done.controller is not None and done.controller.ready
    with store() as uow:
        sessions = uow.observations.sessions_for_asn(Asn(64500))
        assert [(s.server, s.protocol, s.established) for s in sessions] == [
            ("rs1", "AS64500_4", True),
            ("rs1", "AS64500_6", True),
            ("rs2", "AS64500_4", True),
            ("rs2", "AS64500_6", True),
        ]
        assert all(s.observed_at == b.T0 for s in sessions)
        assert uow.observations.controller() == done.controller
        assert done.controller.checks[0].name == "controller_reachable"


def test_an_unreachable_server_and_a_failing_controller_are_recorded_with_the_reason() -> None:
    store, clock, provider, fleet = _setup()
    observer = Observer(store, clock, provider, fleet)
    observer.observe()
    fleet.down.add("rs2")
    provider.ready = False
    clock.advance(seconds=30)
    observer.observe()
    with store() as uow:
        rs1, rs2 = uow.observations.route_servers()
        assert rs1.reachable and rs1.sessions_established == 4
        assert not rs2.reachable and rs2.message == "rs2: connection refused"
        assert rs2.observed_at == b.T0 + dt.timedelta(seconds=30)
        # what was seen of rs2 before is gone: no stale "Established" for a dead server
        assert {s.server for s in uow.observations.sessions_for_asn(Asn(64500))} == {"rs1"}
        controller = uow.observations.controller()
        assert controller is not None and not controller.ready
        failed = [c for c in controller.checks if not c.ok]
        assert failed[0].remediation == "start the controller"


def test_a_server_removed_from_the_settings_is_forgotten() -> None:
    store, clock, provider, fleet = _setup()
    Observer(store, clock, provider, fleet).observe()
    smaller = InMemoryFleet([RouteServer("rs1", Asn(64999))])
    Observer(store, clock, provider, smaller).observe()
    with store() as uow:
        assert [o.server for o in uow.observations.route_servers()] == ["rs1"]


def test_without_route_servers_nothing_is_recorded_and_the_controller_still_is() -> None:
    store, clock, provider, _ = _setup()
    done = Observer(store, clock, provider, NoRouteServers()).observe()
    assert done.route_servers == () and done.controller is not None
    with store() as uow:
        assert uow.observations.route_servers() == []


def test_a_failing_fleet_does_not_stop_the_controller_reading() -> None:
    store, clock, provider, fleet = _setup()

    def boom(asn: Asn | None = None) -> object:
        raise RuntimeError("ssh agent crashed")

    fleet.session_report = boom  # type: ignore[method-assign,assignment]
    done = Observer(store, clock, provider, fleet).observe()
    assert done.route_servers == () and done.controller is not None
    with store() as uow:
        assert uow.observations.route_servers() == []
        assert uow.observations.controller() is not None
