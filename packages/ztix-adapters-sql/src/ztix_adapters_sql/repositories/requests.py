"""Join requests: compare-and-set status changes and the one-live-request rule."""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import attrs
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    func,
    select,
    union_all,
)

from ztix_adapters_sql.mapping import request_record, request_values
from ztix_adapters_sql.models import JoinRequestRow, UserRow
from ztix_adapters_sql.repositories._base import SqlRepository, columns_of, violation_error
from ztix_core.errors import DuplicateLiveRequest, DuplicateRecord, InvalidTransition, NotFound
from ztix_core.ports import RequestFilter
from ztix_core.records import JoinRequest
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId

LIVE_INDEX = "uq_join_requests_live"
_LIVE_VALUES = sorted(s.value for s in LIVE_STATUSES)


@attrs.frozen
class _Shape:
    """What a filter's SQL looks like, apart from its values: the statuses it names and
    which other filters are set. Statements are built once per shape (and dialect) with
    bound parameters; building one costs more than running it."""

    dialect: str
    statuses: tuple[str, ...] | None
    asn: bool
    network_id: bool
    user_id: bool
    node_id: bool
    submitted_before: bool
    submitted_after: bool

    @classmethod
    def of(cls, flt: RequestFilter, dialect: str) -> _Shape:
        statuses = None if flt.statuses is None else tuple(sorted(s.value for s in flt.statuses))
        return cls(
            dialect,
            statuses,
            flt.asn is not None,
            flt.network_id is not None,
            flt.user_id is not None,
            flt.node_id is not None,
            flt.submitted_before is not None,
            flt.submitted_after is not None,
        )


def _params(flt: RequestFilter) -> dict[str, Any]:
    """The bound values of a filter (every name the statements of its shape use)."""
    return {
        "asn": flt.asn.value if flt.asn is not None else None,
        "network_id": flt.network_id.value if flt.network_id is not None else None,
        "user_id": flt.user_id,
        "node_id": flt.node_id.value if flt.node_id is not None else None,
        "submitted_before": flt.submitted_before,
        "submitted_after": flt.submitted_after,
        "window": flt.offset + flt.limit,
        "limit": flt.limit,
        "offset": flt.offset,
    }


_T = JoinRequestRow.__table__.c
#: The columns a page selects, in the order :func:`_record` unpacks them.
_PAGE_COLUMNS = (
    _T.id,
    _T.user_id,
    _T.asn,
    _T.network_id,
    _T.node_id,
    _T.status,
    _T.requested_at,
    _T.updated_at,
    _T.notes,
    _T.reject_reason,
    _T.last_error,
    _T.retry_count,
    _T.decided_at,
    _T.decided_by,
    _T.provisioned_at,
)


def _other_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """Every condition but the status one, on bound parameters named as in ``_params``."""
    where: list[ColumnElement[bool]] = []
    if shape.asn:
        where.append(_T.asn == bindparam("asn"))
    if shape.network_id:
        where.append(_T.network_id == bindparam("network_id"))
    if shape.user_id:
        where.append(_T.user_id == bindparam("user_id"))
    if shape.node_id:
        where.append(_T.node_id == bindparam("node_id"))
    if shape.submitted_before:
        where.append(_T.requested_at < bindparam("submitted_before"))
    if shape.submitted_after:
        where.append(_T.requested_at >= bindparam("submitted_after"))
    return where


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    where = _other_conditions(shape)
    if shape.statuses is not None:
        where.insert(0, _T.status.in_(shape.statuses))
    return where


