"""Memberships (unique per request and per network+node) and peering-LAN addresses
(unique per network+address)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from sqlalchemy import delete, select, update

from ztix_adapters_sql.mapping import (
    allocation_record,
    allocation_values,
    membership_record,
    membership_values,
)
from ztix_adapters_sql.models import IpAllocationRow, JoinRequestRow, MembershipRow
from ztix_adapters_sql.repositories._base import SqlRepository, violation_error
from ztix_core.errors import DuplicateRecord, NotFound
from ztix_core.ports import IPAddress
from ztix_core.records import IpAllocation, Membership
from ztix_core.values import Asn, NetworkId


class SqlMembershipRepository(SqlRepository):
    """Memberships."""

    def _request_exists(self, request_id: uuid.UUID) -> bool:
        found = self.session.scalar(
            select(JoinRequestRow.id).where(JoinRequestRow.id == request_id)
        )
        return found is not None

    def add(self, membership: Membership) -> None:
        m = MembershipRow
        if self.session.scalar(select(m.id).where(m.request_id == membership.request_id)):
            raise DuplicateRecord(f"request {membership.request_id} already has a membership")
        same_node = select(m.id).where(
            m.network_id == membership.network_id.value, m.node_id == membership.node_id.value
        )
        if self.session.scalar(same_node):
            raise DuplicateRecord(
                f"node {membership.node_id} is already a member of {membership.network_id}"
            )
        if not self._request_exists(membership.request_id):
            raise NotFound(f"request {membership.request_id} not found")
        what = f"membership of request {membership.request_id}"
        violation = self._insert(MembershipRow, membership_values(membership), what)
        if violation is None:
            return
        if violation.constraint == "uq_memberships_request_id":
            raise DuplicateRecord(f"request {membership.request_id} already has a membership")
        if violation.constraint == "uq_memberships_network_node":
            raise DuplicateRecord(
                f"node {membership.node_id} is already a member of {membership.network_id}"
            )
        raise violation_error(violation, what)

    def get_for_request(self, request_id: uuid.UUID) -> Membership | None:
        row = self._first(select(MembershipRow).where(MembershipRow.request_id == request_id))
        return membership_record(row) if row is not None else None

    def update(self, membership: Membership) -> None:
        values: dict[str, Any] = membership_values(membership)
        del values["id"]
        stmt = (
            update(MembershipRow)
            .where(MembershipRow.id == membership.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result, violation = self._guarded(stmt, MembershipRow, values)
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
        found = self.session.scalars(
            select(MembershipRow.asn)
            .where(MembershipRow.asn.in_(sorted({a.value for a in asns})))
            .distinct()
        )
        return {Asn(v) for v in found}


class SqlIpAllocationRepository(SqlRepository):
    """Addresses held by requests."""

    def reserve(self, allocation: IpAllocation) -> None:
        a = IpAllocationRow
        held = select(a.request_id).where(
            a.network_id == allocation.network_id.value, a.address == str(allocation.address)
        )
        if self.session.scalar(held) is not None:
            raise DuplicateRecord(
                f"{allocation.address} is already held on {allocation.network_id}",
                field="address",
            )
        req = allocation.request_id
        if self.session.scalar(select(JoinRequestRow.id).where(JoinRequestRow.id == req)) is None:
            raise NotFound(f"request {allocation.request_id} not found")
        what = f"address {allocation.address} on {allocation.network_id}"
        violation = self._insert(IpAllocationRow, allocation_values(allocation), what)
        if violation is None:
            return
        if violation.constraint == "pk_ip_allocations":
            raise DuplicateRecord(
                f"{allocation.address} is already held on {allocation.network_id}",
                field="address",
            )
        raise violation_error(violation, what)

    def for_network(self, network_id: NetworkId) -> set[IPAddress]:
        # Every held address is read at each allocation: plain rows and the constructor
        # of the stored version (``ip_address`` tries IPv4 first and pays an exception
        # for every IPv6 address).
        rows = self.session.execute(
            select(IpAllocationRow.address, IpAllocationRow.version).where(
                IpAllocationRow.network_id == network_id.value
            )
        )
        return {IPv4Address(a) if v == 4 else IPv6Address(a) for a, v in rows}

    def for_request(self, request_id: uuid.UUID) -> builtins.list[IpAllocation]:
        rows = self._all(select(IpAllocationRow).where(IpAllocationRow.request_id == request_id))
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
