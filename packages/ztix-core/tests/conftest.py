"""Fixtures of the core's own tests."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from ztix_core.memory import (
    FixedClock,
    InMemoryFleet,
    InMemoryProvider,
    InMemoryRegistry,
    InMemoryStore,
)
from ztix_core.policies import ManualAdminPolicy
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.records import Actor, RouteServer, User, ZtNetwork
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner, RequestQueries, RequestWorkflow
from ztix_core.values import Asn

ADMIN = Actor("user", "admin", is_admin=True)


@pytest.fixture
def uow_factory() -> UnitOfWorkFactory:
    return InMemoryStore()


@attrs.define
class World:
    """An exchange in memory: one network, two route servers, one operator."""

    store: InMemoryStore
    clock: FixedClock
    provider: InMemoryProvider
    fleet: InMemoryFleet
    registry: InMemoryRegistry
    workflow: RequestWorkflow
    provisioner: Provisioner
    queries: RequestQueries
    user: User
    network: ZtNetwork

    def add_user(self, name: str, *asns: int) -> User:
        u = b.user(name)
        with self.store() as uow:
            uow.users.add(u)
            for asn in asns:
                uow.asn_links.add(b.link(u.id, asn))
            uow.commit()
        return u


@pytest.fixture
def world() -> World:
    store, clock = InMemoryStore(), FixedClock()
    provider, registry = InMemoryProvider(), InMemoryRegistry()
    fleet = InMemoryFleet([
        RouteServer("rs1", Asn(64999), ipaddress.IPv4Address("10.1.0.1"),
                    ipaddress.IPv6Address("fd00:1::1")),
        RouteServer("rs2", Asn(64999), ipaddress.IPv4Address("10.1.0.2"),
                    ipaddress.IPv6Address("fd00:1::2")),
    ])
    workflow = RequestWorkflow(store, clock, ManualAdminPolicy(), registry)
    provisioner = Provisioner(store, clock, provider, fleet, registry)
    network = b.network()
    provider.ensure_network(network)
    w = World(store, clock, provider, fleet, registry, workflow, provisioner,
              RequestQueries(store, clock), b.user("placeholder"), network)
    with store() as uow:
        uow.networks.add(network)
        uow.commit()
    w.user = w.add_user("alice", 64500, 64501)
    return w
