"""Exchange networks follow the settings: created, updated, retired — audited; a change
that would strand members is refused with nothing written."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from ztix_core.errors import Conflict, NotFound
from ztix_core.records import ZtNetwork
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import sync_networks
from ztix_core.values import NetworkId

OTHER = ZtNetwork(
    NetworkId("8056c2e21c000002"),
    "second LAN",
    ipaddress.IPv4Network("10.9.0.0/24"),
    ipaddress.IPv6Network("fd00:9::/64"),
)


def _snapshot(w: World) -> tuple[list[ZtNetwork], int]:
    with w.store() as uow:
        return uow.networks.list(), len(uow.tables.audit)


def _actions(w: World, net: ZtNetwork) -> list[str]:
    with w.store() as uow:
        return [e.action for e in uow.audit.for_target("network", net.id.value)]


def test_configured_networks_are_created_then_submit_accepts_them(world: World) -> None:
    result = sync_networks(world.store, world.clock, [world.network, OTHER])
    assert result.created == (OTHER.id.value,) and not result.updated
    assert _actions(world, OTHER) == ["network.created"]
    req = world.workflow.submit(world.user.id, 64500, OTHER.id, "abcdef0123")
    assert req.network_id == OTHER.id
    again = sync_networks(world.store, world.clock, [world.network, OTHER])
    assert not again.changed  # idempotent: nothing written twice
    assert _actions(world, OTHER) == ["network.created"]


def test_a_renamed_network_is_updated_with_before_and_after(world: World) -> None:
    renamed = attrs.evolve(world.network, name="renamed", description="the main LAN")
    assert sync_networks(world.store, world.clock, [renamed]).updated == (world.network.id.value,)
    with world.store() as uow:
        assert uow.networks.get(world.network.id) == renamed
        (event,) = uow.audit.for_target("network", world.network.id.value)
    assert event.metadata["before"]["name"] != "renamed"
    assert event.metadata["after"]["name"] == "renamed"


def test_a_removed_network_without_members_is_retired_and_closed(world: World) -> None:
    sync_networks(world.store, world.clock, [world.network, OTHER])
    assert sync_networks(world.store, world.clock, [world.network]).retired == (OTHER.id.value,)
    with pytest.raises(NotFound, match="not an exchange network"):
        world.workflow.submit(world.user.id, 64500, OTHER.id, "abcdef0123")
    # back in the settings: open again
    assert sync_networks(world.store, world.clock, [world.network, OTHER]).updated == (
        OTHER.id.value,
    )
    world.workflow.submit(world.user.id, 64500, OTHER.id, "abcdef0123")


def test_a_removed_network_that_members_hold_is_refused_and_nothing_changes(
    world: World,
) -> None:
    sync_networks(world.store, world.clock, [world.network, OTHER])
    req = world.workflow.submit(world.user.id, 64500, OTHER.id, "abcdef0123")
    world.workflow.approve(ADMIN, req.id)
    before = _snapshot(world)
    with pytest.raises(Conflict, match=f"members still hold it: requests {req.id}"):
        sync_networks(world.store, world.clock, [world.network])
    assert _snapshot(world) == before


def test_new_prefixes_that_strand_members_are_refused(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    world.workflow.approve(ADMIN, req.id)
    world.provisioner.provision(req.id)
    moved = attrs.evolve(world.network, ipv4_prefix=ipaddress.IPv4Network("10.7.0.0/24"))
    before = _snapshot(world)
    with pytest.raises(Conflict, match="leave members' addresses outside"):
        sync_networks(world.store, world.clock, [moved])
    assert _snapshot(world) == before
    wider = attrs.evolve(world.network, ipv4_prefix=ipaddress.IPv4Network("10.1.0.0/23"))
    assert sync_networks(world.store, world.clock, [wider]).updated == (world.network.id.value,)


def test_no_configured_networks_leaves_the_database_alone(world: World) -> None:
    before = _snapshot(world)
    assert not sync_networks(world.store, world.clock, []).changed
    assert _snapshot(world) == before