@functools.lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> Select[Any]:
    """Newest first, one page. A filter on several statuses becomes one index-ordered
    branch per status (each limited to the page's end) merged by a UNION ALL: an ``IN``
    list would otherwise fetch and sort every matching row to find the newest page (on
    SQLite it would, through the small status index). Not when the filter names an ASN, a
    user or a node: their own indexes hold a handful of rows, read and sorted at once."""
    newest = (_T.requested_at.desc(), _T.id.desc())
    narrow = shape.asn or shape.user_id or shape.node_id
    if shape.statuses is not None and len(shape.statuses) > 1 and not narrow:
        others = _other_conditions(shape)
        branches = [
            # each branch is a subquery: SQLite allows ORDER BY/LIMIT only on the whole
            # compound SELECT, not on its parts
            select(
                *select(*_PAGE_COLUMNS)
                .where(_T.status == status, *others)
                .order_by(*newest)
                .limit(bindparam("window", type_=Integer))
                .subquery(f"s{i}")
                .c
            )
            for i, status in enumerate(shape.statuses)
        ]
        merged = union_all(*branches).subquery("by_status")
        return (
            select(*(merged.c[c.name] for c in _PAGE_COLUMNS))
            .order_by(merged.c.requested_at.desc(), merged.c.id.desc())
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )
    return (
        select(*_PAGE_COLUMNS)
        .where(*_conditions(shape))
        .order_by(*newest)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


@functools.lru_cache(maxsize=256)
def _count_statement(shape: _Shape) -> Select[Any]:
    """How many rows match (served by ``ix_join_requests_status_network`` when the filter
    names statuses and perhaps a network: an index-only scan over a small index)."""
    return select(func.count()).select_from(JoinRequestRow.__table__).where(*_conditions(shape))


@functools.lru_cache(maxsize=256)
def _count_by_status_statement(shape: _Shape) -> Select[Any]:
    """How many rows match, per status: one pass over ``ix_join_requests_status_network``
    (or the narrowest index the other filters allow) instead of one count per status."""
    return select(_T.status, func.count()).where(*_conditions(shape)).group_by(_T.status)


def _record(row: Sequence[Any]) -> JoinRequest:
    """:func:`~ztix_adapters_sql.mapping.request_record` for a row of ``_PAGE_COLUMNS``
    (unpacked by position: a page maps 50 of them, and named access costs more)."""
    (
        id_,
        user_id,
        asn,
        network_id,
        node_id,
        status,
        requested_at,
        updated_at,
        notes,
        reject_reason,
        last_error,
        retry_count,
        decided_at,
        decided_by,
        provisioned_at,
    ) = row
    return JoinRequest(
        id=id_,
        user_id=user_id,
        asn=Asn(asn),
        network_id=NetworkId(network_id),
        node_id=NodeId(node_id),
        status=RequestStatus(status),
        requested_at=requested_at,
        updated_at=updated_at,
        notes=notes,
        reject_reason=reject_reason,
        last_error=last_error,
        retry_count=retry_count,
        decided_at=decided_at,
        decided_by=decided_by,
        provisioned_at=provisioned_at,
    )


_REQUESTS_AMONG = select(*columns_of(JoinRequestRow)).where(
    JoinRequestRow.id.in_(bindparam("ids", expanding=True))
)


class SqlJoinRequestRepository(SqlRepository):
    """Join requests. Status changes are ``UPDATE … WHERE status = expected``: of two racing
    deciders exactly one updates a row; the other re-reads and gets InvalidTransition."""

    def _duplicate_live(self, request: JoinRequest) -> DuplicateLiveRequest | None:
        live = self.find_live(request.asn, request.network_id)
        if live is None or live.id == request.id:
            return None
        return DuplicateLiveRequest(live.id, request.asn.value, request.network_id.value)

    def add(self, request: JoinRequest) -> None:
        # No look before the insert: the keys and the one-live-request index answer in the
        # same statement, and a refusal is explained afterwards.
        violation = self._insert(JoinRequestRow, request_values(request), f"request {request.id}")
        if violation is None:
            return
        if violation.constraint == LIVE_INDEX and (dup := self._duplicate_live(request)):
            raise dup
        if violation.constraint == "pk_join_requests":
            raise DuplicateRecord(f"request {request.id} exists")
        if violation.kind == "foreign_key":
            if self.session.scalar(select(UserRow.id).where(UserRow.id == request.user_id)) is None:
                raise NotFound(f"user {request.user_id} not found")
            raise NotFound(f"network {request.network_id} not found")
        raise violation_error(violation, f"request {request.id}")

    def get(self, request_id: uuid.UUID) -> JoinRequest | None:
        row = self._get(JoinRequestRow, request_id)
        return request_record(row) if row is not None else None

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JoinRequest]:
        if not request_ids:
            return {}
        wanted = sorted(set(request_ids))
        out: dict[uuid.UUID, JoinRequest] = {}
        for start in range(0, len(wanted), 1000):  # bounded IN lists (see network_facts)
            rows = self._rows(
                JoinRequestRow, _REQUESTS_AMONG, {"ids": wanted[start : start + 1000]}
            )
            out.update((row.id, request_record(row)) for row in rows)
        return out

    def update(self, request: JoinRequest, *, expected_status: RequestStatus) -> None:
        # No read before the write: the compare-and-set below matches only a row still in
        # ``expected_status``, and the stored row is read only to explain a miss.
        becomes_live = request.status in LIVE_STATUSES and expected_status not in LIVE_STATUSES
        if becomes_live and (dup := self._duplicate_live(request)):
            raise dup
        values: dict[str, Any] = request_values(request)
        stmt, params = self._update_statement(
            JoinRequestRow, values, where=("id",), expected={"status": expected_status.value}
        )
        # Only a request that becomes live can break a rule a caller recovers from (a
        # racing live request): that write alone gets a PostgreSQL savepoint. Any other
        # refusal is still raised, typed, and ends the unit of work; a compare-and-set
        # that matches no row is not a refusal and leaves the unit usable.
        result, violation = self._guarded(
            stmt, JoinRequestRow, values, params, savepoint=becomes_live
        )
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

    def query_statement(self, flt: RequestFilter) -> tuple[Select[Any], dict[str, Any]]:
        """The SELECT behind :meth:`query` and its bound values (the benchmark explains it)."""
        return _page_statement(_Shape.of(flt, self.dialect)), _params(flt)

    def query(self, flt: RequestFilter) -> builtins.list[JoinRequest]:
        # Plain rows, not ORM objects: a page is read-only and mapped straight to records.
        stmt, params = self.query_statement(flt)
        return [_record(row) for row in self.session.execute(stmt, params)]

    def count_statement(self, flt: RequestFilter) -> tuple[Select[Any], dict[str, Any]]:
        """The SELECT behind :meth:`count` and its bound values (the benchmark explains it)."""
        return _count_statement(_Shape.of(flt, self.dialect)), _params(flt)

    def count(self, flt: RequestFilter) -> int:
        stmt, params = self.count_statement(flt)
        return int(self.session.scalar(stmt, params) or 0)

    def last_change(self) -> dt.datetime | None:
        """The newest ``updated_at`` of any request (the end of an index)."""
        value: dt.datetime | None = self.session.scalar(select(func.max(JoinRequestRow.updated_at)))
        return value

    def count_by_status_statement(self, flt: RequestFilter) -> tuple[Select[Any], dict[str, Any]]:
        """The SELECT behind :meth:`count_by_status` and its bound values."""
        return _count_by_status_statement(_Shape.of(flt, self.dialect)), _params(flt)

    def count_by_status(self, flt: RequestFilter) -> dict[RequestStatus, int]:
        stmt, params = self.count_by_status_statement(flt)
        counts = dict.fromkeys(RequestStatus if flt.statuses is None else flt.statuses, 0)
        for status, n in self.session.execute(stmt, params):
            counts[RequestStatus(status)] = int(n)
        return counts
