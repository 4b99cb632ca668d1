"""Memberships (unique per request and per network+node) and peering-LAN addresses
(unique per network+address)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update

from ztix_adapters_sql.mapping import (
    allocation_record,
    allocation_values,
    from_low64,
    low64,
    membership_record,
    membership_values,
)
from ztix_adapters_sql.models import Base, IpAllocationRow, JoinRequestRow, MembershipRow
from ztix_adapters_sql.repositories._base import SqlRepository, columns_of, violation_error
from ztix_core.errors import DuplicateRecord, NotFound
from ztix_core.ipam import InUse
from ztix_core.ports import IPAddress
from ztix_core.records import IpAllocation, Membership
from ztix_core.values import Asn, NetworkId

_ASNS_AMONG = (
    select(MembershipRow.asn)
    .where(MembershipRow.asn.in_(bindparam("asns", expanding=True)))
    .distinct()
)


_FOR_REQUESTS = select(*columns_of(MembershipRow)).where(
    MembershipRow.request_id.in_(bindparam("ids", expanding=True))
)


class SqlMembershipRepository(SqlRepository):
    """Memberships."""

    def _request_exists(self, request_id: uuid.UUID) -> bool:
        found = self.session.scalar(
            select(JoinRequestRow.id).where(JoinRequestRow.id == request_id)
        )
        return found is not None

    def add(self, membership: Membership) -> None:
        # No look before the insert: the unique rules and the keys answer.
        what = f"membership of request {membership.request_id}"
        violation = self._insert(MembershipRow, membership_values(membership), what)
        if violation is None:
            return
        if violation.constraint in ("uq_memberships_request_id", "pk_memberships"):
            raise DuplicateRecord(f"request {membership.request_id} already has a membership")
        if violation.constraint == "uq_memberships_network_node":
            raise DuplicateRecord(
                f"node {membership.node_id} is already a member of {membership.network_id}"
            )
        if violation.kind == "foreign_key":
            if not self._request_exists(membership.request_id):
                raise NotFound(f"request {membership.request_id} not found")
            raise NotFound(f"network {membership.network_id} not found")
        raise violation_error(violation, what)

    def get_for_request(self, request_id: uuid.UUID) -> Membership | None:
        rows = self._where(MembershipRow, request_id=request_id)
        return membership_record(rows[0]) if rows else None

    def get_for_requests(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Membership]:
        wanted = sorted(set(request_ids))
        out: dict[uuid.UUID, Membership] = {}
        for start in range(0, len(wanted), 1000):  # bounded IN lists
            rows = self._rows(MembershipRow, _FOR_REQUESTS, {"ids": wanted[start : start + 1000]})
            out.update((row.request_id, membership_record(row)) for row in rows)
        return out

    def update(self, membership: Membership) -> None:
        values: dict[str, Any] = membership_values(membership)
        stmt, params = self._update_statement(MembershipRow, values, where=("id",))
        # No savepoint: no caller changes what the unique rules cover (request, network,
        # node), so nothing recovers from a refusal; it is raised, typed, and ends the unit.
        result, violation = self._guarded(stmt, MembershipRow, values, params, savepoint=False)
        if violation is not None:
            raise violation_error(violation, f"membership {membership.id}")
        assert result is not None
        if result.rowcount == 0:
            raise NotFound(f"membership {membership.id} not found")

    def delete(self, membership_id: uuid.UUID) -> None:
        self.session.execute(
            delete(MembershipRow)
            .where(MembershipRow.id == membership_id)
            .execution_options(synchronize_session=False)
        )

    def list(self) -> builtins.list[Membership]:
        rows = self._all(select(MembershipRow))
        return sorted((membership_record(r) for r in rows), key=lambda m: (m.network_id, m.node_id))

    def asns_among(self, asns: Collection[Asn]) -> set[Asn]:
        if not asns:
            return set()
        found = self.session.scalars(_ASNS_AMONG, {"asns": sorted({a.value for a in asns})})
        return {Asn(v) for v in found}


#: Which of some addresses are held on a network.
_HELD_AMONG = select(IpAllocationRow.address).where(
    IpAllocationRow.network_id == bindparam("n"),
    IpAllocationRow.address.in_(bindparam("addresses", expanding=True)),
)

#: The lowest key from :start to :end not held: :start itself, else the key after the
#: first held one (from :start on) whose successor is free. With the (network, version,
#: low64) index both walk the index and stop at the first gap (an index probe per held
#: address before it: asked only when ``_HELD_FROM`` finds a hole).
_LOWEST_FREE = text(
    """
SELECT CAST(:start AS BIGINT) AS free WHERE NOT EXISTS (
  SELECT 1 FROM ip_allocations
  WHERE network_id = :n AND version = :v AND low64 = :start)
