"""ZeroTier networks that carry peering LANs."""

from __future__ import annotations

import builtins

from sqlalchemy import select, update

from ztix_adapters_sql.mapping import network_record, network_values
from ztix_adapters_sql.models import NetworkRow
from ztix_adapters_sql.repositories._base import SqlRepository, violation_error
from ztix_core.errors import DuplicateRecord, NotFound
from ztix_core.records import ZtNetwork
from ztix_core.values import NetworkId


class SqlNetworkRepository(SqlRepository):
    """Networks by their 16-hex id (checked by the database too)."""

    def add(self, network: ZtNetwork) -> None:
        violation = self._insert(NetworkRow, network_values(network), f"network {network.id}")
        if violation is None:
            return
        if violation.kind == "unique":
            raise DuplicateRecord(f"network {network.id} exists")
        raise violation_error(violation, f"network {network.id}")

    def get(self, network_id: NetworkId) -> ZtNetwork | None:
        row = self._get(NetworkRow, network_id.value)
        return network_record(row) if row is not None else None

    def update(self, network: ZtNetwork) -> None:
        values = network_values(network)
        result = self.session.execute(
            update(NetworkRow)
            .where(NetworkRow.id == values.pop("id"))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"network {network.id} not found")

    def list(self) -> builtins.list[ZtNetwork]:
        return sorted(
            (network_record(r) for r in self._all(select(NetworkRow))), key=lambda n: n.id
        )
