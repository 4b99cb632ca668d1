"""Per-route-server apply state."""

from __future__ import annotations

import builtins

from sqlalchemy import select

from ztix_adapters_sql.mapping import route_server_record, route_server_values
from ztix_adapters_sql.models import RouteServerStateRow
from ztix_adapters_sql.repositories._base import SqlRepository, upsert, violation_error
from ztix_core.records import RouteServerState


class SqlRouteServerStateRepository(SqlRepository):
    """Route-server state, one row per server name (upserted)."""

    def get(self, name: str) -> RouteServerState | None:
        row = self._get(RouteServerStateRow, name)
        return route_server_record(row) if row is not None else None

    def put(self, state: RouteServerState) -> None:
        values = route_server_values(state)
        stmt = upsert(self.dialect, RouteServerStateRow, values, ["name"])
        _, violation = self._guarded(stmt, RouteServerStateRow, values)
        if violation is not None:
            raise violation_error(violation, f"route server {state.name}")

    def list(self) -> builtins.list[RouteServerState]:
        rows = self._all(select(RouteServerStateRow))
        return sorted((route_server_record(r) for r in rows), key=lambda s: s.name)
