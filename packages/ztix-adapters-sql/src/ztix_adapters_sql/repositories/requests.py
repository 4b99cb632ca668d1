"""Join requests: compare-and-set status changes and the one-live-request rule."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from typing import Any

import attrs
from sqlalchemy import ColumnElement, Select, func, select, union_all, update
from sqlalchemy.orm import aliased

from ztix_adapters_sql.mapping import request_record, request_values
from ztix_adapters_sql.models import JoinRequestRow, NetworkRow, UserRow
from ztix_adapters_sql.repositories._base import SqlRepository, violation_error
from ztix_core.errors import DuplicateLiveRequest, DuplicateRecord, InvalidTransition, NotFound
from ztix_core.ports import RequestFilter
from ztix_core.records import JoinRequest
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.values import Asn, NetworkId

LIVE_INDEX = "uq_join_requests_live"
_LIVE_VALUES = sorted(s.value for s in LIVE_STATUSES)


def _conditions(flt: RequestFilter) -> list[ColumnElement[bool]]:
    r = JoinRequestRow
    where: list[ColumnElement[bool]] = []
    if flt.statuses is not None:
        where.append(r.status.in_(sorted(s.value for s in flt.statuses)))
    if flt.asn is not None:
        where.append(r.asn == flt.asn.value)
    if flt.network_id is not None:
        where.append(r.network_id == flt.network_id.value)
    if flt.user_id is not None:
        where.append(r.user_id == flt.user_id)
    if flt.node_id is not None:
        where.append(r.node_id == flt.node_id.value)
    if flt.submitted_before is not None:
        where.append(r.requested_at < flt.submitted_before)
    if flt.submitted_after is not None:
        where.append(r.requested_at >= flt.submitted_after)
    return where


class SqlJoinRequestRepository(SqlRepository):
    """Join requests. Status changes are ``UPDATE … WHERE status = expected``: of two racing
    deciders exactly one updates a row; the other re-reads and gets InvalidTransition."""

    def _duplicate_live(self, request: JoinRequest) -> DuplicateLiveRequest | None:
        live = self.find_live(request.asn, request.network_id)
        if live is None or live.id == request.id:
            return None
        return DuplicateLiveRequest(live.id, request.asn.value, request.network_id.value)

    def add(self, request: JoinRequest) -> None:
        if self.session.scalar(select(UserRow.id).where(UserRow.id == request.user_id)) is None:
            raise NotFound(f"user {request.user_id} not found")
        net = request.network_id.value
        if self.session.scalar(select(NetworkRow.id).where(NetworkRow.id == net)) is None:
            raise NotFound(f"network {request.network_id} not found")
        if self.session.scalar(select(JoinRequestRow.id).where(JoinRequestRow.id == request.id)):
            raise DuplicateRecord(f"request {request.id} exists")
        if request.status in LIVE_STATUSES and (dup := self._duplicate_live(request)):
            raise dup
        violation = self._insert(JoinRequestRow, request_values(request), f"request {request.id}")
        if violation is None:
            return
        # A racing transaction committed its live request first: name it.
        if violation.constraint == LIVE_INDEX and (dup := self._duplicate_live(request)):
            raise dup
        if violation.constraint == "pk_join_requests":
            raise DuplicateRecord(f"request {request.id} exists")
        raise violation_error(violation, f"request {request.id}")

    def get(self, request_id: uuid.UUID) -> JoinRequest | None:
        row = self._get(JoinRequestRow, request_id)
        return request_record(row) if row is not None else None

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JoinRequest]:
        if not request_ids:
            return {}
        rows = self.session.scalars(
            select(JoinRequestRow).where(JoinRequestRow.id.in_(sorted(request_ids)))
        )
        return {row.id: request_record(row) for row in rows}

    def update(self, request: JoinRequest, *, expected_status: RequestStatus) -> None:
        stored = self.get(request.id)
        if stored is None:
            raise NotFound(f"request {request.id} not found")
        if stored.status is not expected_status:
            raise InvalidTransition(request.id, stored.status.value, request.status.value)
        becomes_live = request.status in LIVE_STATUSES and stored.status not in LIVE_STATUSES
        if becomes_live and (dup := self._duplicate_live(request)):
            raise dup
        values: dict[str, Any] = request_values(request)
        del values["id"]
        stmt = (
            update(JoinRequestRow)
            .where(JoinRequestRow.id == request.id, JoinRequestRow.status == expected_status.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result, violation = self._guarded(stmt, JoinRequestRow, values)
        if violation is not None:
            if violation.constraint == LIVE_INDEX and (dup := self._duplicate_live(request)):
                raise dup
            raise violation_error(violation, f"request {request.id}")
        assert result is not None
        if result.rowcount == 1:
            return
        # Someone changed it since we read it: report the status that is stored now.
        current = self.get(request.id)
        if current is None:
            raise NotFound(f"request {request.id} not found")
        raise InvalidTransition(request.id, current.status.value, request.status.value)

    def find_live(self, asn: Asn, network_id: NetworkId) -> JoinRequest | None:
        row = self._first(
            select(JoinRequestRow).where(
                JoinRequestRow.asn == asn.value,
                JoinRequestRow.network_id == network_id.value,
                JoinRequestRow.status.in_(_LIVE_VALUES),
            )
        )
        return request_record(row) if row is not None else None

    def query_statement(self, flt: RequestFilter) -> Select[JoinRequestRow]:
        """The SELECT behind :meth:`query` (the benchmark explains it).

        On PostgreSQL a filter on several statuses becomes one index-ordered branch per
        status (each limited to the page's end) merged by a UNION ALL: an ``IN`` list over
        the queue index would otherwise sort every matching row to find the newest page.
        """
        r = JoinRequestRow
        if self.dialect == "postgresql" and flt.statuses is not None and len(flt.statuses) > 1:
            others = _conditions(attrs.evolve(flt, statuses=None))
            window = flt.offset + flt.limit
            branches = [
                select(r)
                .where(r.status == status, *others)
                .order_by(r.requested_at.desc(), r.id.desc())
                .limit(window)
                for status in sorted(s.value for s in flt.statuses)
            ]
            merged = aliased(r, union_all(*branches).subquery("by_status"))
            return (
                select(merged)
                .order_by(merged.requested_at.desc(), merged.id.desc())
                .limit(flt.limit)
                .offset(flt.offset)
            )
        return (
            select(r)
            .where(*_conditions(flt))
            .order_by(r.requested_at.desc(), r.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        )

    def query(self, flt: RequestFilter) -> builtins.list[JoinRequest]:
        return [request_record(r) for r in self._all(self.query_statement(flt))]

    def count(self, flt: RequestFilter) -> int:
        total = self.session.scalar(
            select(func.count()).select_from(JoinRequestRow).where(*_conditions(flt))
        )
        return int(total or 0)
