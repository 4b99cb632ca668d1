"""An exchange in memory: every port wired to the in-memory adapters (tests and demos)."""

from __future__ import annotations

import ipaddress

import attrs

from ztix_core.memory import (
    FixedClock,
    InMemoryFleet,
    InMemoryProvider,
    InMemoryRegistry,
    InMemoryStore,
)
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import Actor, RouteServer, User, ZtNetwork
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner, RequestQueries, RequestWorkflow
from ztix_core.values import Asn

ADMIN = Actor("user", "admin", is_admin=True)


@attrs.define
class World:
    """One network, two route servers (owning .1 and .2), one operator with two ASNs."""

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
        """A new user linked (locally) to ``asns``."""
        u = b.user(name)
        with self.store() as uow:
            uow.users.add(u)
            for asn in asns:
                uow.asn_links.add(b.link(u.id, asn))
            uow.commit()
        return u


def make_world() -> World:
    """A fresh in-memory exchange."""
    store, clock = InMemoryStore(), FixedClock()
    provider, registry = InMemoryProvider(), InMemoryRegistry()
    fleet = InMemoryFleet(
        [
            RouteServer(
                "rs1",
                Asn(64999),
                ipaddress.IPv4Address("10.1.0.1"),
                ipaddress.IPv6Address("fd00:1::1"),
            ),
            RouteServer(
                "rs2",
                Asn(64999),
                ipaddress.IPv4Address("10.1.0.2"),
                ipaddress.IPv6Address("fd00:1::2"),
            ),
        ]
    )
    workflow = RequestWorkflow(
        store, clock, ManualAdminPolicy(), registry, allow_documentation_asns=True
    )
    provisioner = Provisioner(store, clock, provider, fleet, registry)
    network = b.network()
    provider.ensure_network(network)
    world = World(
        store,
        clock,
        provider,
        fleet,
        registry,
        workflow,
        provisioner,
        RequestQueries(store, clock),
        b.user("placeholder"),
        network,
    )
    with store() as uow:
        uow.networks.add(network)
        uow.commit()
    world.user = world.add_user("alice", 64500, 64501)
    return world