UNION ALL
SELECT free FROM (
  SELECT a.low64 + 1 AS free FROM ip_allocations a
  WHERE a.network_id = :n AND a.version = :v AND a.low64 >= :start AND a.low64 < :end
    AND NOT EXISTS (
      SELECT 1 FROM ip_allocations b
      WHERE b.network_id = :n AND b.version = :v AND b.low64 = a.low64 + 1)
  ORDER BY a.low64
  LIMIT 1) AS gap
"""
)


#: How many keys from :start to :end are held and the highest: when they are all
#: consecutive (no member left a hole), the lowest free one is the next, found by counting
#: the index range. And how many rows have no key yet (written by a release before 0013
#: while the upgrade ran).
_HELD_FROM = text(
    """
SELECT count(low64), max(low64), (
  SELECT count(*) FROM ip_allocations
  WHERE network_id = :n AND version = :v AND low64 IS NULL)
FROM ip_allocations
WHERE network_id = :n AND version = :v AND low64 >= :start AND low64 <= :end
"""
)


class SqlIpAllocationRepository(SqlRepository):
    """Addresses held by requests."""

    def reserve(self, allocation: IpAllocation) -> None:
        # No look before the insert: the primary key and the foreign keys answer, in the
        # same statement.
        what = f"address {allocation.address} on {allocation.network_id}"
        violation = self._insert(IpAllocationRow, allocation_values(allocation), what)
        if violation is None:
            return
        if violation.kind == "unique":  # the primary key is the table's only unique rule
            raise DuplicateRecord(
                f"{allocation.address} is already held on {allocation.network_id}",
                field="address",
            )
        if violation.kind == "foreign_key":
            raise NotFound(
                f"request {allocation.request_id} or network {allocation.network_id} not found"
            )
        raise violation_error(violation, what)

    def held_among(self, network_id: NetworkId, addresses: Collection[IPAddress]) -> set[IPAddress]:
        wanted = {str(a): a for a in addresses}
        if not wanted:
            return set()
        found = self.session.scalars(
            _HELD_AMONG, {"n": network_id.value, "addresses": sorted(wanted)}
        )
        return {wanted[a] for a in found}

    def lowest_free(
        self,
        network_id: NetworkId,
        first: IPAddress,
        last: IPAddress,
        skip: Collection[IPAddress] = (),
    ) -> IPAddress | None:
        if int(first) >> 64 != int(last) >> 64:
            # wider than a /64 (keys repeat in every /64): every held address, in Python
            return InUse(self.for_network(network_id) | set(skip)).lowest_free(first, last)
        skipped = {low64(a) for a in skip if a.version == first.version}
        start, end = low64(first), low64(last)
        params = {"n": network_id.value, "v": first.version, "end": end}
        keyed = False
        while start <= end:
            if start in skipped:  # the route servers' own, usually the first few
                start += 1
                continue
            held, highest, unkeyed = self.session.execute(
                _HELD_FROM, {**params, "start": start}
            ).one()
            if unkeyed and not keyed:  # key them (once), then ask again
                self._fill_keys(network_id, first.version)
                keyed = True
                continue
            if not held:
                key = start
            elif highest - start + 1 == held:  # no hole from start on
                key = highest + 1
                if key > end:
                    return None
            else:
                found = self.session.scalars(_LOWEST_FREE, {**params, "start": start}).all()
                if not found:
                    return None
                key = min(found)
            if key not in skipped or from_low64(key, first) not in skip:
                return from_low64(key, first)
            start = key + 1
        return None

    def _fill_keys(self, network_id: NetworkId, version: int) -> None:
        """Key the rows a release before 0013 wrote while the upgrade ran."""
        a = IpAllocationRow
        missing = self.session.scalars(
            select(a.address).where(
                a.network_id == network_id.value, a.version == version, a.low64.is_(None)
            )
        ).all()
        if missing:
            table = Base.metadata.tables[IpAllocationRow.__tablename__]
            self.session.execute(
                update(table)
                .where(table.c.network_id == network_id.value, table.c.address == bindparam("a"))
                .values(low64=bindparam("k")),
                [{"a": address, "k": low64(ip_address(address))} for address in missing],
            )

    def for_network(self, network_id: NetworkId) -> set[IPAddress]:
        # Plain rows and the constructor of the stored version (``ip_address`` tries IPv4
        # first and pays an exception for every IPv6 address): a prefix wider than a /64
        # reads every held address at each allocation.
        rows = self.session.execute(
            select(IpAllocationRow.address, IpAllocationRow.version).where(
                IpAllocationRow.network_id == network_id.value
            )
        )
        return {IPv4Address(a) if v == 4 else IPv6Address(a) for a, v in rows}

    def for_request(self, request_id: uuid.UUID) -> builtins.list[IpAllocation]:
        rows = self._where(IpAllocationRow, request_id=request_id)
        return sorted(
            (allocation_record(r) for r in rows),
            key=lambda a: (a.address.version, int(a.address)),
        )

    def release_for_request(self, request_id: uuid.UUID) -> int:
        result = self.session.execute(
            delete(IpAllocationRow)
            .where(IpAllocationRow.request_id == request_id)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
