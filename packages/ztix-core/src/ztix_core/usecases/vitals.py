"""The exchange's vital signs, read from storage in one unit of work: what an operator's
monitoring asks every few seconds (requests per status, each route server's generations,
the controller's readiness as the worker last saw it, the outbox backlog).

Everything comes from the database, so every process that reads it (any web worker)
answers the same. Five cheap queries: a GROUP BY over the requests, the route servers'
state rows, their observations, the controller's observation, and the outbox's count and
oldest row (a partial index)."""

from __future__ import annotations

import datetime as dt

import attrs

from ztix_core.ports import Clock, RequestFilter, UnitOfWorkFactory
from ztix_core.records import ControllerObservation, RouteServerObservation, RouteServerState
from ztix_core.status import RequestStatus


@attrs.frozen
class Vitals:
    """One reading. ``outbox_oldest_age_s`` is 0 when nothing waits; ``controller`` is
    None before the worker's first readiness check."""

    at: dt.datetime
    requests: dict[RequestStatus, int]
    route_servers: tuple[RouteServerState, ...]
    observed_servers: tuple[RouteServerObservation, ...]
    controller: ControllerObservation | None
    outbox_pending: int
    outbox_oldest_age_s: float


def read_vitals(uow_factory: UnitOfWorkFactory, clock: Clock) -> Vitals:
    """Read the vital signs now (one read-only unit of work)."""
    with uow_factory() as uow:
        counts = uow.requests.count_by_status(RequestFilter())
        states = tuple(uow.route_servers.list())
        observed = tuple(uow.observations.route_servers())
        controller = uow.observations.controller()
        pending = uow.outbox.pending_count()
        oldest = uow.outbox.oldest_unsent_at() if pending else None
    now = clock.now()
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Vitals(now, counts, states, observed, controller, pending, age)
