"""Per-member settings on SQL (SQLite and PostgreSQL): approval with fixed addresses,
provisioning them, moving an address, and a refused address that writes nothing."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.errors import Conflict, InvalidValue
from ztix_core.memory import FixedClock, InMemoryFleet, InMemoryProvider, InMemoryRegistry
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import Actor, RouteServer
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.usecases import MemberSettings, Provisioner, RequestWorkflow
from ztix_core.values import Asn, NodeId

ADMIN = Actor("user", "admin", is_admin=True)


def _counts(factory: SqlUnitOfWorkFactory, rid: uuid.UUID) -> tuple[int, int, object, str]:
    with factory() as uow:
        request = uow.requests.get(rid)
        assert request is not None
        return (
            len(uow.audit.recent(1000)),
            len(uow.allocations.for_network(request.network_id)),
            uow.member_facts.get(request.id),
            request.status.value,
        )


def test_fixed_addresses_on_sql(sql_factory: SqlUnitOfWorkFactory) -> None:
    clock, provider = FixedClock(), InMemoryProvider()
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999), ipaddress.IPv4Address("10.1.0.1"), None)])
    user, network = b.user(), b.network()
    provider.ensure_network(network)
    with sql_factory() as uow:
        uow.users.add(user)
        uow.networks.add(network)
        uow.asn_links.add(b.link(user.id, 64500))
        uow.asn_links.add(b.link(user.id, 64501))
        uow.commit()
    workflow = RequestWorkflow(
        sql_factory, clock, ManualAdminPolicy(), InMemoryRegistry(), allow_documentation_asns=True
    )
    members = MemberSettings(sql_factory, clock, fleet.servers, allow_documentation_asns=True)
    provisioner = Provisioner(sql_factory, clock, provider, fleet, InMemoryRegistry())

    first = workflow.submit(user.id, 64500, network.id, "abcdef0001").id
    members.approve(ADMIN, first, ipv4="10.1.0.50", ipv6="fd00:1::50")
    assert provisioner.provision(first) is S.ACTIVE
    assert provider.members[(network.id, NodeId("abcdef0001"))].ip_assignments == (
        "10.1.0.50",
        "fd00:1::50",
    )

    second = workflow.submit(user.id, 64501, network.id, "abcdef0002").id
    before = _counts(sql_factory, second)
    with pytest.raises(Conflict, match="already held"):
        members.approve(ADMIN, second, ipv4="10.1.0.50")
    with pytest.raises(InvalidValue, match="route server rs1"):
        members.approve(ADMIN, second, ipv4="10.1.0.1")
    assert _counts(sql_factory, second) == before

    members.set(ADMIN, first, ipv4="10.1.0.60", display_name="First", max_prefix_v6=9)
    assert provisioner.update_member(first) is True
    assert provider.members[(network.id, NodeId("abcdef0001"))].ip_assignments == (
        "10.1.0.60",
        "fd00:1::50",
    )
    peer = fleet.applied["rs1"][0]
    assert (str(peer.ipv4), peer.description, peer.max_prefix_v6) == ("10.1.0.60", "First", 9)
    members.approve(ADMIN, second, ipv4="10.1.0.50")  # freed by the move
    assert provisioner.provision(second) is S.ACTIVE
