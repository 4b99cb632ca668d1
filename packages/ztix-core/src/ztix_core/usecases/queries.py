"""Read-side use cases for the dashboards and the admin queue."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs

from ztix_core.errors import NotFound, PermissionDenied
from ztix_core.ports import Clock, RequestFilter, UnitOfWorkFactory
from ztix_core.records import Actor, AuditEvent, JoinRequest, Membership, RouteServerState
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId


@attrs.frozen
class RequestPage:
    """One page of requests and the total that matched."""

    items: tuple[JoinRequest, ...]
    total: int


@attrs.frozen
class RequestDetail:
    """A request with its membership and its timeline (audit events, oldest first)."""

    request: JoinRequest
    membership: Membership | None
    timeline: tuple[AuditEvent, ...]


class RequestQueries:
    """Queries the operator dashboard, request detail and admin queue need."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def list_requests(
        self,
        actor: Actor,
        statuses: frozenset[RequestStatus] | None = None,
        asn: Asn | None = None,
        network_id: NetworkId | None = None,
        older_than: dt.timedelta | None = None,
        newer_than: dt.timedelta | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RequestPage:
        """Requests newest first. Admins see all; operators only their own.
        ``older_than``/``newer_than`` filter by age since submission."""
        now = self.clock.now()
        user_id = None if actor.is_admin else uuid.UUID(actor.id)
        flt = RequestFilter(
            statuses=statuses,
            asn=asn,
            network_id=network_id,
            user_id=user_id,
            submitted_before=now - older_than if older_than else None,
            submitted_after=now - newer_than if newer_than else None,
            limit=max(1, min(limit, 500)),
            offset=max(0, offset),
        )
        with self.uow_factory() as uow:
            return RequestPage(tuple(uow.requests.query(flt)), uow.requests.count(flt))

    def detail(self, actor: Actor, request_id: uuid.UUID) -> RequestDetail:
        """A request, its membership and timeline; only for its owner or an admin."""
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise NotFound(f"request {request_id} not found")
            if not actor.is_admin and str(request.user_id) != actor.id:
                raise PermissionDenied("this request belongs to another user")
            return RequestDetail(
                request,
                uow.memberships.get_for_request(request_id),
                tuple(uow.audit.for_target("request", str(request_id))),
            )

    def route_server_states(self) -> list[RouteServerState]:
        """Every route server's apply state."""
        with self.uow_factory() as uow:
            return uow.route_servers.list()
