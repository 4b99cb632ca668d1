"""Read-side use cases for the dashboards and the admin queue."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs

from ztix_core.asns import join_refusal
from ztix_core.errors import InvalidValue, NotFound, PermissionDenied
from ztix_core.ports import Clock, RequestFilter, UnitOfWorkFactory
from ztix_core.records import (
    Actor,
    AuditEvent,
    JoinRequest,
    Membership,
    RouteServerState,
    ZtNetwork,
)
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId


@attrs.frozen
class RequestPage:
    """One page of requests and the total that matched."""

    items: tuple[JoinRequest, ...]
    total: int


@attrs.frozen
class QueuePage:
    """One page of requests, the total that matched, and how many requests of each status
    match the other filters (every status a key)."""

    items: tuple[JoinRequest, ...]
    total: int
    counts: dict[RequestStatus, int]


@attrs.frozen
class RequestDetail:
    """A request with its membership and its timeline (audit events, oldest first)."""

    request: JoinRequest
    membership: Membership | None
    timeline: tuple[AuditEvent, ...]


@attrs.frozen
class AsnEligibility:
    """An ASN linked to the user; ``refusal`` says why it may not join (None: it may)."""

    asn: Asn
    name: str | None
    refusal: str | None


@attrs.frozen
class AuditPage:
    """Newest-first audit events and whether more follow."""

    items: tuple[AuditEvent, ...]
    more: bool


#: The audit port reads newest-first without an offset: deeper pages are refused.
MAX_AUDIT_DEPTH = 10_000


class RequestQueries:
    """Queries the operator dashboard, request detail and admin queue need."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        allow_documentation_asns: bool = False,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.allow_documentation_asns = allow_documentation_asns

    def asns(self, actor: Actor) -> list[AsnEligibility]:
        """The actor's own linked ASNs, each with the reason it may not join (if any)."""
        with self.uow_factory() as uow:
            links = uow.asn_links.list_for_user(uuid.UUID(actor.id))
        allow = self.allow_documentation_asns
        return [
            AsnEligibility(
                lk.asn, lk.network_name, join_refusal(lk.asn.value, allow_documentation=allow)
            )
            for lk in links
        ]

    def networks(self, actor: Actor) -> list[ZtNetwork]:
        """The open exchange networks the actor may request (all for an admin or an
        unrestricted account; only the granted ones otherwise)."""
        with self.uow_factory() as uow:
            open_networks = [n for n in uow.networks.list() if not n.retired]
            if actor.is_admin or actor.kind != "user":
                return open_networks
            allowed = {a.network_id for a in uow.network_access.list_for_user(uuid.UUID(actor.id))}
        return [n for n in open_networks if not allowed or n.id in allowed]

    def audit(
        self,
        actor: Actor,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditPage:
        """Audit events newest first, by action and/or target; admins only. ``offset +
        limit`` may not pass :data:`MAX_AUDIT_DEPTH`."""
        if not actor.is_admin:
            raise PermissionDenied("only an admin may read the audit trail")
        if offset + limit > MAX_AUDIT_DEPTH:
            raise InvalidValue("offset", f"offset + limit may not pass {MAX_AUDIT_DEPTH}")
        if (target_type is None) != (target_id is None):
            raise InvalidValue("target_id", "target_type and target_id go together")
        with self.uow_factory() as uow:
            if target_type is not None and target_id is not None:
                events = uow.audit.for_target(target_type, target_id)[::-1]
                if action:
                    events = [e for e in events if e.action == action]
            else:
                events = uow.audit.recent(offset + limit + 1, action or None)
        window = events[offset : offset + limit + 1]
        return AuditPage(tuple(window[:limit]), len(window) > limit)

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
        flt = self._filter(actor, statuses, asn, network_id, older_than, newer_than)
        flt = attrs.evolve(flt, limit=max(1, min(limit, 500)), offset=max(0, offset))
        with self.uow_factory() as uow:
            return RequestPage(tuple(uow.requests.query(flt)), uow.requests.count(flt))

    def count_by_status(
        self,
        actor: Actor,
        statuses: frozenset[RequestStatus] | None = None,
        asn: Asn | None = None,
        network_id: NetworkId | None = None,
        older_than: dt.timedelta | None = None,
        newer_than: dt.timedelta | None = None,
    ) -> dict[RequestStatus, int]:
        """How many requests :meth:`list_requests` would find with these filters, per
        status (every status asked for, 0 included), in one query. Admins count all;
        operators only their own."""
        flt = self._filter(actor, statuses, asn, network_id, older_than, newer_than)
        with self.uow_factory() as uow:
            return uow.requests.count_by_status(flt)

    def queue_page(
        self,
        actor: Actor,
        status: RequestStatus | None = None,
        asn: Asn | None = None,
        network_id: NetworkId | None = None,
        older_than: dt.timedelta | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> QueuePage:
        """The admin queue: :meth:`list_requests` of one status (or all) and
        :meth:`count_by_status` under the other filters, in two queries (the total is a
        sum of the counts). Admins see all; operators only their own."""
        flt = self._filter(actor, None, asn, network_id, older_than, None)
        page = attrs.evolve(
            flt,
            statuses=frozenset({status}) if status is not None else None,
            limit=max(1, min(limit, 500)),
            offset=max(0, offset),
        )
        with self.uow_factory() as uow:
            counts = uow.requests.count_by_status(flt)
            items = tuple(uow.requests.query(page))
        total = counts[status] if status is not None else sum(counts.values())
        return QueuePage(items, total, counts)

    def _filter(
        self,
        actor: Actor,
        statuses: frozenset[RequestStatus] | None,
        asn: Asn | None,
        network_id: NetworkId | None,
        older_than: dt.timedelta | None,
        newer_than: dt.timedelta | None,
    ) -> RequestFilter:
        now = self.clock.now()
        return RequestFilter(
            statuses=statuses,
            asn=asn,
            network_id=network_id,
            user_id=None if actor.is_admin else uuid.UUID(actor.id),
            submitted_before=now - older_than if older_than else None,
            submitted_after=now - newer_than if newer_than else None,
        )

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
