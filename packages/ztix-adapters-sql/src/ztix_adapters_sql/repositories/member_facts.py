"""Admins' per-member settings: one upserted row per join request."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Collection

from sqlalchemy import delete, select

from ztix_adapters_sql.mapping import member_facts_values
from ztix_adapters_sql.models import JoinRequestRow, MemberFactsRow
from ztix_adapters_sql.repositories._base import SqlRepository, upsert, violation_error
from ztix_core.errors import NotFound
from ztix_core.records import MemberFacts


def _record(row: MemberFactsRow) -> MemberFacts:
    return MemberFacts(
        request_id=row.request_id,
        display_name=row.display_name,
        max_prefix_v4=row.max_prefix_v4,
        max_prefix_v6=row.max_prefix_v6,
        ipv4=ipaddress.IPv4Address(row.ipv4) if row.ipv4 else None,
        ipv6=ipaddress.IPv6Address(row.ipv6) if row.ipv6 else None,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


class SqlMemberFactsRepository(SqlRepository):
    """``member_facts``: reads of many requests are one ``IN`` query per 1,000."""

    def get(self, request_id: uuid.UUID) -> MemberFacts | None:
        row = self._get(MemberFactsRow, request_id)
        return _record(row) if row is not None else None

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, MemberFacts]:
        wanted = sorted(set(request_ids))
        out: dict[uuid.UUID, MemberFacts] = {}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = self._all(select(MemberFactsRow).where(MemberFactsRow.request_id.in_(chunk)))
            out.update((r.request_id, _record(r)) for r in rows)
        return out

    def put(self, facts: MemberFacts) -> None:
        exists = self.session.scalar(
            select(JoinRequestRow.id).where(JoinRequestRow.id == facts.request_id)
        )
        if exists is None:
            raise NotFound(f"request {facts.request_id} not found")
        values = member_facts_values(facts)
        stmt = upsert(self.dialect, MemberFactsRow, values, ["request_id"])
        _, violation = self._guarded(stmt, MemberFactsRow, values)
        if violation is not None:
            raise violation_error(violation, f"the member settings of request {facts.request_id}")

    def delete(self, request_id: uuid.UUID) -> bool:
        result = self.session.execute(
            delete(MemberFactsRow).where(MemberFactsRow.request_id == request_id)
        )
        return bool(getattr(result, "rowcount", 0))
