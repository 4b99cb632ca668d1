"""Importing many members at once (see :mod:`ztix_core.onboarding_ports`): one statement
per question for a whole chunk, and one multi-row insert per table."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from ztix_adapters_sql.integrity import classify
from ztix_adapters_sql.mapping import (
    allocation_values,
    audit_values,
    member_facts_values,
    membership_values,
    outbox_values,
    request_record,
    request_values,
)
from ztix_adapters_sql.models import (
    AsnLinkRow,
    AuditEventRow,
    Base,
    IpAllocationRow,
    JoinRequestRow,
    MemberFactsRow,
    MembershipRow,
    NetworkAccessRow,
    NotificationRow,
    OutboxRow,
)
from ztix_adapters_sql.repositories._base import (
    SqlRepository,
    _insert_statement,
    columns_of,
    require_json,
    violation_error,
)
from ztix_adapters_sql.repositories.notify import notification_values
from ztix_core.onboarding_ports import OnboardingBatch
from ztix_core.records import JoinRequest
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId

T = TypeVar("T")
#: Values per IN list: far below every driver's parameter limit.
_IN_CHUNK = 1000

_LINKED = select(AsnLinkRow.user_id, AsnLinkRow.asn).where(
    AsnLinkRow.user_id.in_(bindparam("users", expanding=True))
)
_ACCESS = select(NetworkAccessRow.user_id, NetworkAccessRow.network_id).where(
    NetworkAccessRow.user_id.in_(bindparam("users", expanding=True))
)
_ON_NETWORK = select(*columns_of(JoinRequestRow)).where(
    JoinRequestRow.network_id == bindparam("network"),
    JoinRequestRow.status.in_(bindparam("statuses", expanding=True)),
    or_(
        JoinRequestRow.asn.in_(bindparam("asns", expanding=True)),
        JoinRequestRow.node_id.in_(bindparam("nodes", expanding=True)),
    ),
)
_AUTHORIZE = (
    update(Base.metadata.tables[MembershipRow.__tablename__])
    .where(
        Base.metadata.tables[MembershipRow.__tablename__].c.request_id.in_(
            bindparam("requests", expanding=True)
        ),
        Base.metadata.tables[MembershipRow.__tablename__].c.authorized.is_(False),
    )
    .values(authorized=True, updated_at=bindparam("at"))
    .returning(Base.metadata.tables[MembershipRow.__tablename__].c.request_id)
)


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


class SqlOnboardingRepository(SqlRepository):
    """Set-wise reads and multi-row writes for a chunk of imported members."""

    def linked(self, pairs: Collection[tuple[uuid.UUID, Asn]]) -> set[tuple[uuid.UUID, Asn]]:
        wanted = set(pairs)
        users = sorted({user for user, _ in wanted})
        conn = self.session.connection()
        found: set[tuple[uuid.UUID, Asn]] = set()
        for chunk in _chunks(users):
            found.update(
                (user, Asn(asn)) for user, asn in conn.execute(_LINKED, {"users": list(chunk)})
            )
        return found & wanted

    def network_access(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[NetworkId]]:
        conn = self.session.connection()
        found: dict[uuid.UUID, set[NetworkId]] = {}
        for chunk in _chunks(sorted(set(user_ids))):
            for user, network in conn.execute(_ACCESS, {"users": list(chunk)}):
                found.setdefault(user, set()).add(NetworkId(network))
        return found

    def requests_on(
        self,
        network_id: NetworkId,
        statuses: Collection[RequestStatus],
        asns: Collection[Asn],
        nodes: Collection[NodeId],
    ) -> builtins.list[JoinRequest]:
        asn_values = sorted({a.value for a in asns})
        node_values = sorted({n.value for n in nodes})
        if not statuses or not (asn_values or node_values):
            return []
        found: dict[uuid.UUID, JoinRequest] = {}
        longest = max(len(asn_values), len(node_values))
        for start in range(0, longest, _IN_CHUNK):
            params = {
                "network": network_id.value,
                "statuses": sorted(s.value for s in statuses),
                # an empty IN list matches nothing, which is what a missing side means
                "asns": asn_values[start : start + _IN_CHUNK],
                "nodes": node_values[start : start + _IN_CHUNK],
            }
            for row in self._rows(JoinRequestRow, _ON_NETWORK, params):
                found[row.id] = request_record(row)
        return sorted(found.values(), key=lambda r: (r.requested_at, str(r.id)))

    def store(self, batch: OnboardingBatch) -> None:
        for event in batch.audit:
            require_json(event.metadata, "metadata")
        for message in batch.outbox:
            require_json(message.payload, "payload")
        for intent in batch.notifications:
            require_json(intent.payload, "payload")
        tables: list[tuple[type[Base], list[dict[str, Any]]]] = [
            (JoinRequestRow, [request_values(r) for r in batch.requests]),
            (MemberFactsRow, [member_facts_values(f) for f in batch.member_facts]),
            (IpAllocationRow, [allocation_values(a) for a in batch.allocations]),
            (MembershipRow, [membership_values(m) for m in batch.memberships]),
            (AuditEventRow, [audit_values(e) for e in batch.audit]),
            (OutboxRow, [outbox_values(m) for m in batch.outbox]),
            (NotificationRow, [notification_values(i) for i in batch.notifications]),
        ]
        conn = self.session.connection()
        for model, rows in tables:
            if not rows:
                continue
            stmt, keys = _insert_statement(model)
            params = [{keys.get(k, k): v for k, v in row.items()} for row in rows]
            try:
                # No savepoint: the port says a refused batch spoils the unit of work.
                conn.execute(stmt, params)
            except IntegrityError as exc:
                raise violation_error(
                    classify(exc), f"the imported {model.__tablename__}"
                ) from None

    def mark_authorized(
        self, request_ids: Collection[uuid.UUID], at: dt.datetime
    ) -> set[uuid.UUID]:
        conn = self.session.connection()
        changed: set[uuid.UUID] = set()
        for chunk in _chunks(sorted(set(request_ids))):
            changed.update(conn.scalars(_AUTHORIZE, {"requests": list(chunk), "at": at}))
        return changed
