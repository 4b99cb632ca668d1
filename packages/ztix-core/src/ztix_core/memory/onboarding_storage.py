"""In-memory onboarding storage (see :mod:`ztix_core.onboarding_ports`): the same
questions and writes as the other in-memory repositories, a row at a time."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable

import attrs

from ztix_core.onboarding_ports import OnboardingBatch
from ztix_core.ports import UnitOfWork
from ztix_core.records import JoinRequest
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId


class InMemoryOnboarding:
    """Onboarding reads and writes of one in-memory unit of work, over its repositories."""

    def __init__(self, uow: UnitOfWork, requests: Callable[[], Iterable[JoinRequest]]) -> None:
        self._uow = uow
        self._requests = requests  # every request the unit of work sees

    def linked(self, pairs: Collection[tuple[uuid.UUID, Asn]]) -> set[tuple[uuid.UUID, Asn]]:
        found: set[tuple[uuid.UUID, Asn]] = set()
        for user_id in {user for user, _ in pairs}:
            found.update((user_id, link.asn) for link in self._uow.asn_links.list_for_user(user_id))
        return found & set(pairs)

    def network_access(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[NetworkId]]:
        found: dict[uuid.UUID, set[NetworkId]] = {}
        for user_id in set(user_ids):
            rows = self._uow.network_access.list_for_user(user_id)
            if rows:
                found[user_id] = {row.network_id for row in rows}
        return found

    def requests_on(
        self,
        network_id: NetworkId,
        statuses: Collection[RequestStatus],
        asns: Collection[Asn],
        nodes: Collection[NodeId],
    ) -> list[JoinRequest]:
        wanted_asns, wanted_nodes, wanted = set(asns), set(nodes), set(statuses)
        return sorted(
            (
                r
                for r in self._requests()
                if r.network_id == network_id
                and r.status in wanted
                and (r.asn in wanted_asns or r.node_id in wanted_nodes)
            ),
            key=lambda r: (r.requested_at, str(r.id)),
        )

    def store(self, batch: OnboardingBatch) -> None:
        uow = self._uow
        for request in batch.requests:
            uow.requests.add(request)
        for facts in batch.member_facts:
            uow.member_facts.put(facts)
        for allocation in batch.allocations:
            uow.allocations.reserve(allocation)
        for membership in batch.memberships:
            uow.memberships.add(membership)
        for event in batch.audit:
            uow.audit.append(event)
        for message in batch.outbox:
            uow.outbox.add(message)
        for intent in batch.notifications:
            uow.notifications.add(intent)

    def mark_authorized(
        self, request_ids: Collection[uuid.UUID], at: dt.datetime
    ) -> set[uuid.UUID]:
        changed = set()
        for request_id in set(request_ids):
            membership = self._uow.memberships.get_for_request(request_id)
            if membership is not None and not membership.authorized:
                self._uow.memberships.update(
                    attrs.evolve(membership, authorized=True, updated_at=at)
                )
                changed.add(request_id)
        return changed
