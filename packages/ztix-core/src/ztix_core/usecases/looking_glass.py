"""The looking glass: a member's sessions and filtered routes on every route server, on
demand, for the member and for admins.

The web holds no SSH key, so it never asks a route server itself. Instead:

1. :meth:`LookingGlass.refresh` (the web, for the request's owner or an admin) records
   that a fresh reading was asked for and writes an outbox message (topic
   ``looking_glass``) in the same unit of work; the relay hands it to the worker;
2. the worker's actor calls :meth:`LookingGlass.run`, which asks the fleet
   (:meth:`~ztix_core.ports.RouteServerFleet.looking_glass`: one bounded query per server)
   and stores the answer as the member's snapshot (an observation);
3. :meth:`LookingGlass.view` (pages, API) reads the snapshot back with its time; while a
   refresh is pending the page polls until a newer snapshot lands.

Refreshes are coalesced, so a Refresh button pressed in a loop costs the route servers
at most one query per member per ``min_interval_s``: while one is pending (for up to
``pending_for_s``) or the last reading is younger than ``min_interval_s``, refresh writes
nothing and says so.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs

from ztix_core.errors import Conflict, NotFound, PermissionDenied
from ztix_core.looking_glass import LookingGlassSnapshot
from ztix_core.ports import Clock, RouteServerFleet, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, JoinRequest, OutboxMessage, new_id
from ztix_core.status import RequestStatus
from ztix_core.usecases._common import TOPIC_LOOKING_GLASS, audit
from ztix_core.values import Asn

#: Statuses in which the member may have sessions on the route servers.
ON_ROUTE_SERVERS = frozenset(
    {
        RequestStatus.PROVISIONING,
        RequestStatus.ACTIVE,
        RequestStatus.FAILED,
        RequestStatus.DEPROVISIONING,
    }
)


@attrs.frozen
class LookingGlassView:
    """What the pages show: the request, and the member's stored looking glass (None
    before anyone asked). ``queued`` says whether the refresh that returned this view
    asked the worker for a new reading (False: one is pending, or the last is fresh)."""

    request: JoinRequest
    snapshot: LookingGlassSnapshot | None
    queued: bool = False
    #: A refresh was asked for and its answer is still expected (False once it is older
    #: than the use case's ``pending_for_s``: then its message was lost, and the pages
    #: stop waiting and offer Refresh again).
    waiting: bool = False

    @property
    def asn(self) -> Asn:
        return self.request.asn

    @property
    def observed_at(self) -> dt.datetime | None:
        """When the shown reading was taken, or None before the first."""
        return self.snapshot.observed_at if self.snapshot else None

    @property
    def pending(self) -> bool:
        """A newer reading was asked for, has not landed yet and is still expected."""
        return self.waiting and self.snapshot is not None and self.snapshot.pending

    @property
    def unanswered(self) -> bool:
        """A refresh was asked for long ago and never answered (is the worker running?)."""
        return self.snapshot is not None and self.snapshot.pending and not self.waiting

    @property
    def available(self) -> bool:
        """The member may be on the route servers (its request's status says so)."""
        return self.request.status in ON_ROUTE_SERVERS


class LookingGlass:
    """Refresh, read and (in the worker) take looking-glass readings; see the module."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        fleet: RouteServerFleet | None = None,
        *,
        min_interval_s: float = 10.0,
        pending_for_s: float = 120.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.fleet = fleet
        self.min_interval = dt.timedelta(seconds=min_interval_s)
        self.pending_for = dt.timedelta(seconds=pending_for_s)

    def _request(self, uow: UnitOfWork, actor: Actor, request_id: uuid.UUID) -> JoinRequest:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"request {request_id} not found")
        if not actor.is_admin and str(request.user_id) != actor.id:
            raise PermissionDenied("this request belongs to another user")
        return request

    def view(self, actor: Actor, request_id: uuid.UUID) -> LookingGlassView:
        """The member's last looking glass, for the request's owner or an admin
        (PermissionDenied for anyone else, NotFound for an unknown id)."""
        with self.uow_factory() as uow:
            request = self._request(uow, actor, request_id)
            snapshot = uow.observations.looking_glass(request.asn)
        return LookingGlassView(request, snapshot, waiting=self._waiting(snapshot))

    def _waiting(self, snapshot: LookingGlassSnapshot | None) -> bool:
        if snapshot is None or not snapshot.pending or snapshot.requested_at is None:
            return False
        return self.clock.now() - snapshot.requested_at < self.pending_for

    def refresh(self, actor: Actor, request_id: uuid.UUID) -> LookingGlassView:
        """Ask the worker for a fresh reading of the request's member (owner or admin).

        Conflict when the request's member cannot be on the route servers (pending,
        approved, rejected, removed): nothing is written. When a refresh is pending or
        the last reading is younger than ``min_interval_s``, nothing is written either
        and the view says ``queued=False``. Otherwise the request time, an audit event
        and the outbox message are written in one unit of work."""
        with self.uow_factory() as uow:
            request = self._request(uow, actor, request_id)
            if request.status not in ON_ROUTE_SERVERS:
                raise Conflict(
                    f"the member of request {request.id} is not on the route servers "
                    f"(status {request.status.value}): there is nothing to look at",
                    current_status=request.status.value,
                )
            now = self.clock.now()
            snapshot = uow.observations.looking_glass(request.asn)
            if snapshot is not None and not self._due(snapshot, now):
                return LookingGlassView(request, snapshot, waiting=self._waiting(snapshot))
            asked = attrs.evolve(snapshot or LookingGlassSnapshot(request.asn), requested_at=now)
            uow.observations.put_looking_glass(asked)
            audit(
                uow,
                now,
                actor,
                "looking_glass.requested",
                "request",
                str(request.id),
                {"asn": request.asn.value},
            )
            uow.outbox.add(
                OutboxMessage(
                    new_id(),
                    TOPIC_LOOKING_GLASS,
                    {"asn": request.asn.value, "request_id": str(request.id)},
                    now,
                    correlation_id=str(request.id),
                )
            )
            uow.commit()
        return LookingGlassView(request, asked, queued=True, waiting=True)

    def _due(self, snapshot: LookingGlassSnapshot, now: dt.datetime) -> bool:
        if snapshot.pending and snapshot.requested_at is not None:
            return now - snapshot.requested_at >= self.pending_for  # a lost message
        if snapshot.observed_at is not None:
            return now - snapshot.observed_at >= self.min_interval
        return True

    def run(self, asn: Asn) -> LookingGlassSnapshot:
        """Take a reading of ``asn`` on every route server and store it (the worker's
        part). The fleet never raises for one server's failure: that server's entry
        carries the error. Without a fleet (a process built without route servers) this
        is a programming error."""
        if self.fleet is None:
            raise RuntimeError("LookingGlass.run needs a route-server fleet")
        report = self.fleet.looking_glass(asn)
        now = self.clock.now()
        with self.uow_factory() as uow:
            before = uow.observations.looking_glass(asn)
            snapshot = LookingGlassSnapshot(
                asn,
                observed_at=now,
                requested_at=before.requested_at if before else None,
                servers=tuple(report.servers),
            )
            uow.observations.put_looking_glass(snapshot)
            uow.commit()
        return snapshot
