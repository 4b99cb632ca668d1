"""The PeeringDB cache (facts with their fetch time) and the admins' max-prefix overrides."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence

from sqlalchemy import Executable, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ztix_adapters_sql.models import Base, MaxPrefixOverrideRow, NetworkFactsRow
from ztix_adapters_sql.repositories._base import (
    SqlRepository,
    columns_of,
    require_json,
    upsert,
    violation_error,
)
from ztix_core.ports import CachedFacts, MaxPrefixOverride, NetworkFacts
from ztix_core.values import Asn


def _entry(row: NetworkFactsRow) -> CachedFacts:
    return CachedFacts(
        asn=Asn(row.asn),
        facts=NetworkFacts.from_json(row.facts) if row.facts is not None else None,
        fetched_at=row.fetched_at,
        checked_at=row.checked_at,
        error=row.error,
    )


def _override(row: MaxPrefixOverrideRow) -> MaxPrefixOverride:
    return MaxPrefixOverride(
        asn=Asn(row.asn),
        max_prefix_v4=row.max_prefix_v4,
        max_prefix_v6=row.max_prefix_v6,
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
    )


_PUT_FACTS: dict[str, Executable] = {}


def _put_facts(dialect: str) -> Executable:
    """``INSERT … ON CONFLICT (asn) DO UPDATE`` of network_facts for ``dialect``."""
    found = _PUT_FACTS.get(dialect)
    if found is None:
        table = Base.metadata.tables[NetworkFactsRow.__tablename__]
        stmt: postgresql.Insert | sqlite.Insert = (
            postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        )
        found = _PUT_FACTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["asn"],
            set_={k: stmt.excluded[k] for k in ("facts", "fetched_at", "checked_at", "error")},
        )
    return found


_FACTS_AMONG = select(*columns_of(NetworkFactsRow)).where(
    NetworkFactsRow.asn.in_(bindparam("asns", expanding=True))
)


class SqlNetworkFactsRepository(SqlRepository):
    """One upserted row per ASN in each table; reads of many ASNs are one ``IN`` query."""

    def put(self, entry: CachedFacts) -> None:
        self.put_many([entry])

    def put_many(self, entries: Sequence[CachedFacts]) -> None:
        rows = []
        for entry in entries:
            facts = entry.facts.to_json() if entry.facts is not None else None
            require_json(facts, "facts")
            rows.append(
                {
                    "asn": entry.asn.value,
                    "facts": facts,
                    "fetched_at": entry.fetched_at,
                    "checked_at": entry.checked_at,
                    "error": entry.error,
                }
            )
        if not rows:
            return
        # one executemany of a statement built once per dialect, on the connection (the
        # ORM's bulk path costs more than the write)
        self.session.connection().execute(_put_facts(self.dialect), rows)

    def get_many(self, asns: Collection[Asn]) -> dict[Asn, CachedFacts]:
        wanted = sorted({a.value for a in asns})
        out: dict[Asn, CachedFacts] = {}
        # bounded IN lists: SQLite caps bound parameters, PostgreSQL plans long lists slowly
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = self._rows(NetworkFactsRow, _FACTS_AMONG, {"asns": chunk})
            out.update((Asn(r.asn), _entry(r)) for r in rows)
        return out

    def list(self) -> builtins.list[CachedFacts]:
        return [_entry(r) for r in self._all(select(NetworkFactsRow).order_by(NetworkFactsRow.asn))]

    def set_override(self, override: MaxPrefixOverride) -> None:
        values = {
            "asn": override.asn.value,
            "max_prefix_v4": override.max_prefix_v4,
            "max_prefix_v6": override.max_prefix_v6,
            "reason": override.reason,
            "set_by": override.set_by,
            "set_at": override.set_at,
        }
        stmt = upsert(self.dialect, MaxPrefixOverrideRow, values, ["asn"])
        _, violation = self._guarded(stmt, MaxPrefixOverrideRow, values)
        if violation is not None:
            raise violation_error(violation, f"the max-prefix override of {override.asn}")

    def clear_override(self, asn: Asn) -> bool:
        result = self.session.execute(
            delete(MaxPrefixOverrideRow).where(MaxPrefixOverrideRow.asn == asn.value)
        )
        return bool(getattr(result, "rowcount", 0))

    def overrides(self, asns: Collection[Asn] | None = None) -> dict[Asn, MaxPrefixOverride]:
        stmt = select(MaxPrefixOverrideRow).order_by(MaxPrefixOverrideRow.asn)
        if asns is not None:
            wanted = sorted({a.value for a in asns})
            if not wanted:
                return {}
            stmt = stmt.where(MaxPrefixOverrideRow.asn.in_(wanted))
        return {Asn(r.asn): _override(r) for r in self._all(stmt)}
