"""Observations: the worker reads the live systems and keeps what it saw for the pages.

The web shows BGP sessions, route-server reachability and controller readiness without
ever talking to a route server or the controller: it holds neither the SSH key nor the
controller's token. :class:`Observer` is what the worker runs on a schedule (and ``ztix``
commands may run once): one session report from the fleet (one bounded query per
server), one readiness check of the controller, each written in one unit of work so a
page never sees half a reading.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence

import attrs

from ztix_core.ports import (
    Clock,
    MembershipProvider,
    RouteServerFleet,
    SessionStatus,
    UnitOfWorkFactory,
)
from ztix_core.records import (
    ControllerObservation,
    ObservedCheck,
    RouteServerObservation,
    SessionObservation,
)

log = logging.getLogger(__name__)


@attrs.frozen
class ObservationPass:
    """What one pass recorded (for logs and tests)."""

    route_servers: tuple[RouteServerObservation, ...] = ()
    controller: ControllerObservation | None = None


def _session(s: SessionStatus, observed_at: dt.datetime) -> SessionObservation:
    return SessionObservation(
        server=s.server,
        asn=s.asn,
        protocol=s.protocol,
        state=s.state,
        observed_at=observed_at,
        since=s.since,
        info=s.info,
        imported=s.imported,
        filtered=s.filtered,
        exported=s.exported,
        last_error=s.last_error,
    )


class Observer:
    """Records the fleet's sessions and the controller's readiness (see the module)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        provider: MembershipProvider | None,
        fleet: RouteServerFleet | None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.provider = provider
        self.fleet = fleet

    def observe(self) -> ObservationPass:
        """Read both and record both; a failure of one does not stop the other."""
        servers: tuple[RouteServerObservation, ...] = ()
        controller = None
        try:
            servers = tuple(self.observe_route_servers())
        except Exception as exc:
            log.warning("route-server observation failed: %s: %s", type(exc).__name__, exc)
        try:
            controller = self.observe_controller()
        except Exception as exc:
            log.warning("controller observation failed: %s: %s", type(exc).__name__, exc)
        return ObservationPass(servers, controller)

    def observe_route_servers(self) -> Sequence[RouteServerObservation]:
        """Every configured server's sessions, or why it could not be asked. Servers no
        longer configured are forgotten."""
        if self.fleet is None:
            return ()
        names = [s.name for s in self.fleet.servers()]
        report = self.fleet.session_report()
        now = self.clock.now()
        by_server: dict[str, list[SessionObservation]] = defaultdict(list)
        for status in report.sessions:
            by_server[status.server].append(_session(status, now))
        readings = []
        with self.uow_factory() as uow:
            for name in names:
                sessions = by_server.get(name, []) if name not in report.unreachable else []
                reading = RouteServerObservation(
                    server=name,
                    reachable=name not in report.unreachable,
                    observed_at=now,
                    message=report.unreachable.get(name, ""),
                    sessions_total=len(sessions),
                    sessions_established=sum(1 for s in sessions if s.established),
                )
                uow.observations.record_route_server(reading, sessions)
                readings.append(reading)
            for old in uow.observations.route_servers():
                if old.server not in names:
                    uow.observations.forget_route_server(old.server)
            uow.commit()
        return readings

    def observe_controller(self) -> ControllerObservation | None:
        """The controller's readiness for the exchange networks in use (not retired)."""
        if self.provider is None:
            return None
        with self.uow_factory() as uow:
            networks = [n for n in uow.networks.list() if not n.retired]
        report = self.provider.check_readiness(networks)
        reading = ControllerObservation(
            observed_at=self.clock.now(),
            checks=tuple(
                ObservedCheck(c.name, c.ok, c.message, c.remediation) for c in report.checks
            ),
        )
        with self.uow_factory() as uow:
            uow.observations.record_controller(reading)
            uow.commit()
        return reading
