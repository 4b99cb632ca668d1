"""PeeringDB facts through the cache: fetch times, stale answers when the registry is down,
unknown never taken as "no network", the scheduled refresh, max-prefix overrides, and the
route servers' max-prefix following them through the normal sync."""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import pytest

from ztix_core.errors import InvalidValue, NotFound, PermissionDenied
from ztix_core.policies import AutoPolicy
from ztix_core.ports import NetworkFacts
from ztix_core.records import Actor, LinkSource
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World, make_world
from ztix_core.usecases import RegistryFacts, RequestWorkflow
from ztix_core.usecases._common import TOPIC_SYNC
from ztix_core.values import Asn

AS = Asn(64500)
OPERATOR = Actor("user", "operator")


def _facts(v4: int | None = 120, v6: int | None = 30, **over: Any) -> NetworkFacts:
    return attrs.evolve(NetworkFacts(AS, "Example Net", max_prefix_v4=v4, max_prefix_v6=v6), **over)


@pytest.fixture
def world() -> World:
    return make_world()


def _facts_uc(w: World) -> RegistryFacts:
    return RegistryFacts(w.store, w.clock, w.registry)


def _active_member(w: World, asn: int = 64500) -> uuid.UUID:
    req = w.workflow.submit(w.user.id, asn, w.network.id, "abcdef0123")
    w.workflow.approve(ADMIN, req.id)
    assert w.provisioner.provision(req.id) is S.ACTIVE
    rid: uuid.UUID = req.id
    return rid


def _unsent_syncs(w: World) -> int:
    """How many sync messages wait in the outbox (then marked sent, as a relay would)."""
    with w.store() as uow:
        syncs = [m for m in uow.outbox.claim_unsent(100) if m.topic == TOPIC_SYNC]
        for m in syncs:
            uow.outbox.mark_sent(m.id, w.clock.now())
        uow.commit()
    return len(syncs)


def _peer_limits(w: World) -> tuple[int, int]:
    (peer,) = w.fleet.applied["rs1"]
    return peer.max_prefix_v4, peer.max_prefix_v6


def test_an_answer_is_cached_with_its_fetch_time_and_reused_while_fresh(world: World) -> None:
    world.registry.put(_facts())
    uc = _facts_uc(world)
    first = uc.answer(AS)
    assert first.facts == _facts() and first.fetched_at == world.clock.now() and first.known
    world.clock.advance(seconds=3599)
    assert uc.answer(AS) == first
    assert len(world.registry.fetches) == 1
    world.clock.advance(seconds=1)  # the registry's refresh interval is 3600 s
    assert uc.answer(AS).fetched_at == world.clock.now()
    assert len(world.registry.fetches) == 2


def test_unreachable_serves_stale_facts_with_their_age_and_the_reason(world: World) -> None:
    world.registry.put(_facts())
    uc = _facts_uc(world)
    fetched_at = uc.answer(AS).fetched_at
    world.clock.advance(hours=5)
    world.registry.unreachable[AS] = "PeeringDB answered 503"
    stale = uc.answer(AS)
    assert stale.facts == _facts()
    assert stale.fetched_at == fetched_at and stale.checked_at == world.clock.now()
    assert stale.error == "PeeringDB answered 503"
    view = uc.view(AS)
    assert view.age is not None and view.age.total_seconds() == 5 * 3600
    assert view.max_prefix.v4 == 120 and view.max_prefix.source_v4 == "peeringdb"


def test_never_answered_is_unknown_not_no_network(world: World) -> None:
    world.registry.unreachable[AS] = "timed out"
    entry = _facts_uc(world).answer(AS)
    assert entry.facts is None and not entry.known and entry.error == "timed out"
    world.registry.unreachable.clear()
    absent = _facts_uc(world).answer(AS)  # asked again at once: unknown is always due
    assert absent.facts is None and absent.known and absent.error == ""


