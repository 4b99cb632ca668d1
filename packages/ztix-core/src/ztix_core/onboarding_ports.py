"""The storage port of importing many members at once (:mod:`ztix_core.usecases.onboarding`).

Filing, approving and provisioning one member runs several units of work of a few
statements each: right for one operator at a time, slow for an exchange moving hundreds of
existing members onto ztix. The import asks storage the same questions for a whole chunk
of members at once and writes the chunk's rows in one go; each backend answers with as few
statements as it can (the SQL adapter: one per question, one multi-row insert per table).

It is part of every :class:`~ztix_core.ports.UnitOfWork` (``onboarding``). The in-memory
backend implements it in :mod:`ztix_core.memory.onboarding_storage`;
:mod:`ztix_core.testing.onboarding_contract` holds the suite every backend passes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Protocol

import attrs

from ztix_core.notify_ports import NotificationIntent
from ztix_core.records import (
    AuditEvent,
    IpAllocation,
    JoinRequest,
    MemberFacts,
    Membership,
    OutboxMessage,
)
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId


@attrs.frozen
class OnboardingBatch:
    """Every row a chunk of imported members adds, stored together by
    :meth:`OnboardingRepository.store`."""

    requests: tuple[JoinRequest, ...] = ()
    member_facts: tuple[MemberFacts, ...] = ()
    allocations: tuple[IpAllocation, ...] = ()
    memberships: tuple[Membership, ...] = ()
    audit: tuple[AuditEvent, ...] = ()
    outbox: tuple[OutboxMessage, ...] = ()
    notifications: tuple[NotificationIntent, ...] = ()


class OnboardingRepository(Protocol):
    """Set-wise reads and writes for a chunk of members joining one network."""

    def linked(self, pairs: Collection[tuple[uuid.UUID, Asn]]) -> set[tuple[uuid.UUID, Asn]]:
        """Those of the (user, ASN) pairs whose ASN is linked to the user's account."""

    def network_access(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[NetworkId]]:
        """For each of the users who have network-access rows, the networks they may
        request (a user absent from the answer has none: unrestricted)."""

    def requests_on(
        self,
        network_id: NetworkId,
        statuses: Collection[RequestStatus],
        asns: Collection[Asn],
        nodes: Collection[NodeId],
    ) -> list[JoinRequest]:
        """The requests on ``network_id`` in one of ``statuses`` whose ASN is one of
        ``asns`` or whose node is one of ``nodes``."""

    def store(self, batch: OnboardingBatch) -> None:
        """Add every row of ``batch`` (requests first, then what refers to them).

        All or nothing within the unit of work: a row that breaks a rule (a duplicate
        live request, a held address, a node already a member) raises the typed error
        and the caller must roll the unit of work back; nothing of the batch is kept."""

    def mark_authorized(
        self, request_ids: Collection[uuid.UUID], at: dt.datetime
    ) -> set[uuid.UUID]:
        """Mark the memberships of ``request_ids`` authorized (``updated_at`` = ``at``);
        returns the requests whose membership changed (one already authorized, say by a
        worker that got there first, is left as it is)."""
