"""The REST registry behind the core's cache: a member's max-prefix follows PeeringDB
through a refresh and the route-server sync it requests; with PeeringDB down the stale
facts are served with their age; a never-answered ASN stays unknown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ztix_adapters_peeringdb.registry import PeeringDbRegistry
from ztix_adapters_peeringdb.testing import Fault, LocalPeeringDb, local_peeringdb, net_record
from ztix_core.testing.world import ADMIN, World, make_world
from ztix_core.usecases import Provisioner, RegistryFacts, RequestWorkflow
from ztix_core.usecases._common import TOPIC_SYNC
from ztix_core.values import Asn

AS = Asn(64500)


@pytest.fixture
def pdb() -> Iterator[LocalPeeringDb]:
    with local_peeringdb([net_record(64500, info_prefixes4=400, info_prefixes6=40)]) as server:
        yield server


def _wire(world: World, registry: PeeringDbRegistry) -> tuple[RegistryFacts, Provisioner]:
    world.workflow = RequestWorkflow(
        world.store, world.clock, world.workflow.policy, registry, allow_documentation_asns=True
    )
    provisioner = Provisioner(world.store, world.clock, world.provider, world.fleet, registry)
    return RegistryFacts(world.store, world.clock, registry), provisioner


def test_peeringdb_change_reaches_the_route_servers_and_outage_serves_stale(
    pdb: LocalPeeringDb,
) -> None:
    world = make_world()
    registry = PeeringDbRegistry(pdb.settings(retry_attempts=1), "k", sleep=lambda s: None)
    facts, provisioner = _wire(world, registry)
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    world.workflow.approve(ADMIN, req.id)
    provisioner.provision(req.id)
    (peer,) = world.fleet.applied["rs1"]
    assert (peer.max_prefix_v4, peer.max_prefix_v6, peer.description) == (
        500,
        50,
        "Example Network AS64500",
    )
    # PeeringDB changes; the scheduled refresh finds it and asks for a sync
    pdb.networks[64500] = net_record(64500, info_prefixes4=2000, info_prefixes6=40)
    world.clock.advance(seconds=registry.refresh_interval_s)
    result = facts.refresh()
    assert result.max_prefix_changed == (AS,) and result.calls == 1
    with world.store() as uow:
        assert [m.topic for m in uow.outbox.claim_unsent(10)].count(TOPIC_SYNC) == 1
    provisioner.sync_route_servers()
    (peer,) = world.fleet.applied["rs1"]
    assert (peer.max_prefix_v4, peer.max_prefix_v6) == (2500, 50)
    # PeeringDB down: stale facts with their age and the reason; nothing changes
    world.clock.advance(hours=7)
    pdb.fail_next(Fault("status", 503))
    down = facts.refresh()
    assert down.failed == 1 and down.max_prefix_changed == ()
    view = facts.view(AS)
    assert view.cached is not None and view.cached.error == "PeeringDB answered HTTP 503"
    assert view.age is not None and view.age.total_seconds() == 7 * 3600
    assert view.max_prefix.v4 == 2500
    provisioner.sync_route_servers(force=True)
    assert world.fleet.applied["rs1"][0].max_prefix_v4 == 2500


def test_never_answered_stays_unknown(pdb: LocalPeeringDb) -> None:
    world = make_world()
    registry = PeeringDbRegistry(pdb.settings(retry_attempts=1), None, sleep=lambda s: None)
    facts, _ = _wire(world, registry)
    pdb.fail_next(Fault("malformed"))
    entry = facts.answer(Asn(64501))
    assert not entry.known and entry.facts is None
    assert entry.error == "PeeringDB sent malformed JSON"
    assert facts.answer(Asn(64501)).known  # answered now: PeeringDB has no such network