def test_a_registry_that_raises_is_a_failed_answer_not_a_crash(world: World) -> None:
    class Broken:
        refresh_interval_s = 60.0

        def fetch(self, asns: object, *, patient: bool = True) -> object:
            raise RuntimeError("bug")

    uc = RegistryFacts(world.store, world.clock, Broken())  # type: ignore[arg-type]
    entry = uc.answer(AS)
    assert not entry.known and entry.error == "RuntimeError: bug"


def test_submission_with_peeringdb_down_is_held_for_an_admin_with_the_reason(
    world: World,
) -> None:
    with world.store() as uow:
        uow.users.update(attrs.evolve(world.user, verified_user=True, email_verified=True))
        uow.asn_links.add(
            b.link(world.user.id, 13335, source=LinkSource.PEERINGDB, can_manage_sessions=True)
        )
        uow.commit()
    auto = RequestWorkflow(world.store, world.clock, AutoPolicy(), world.registry)
    world.registry.unreachable[Asn(13335)] = "connect timeout"
    req = auto.submit(world.user.id, 13335, world.network.id, "abcdef0123")
    assert req.status is S.PENDING
    with world.store() as uow:
        (event,) = [e for e in uow.audit.for_target("request", str(req.id))][-1:]
        assert event.metadata["reasons"] == [
            "PeeringDB could not be asked about AS13335 (connect timeout); held for an admin"
        ]
        assert not uow.network_facts.get_many([Asn(13335)])[Asn(13335)].known
    # PeeringDB says the network never peers via route servers: held, with that reason
    world.registry.unreachable.clear()
    world.registry.put(NetworkFacts(Asn(13335), "CF", never_via_route_servers=True))
    other = attrs.evolve(world.network, id=b.network(2).id)
    with world.store() as uow:
        uow.networks.add(other)
        uow.commit()
    held = auto.submit(world.user.id, 13335, other.id, "abcdef0124")
    assert held.status is S.PENDING
    with world.store() as uow:
        reasons = uow.audit.for_target("request", str(held.id))[-1].metadata["reasons"]
    assert reasons == [
        "AS13335 says in PeeringDB that it never peers via route servers "
        "(info_never_via_route_servers); held for an admin"
    ]


def test_a_refused_submission_caches_nothing(world: World) -> None:
    world.registry.put(_facts(asn=Asn(64502)))
    with pytest.raises(Exception, match="not linked"):
        world.workflow.submit(world.user.id, 64502, world.network.id, "abcdef0123")
    with world.store() as uow:
        assert uow.network_facts.list() == []


def test_refresh_asks_only_due_relevant_asns_and_a_changed_limit_requests_a_sync(
    world: World,
) -> None:
    world.registry.put(_facts())
    _active_member(world)
    assert _peer_limits(world) == (120, 30)
    uc = _facts_uc(world)
    assert uc.refresh().asked == 0  # fresh: nothing to ask
    world.clock.advance(hours=2)
    world.registry.put(_facts(v4=250))
    result = uc.refresh()
    assert (result.asked, result.found, result.calls) == (1, 1, 1)
    assert result.max_prefix_changed == (AS,)
    with world.store() as uow:
        (changed,) = [e for e in uow.audit.recent(10) if e.action == "max_prefix.changed"]
        assert changed.metadata["from"] == {"v4": 120, "v6": 30}
        assert changed.metadata["to"] == {"v4": 250, "v6": 30}
    assert _unsent_syncs(world) == 1
    world.provisioner.sync_route_servers()  # what the worker runs for that message
    assert _peer_limits(world) == (250, 30)
    # unchanged facts: no sync requested; force asks even when fresh
    assert uc.refresh(force=True).max_prefix_changed == ()
    assert _unsent_syncs(world) == 0


def test_refresh_keeps_stale_facts_when_the_registry_is_down(world: World) -> None:
    world.registry.put(_facts())
    _active_member(world)
    world.clock.advance(hours=2)
    world.registry.unreachable[AS] = "HTTP 429, Retry-After 3600"
    result = _facts_uc(world).refresh()
    assert (result.asked, result.failed, result.max_prefix_changed) == (1, 1, ())
    assert result.errors == ("HTTP 429, Retry-After 3600",)
    assert "1 not answered" in result.line()
    world.provisioner.sync_route_servers(force=True)
    assert _peer_limits(world) == (120, 30)  # the stale facts still hold


def test_a_network_gone_from_peeringdb_falls_back_to_the_default(world: World) -> None:
    world.registry.put(_facts())
    _active_member(world)
    del world.registry.facts[AS]
    world.clock.advance(hours=2)
    assert _facts_uc(world).refresh().max_prefix_changed == (AS,)
    world.provisioner.sync_route_servers()
    assert _peer_limits(world) == (100, 50)  # ProvisioningSettings' defaults


def test_an_override_wins_per_family_is_audited_and_reaches_the_route_servers(
    world: World,
) -> None:
    world.registry.put(_facts())
    _active_member(world)
    uc = _facts_uc(world)
    uc.set_override(ADMIN, AS, v4=5000, v6=None, reason="full table customer")
    assert _unsent_syncs(world) == 1
    world.provisioner.sync_route_servers()
    assert _peer_limits(world) == (5000, 30)
    view = uc.view(AS)
    assert (view.max_prefix.source_v4, view.max_prefix.source_v6) == ("override", "peeringdb")
    assert view.override is not None and view.override.set_by == "user:admin"
    uc.clear_override(ADMIN, AS, reason="back to normal")
    world.provisioner.sync_route_servers()
    assert _peer_limits(world) == (120, 30)
    with world.store() as uow:
        actions = [(e.action, e.metadata) for e in uow.audit.for_target("asn", "64500")]
    assert actions == [
        ("max_prefix.override_set", {"v4": 5000, "v6": None, "reason": "full table customer"}),
        (
            "max_prefix.override_cleared",
            {"previous": {"v4": 5000, "v6": None}, "reason": "back to normal"},
        ),
    ]


@pytest.mark.parametrize(
    ("actor", "kwargs", "error"),
    [
        (OPERATOR, {"v4": 10, "v6": None, "reason": "x"}, PermissionDenied),
        (ADMIN, {"v4": None, "v6": None, "reason": "x"}, InvalidValue),
        (ADMIN, {"v4": 0, "v6": None, "reason": "x"}, InvalidValue),
        (ADMIN, {"v4": None, "v6": -1, "reason": "x"}, InvalidValue),
        (ADMIN, {"v4": 10, "v6": None, "reason": "  "}, InvalidValue),
    ],
)
def test_a_bad_override_is_refused_and_changes_nothing(
    world: World, actor: Actor, kwargs: dict[str, object], error: type[Exception]
) -> None:
    uc = _facts_uc(world)
    with pytest.raises(error):
        uc.set_override(actor, AS, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="AS64500 has no max-prefix override"):
        uc.clear_override(ADMIN, AS)
    assert uc.overrides() == []
    with world.store() as uow:
        assert uow.audit.recent(10) == [] or all(
            not e.action.startswith("max_prefix") for e in uow.audit.recent(10)
        )
    assert _unsent_syncs(world) == 0


def test_a_request_page_gets_its_asns_facts_only_for_its_owner_or_an_admin(
    world: World,
) -> None:
    world.registry.put(_facts())
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    uc = _facts_uc(world)
    owner = Actor("user", str(world.user.id))
    view = uc.for_request(owner, req.id)
    assert view.cached is not None and view.cached.facts == _facts()
    assert view.cached.fetched_at == world.clock.now()
    assert uc.for_request(ADMIN, req.id) == view
    with pytest.raises(PermissionDenied):
        uc.for_request(OPERATOR, req.id)
    with pytest.raises(NotFound):
        uc.for_request(ADMIN, uuid.uuid4())
