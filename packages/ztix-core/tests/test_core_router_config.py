"""The router configuration of an active request (``RouterConfigQuery``) and how
bootstrap finds the fleet's snippet writer."""

from __future__ import annotations

import uuid

import pytest

from ztix_core.bootstrap import NoRouterConfigs, bootstrap, router_configs
from ztix_core.errors import Conflict, InvalidValue, NotFound, PermissionDenied, SettingsError
from ztix_core.fleets import NoRouteServers
from ztix_core.hookspecs import hookimpl
from ztix_core.memory import InMemoryFleet, InMemoryProvider
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.ports import MaxPrefixOverride
from ztix_core.records import Actor, RouteServerObservation, SessionObservation
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases.router_config import (
    NO_SNIPPETS,
    SUGGESTION_FLOOR_V4,
    SUGGESTION_FLOOR_V6,
    RouterConfigQuery,
    suggested_limit,
)
from ztix_core.values import Asn


def _active(w: World, asn: int, node: str) -> uuid.UUID:
    rid = w.workflow.submit(w.user.id, asn, w.network.id, node).id
    w.workflow.approve(ADMIN, rid)
    assert w.provisioner.provision(rid) is S.ACTIVE
    return rid


def _owner(w: World) -> Actor:
    return Actor("user", str(w.user.id))


def _override(w: World, asn: int, v4: int, v6: int) -> None:
    with w.store() as uow:
        uow.network_facts.set_override(
            MaxPrefixOverride(Asn(asn), v4, v6, "test", "admin", w.clock.now())
        )
        uow.commit()


def test_an_active_member_gets_a_snippet_per_flavour(world: World) -> None:
    rid = _active(world, 64500, "abcdef0123")
    query = RouterConfigQuery(world.store, world.fleet)
    config = query.for_request(_owner(world), rid)
    member = config.member
    with world.store() as uow:
        own = uow.memberships.get_for_request(rid)
    assert own is not None
    assert (member.asn, member.ipv4, member.ipv6) == (Asn(64500), own.ipv4, own.ipv6)
    assert (member.lan_v4, member.lan_v6) == (
        world.network.ipv4_prefix,
        world.network.ipv6_prefix,
    )
    assert (member.accepted_v4, member.accepted_v6) == (100, 50)  # the defaults
    assert [s.flavour for s in config.snippets] == ["bird", "frr"]
    assert config.snippet("frr").filename == "ztix-as64500-frr.conf"
    assert config.note == ""
    # admins may read it too
    assert query.for_request(ADMIN, rid) == config


def _observe(w: World, server: str, sent: dict[str, int]) -> None:
    """``server`` read by the worker: AS64500's sessions, exporting ``sent`` routes."""
    at = w.clock.now()
    sessions = [
        SessionObservation(server, Asn(64500), f"AS64500_{fam}", "Established", at, exported=n)
        for fam, n in sent.items()
    ]
    with w.store() as uow:
        uow.observations.record_route_server(
            RouteServerObservation(server, True, at, sessions_total=len(sessions)), sessions
        )
        uow.commit()


def test_the_suggestion_is_twice_what_one_route_server_sends(world: World) -> None:
    rid = _active(world, 64500, "abcdef0123")
    query = RouterConfigQuery(world.store, world.fleet)
    fresh = query.for_request(_owner(world), rid).member  # nothing observed yet
    assert (fresh.suggested_v4, fresh.suggested_v6) == (SUGGESTION_FLOOR_V4, SUGGESTION_FLOOR_V6)
    _observe(world, "rs1", {"v4": 4000, "v6": 1234})
    _observe(world, "rs2", {"v4": 3999, "v6": 10})
    _override(world, 64500, 7, 8)  # what it may send is apart from what it receives
    member = query.for_request(_owner(world), rid).member
    assert (member.suggested_v4, member.suggested_v6) == (8000, 2500)
    assert (member.accepted_v4, member.accepted_v6) == (7, 8)
    assert suggested_limit(0, 10) == 10 and suggested_limit(1001, 10) == 2100


@pytest.mark.parametrize("stage", ["pending", "approved", "leaving"])
def test_only_active_requests_have_a_configuration(world: World, stage: str) -> None:
    query = RouterConfigQuery(world.store, world.fleet)
    rid = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123").id
    if stage != "pending":
        world.workflow.approve(ADMIN, rid)
    if stage == "leaving":
        world.provisioner.provision(rid)
        world.workflow.leave(ADMIN, rid)
    with pytest.raises(Conflict, match="router configuration is for active requests"):
        query.for_request(_owner(world), rid)


def test_strangers_and_unknown_requests_are_refused(world: World) -> None:
    rid = _active(world, 64500, "abcdef0123")
    query = RouterConfigQuery(world.store, world.fleet)
    stranger = world.add_user("mallory", 64510)
    with pytest.raises(PermissionDenied):
        query.for_request(Actor("user", str(stranger.id)), rid)
    with pytest.raises(NotFound):
        query.for_request(ADMIN, uuid.uuid4())


def test_unknown_flavour_and_no_route_servers(world: World) -> None:
    rid = _active(world, 64500, "abcdef0123")
    config = RouterConfigQuery(world.store, world.fleet).for_request(ADMIN, rid)
    with pytest.raises(InvalidValue, match="'cisco' is not one of bird, frr"):
        config.snippet("cisco")
    none = RouterConfigQuery(world.store, NoRouteServers()).for_request(ADMIN, rid)
    assert none.snippets == () and none.note == NO_SNIPPETS
    with pytest.raises(NotFound, match="no route servers"):
        none.snippet("bird")


class _MemoryProvider:
    """A plugin offering the in-memory provider (the core registers none)."""

    __name__ = "memory_provider"

    @hookimpl
    def ztix_membership_providers(self) -> list[Registration]:
        return [Registration("memory", lambda s: InMemoryProvider(), None, "tests")]


def test_bootstrap_wires_the_selected_fleets_writer_in_both_modes(world: World) -> None:
    plugins = Plugins(build_plugin_manager(load_entry_points=False, extra=[_MemoryProvider()]))
    for fleet, kind in (("memory", InMemoryFleet), ("none", NoRouteServers)):
        settings = Settings(storage="memory", route_server_fleet=fleet, zt_provider="memory")
        assert isinstance(router_configs(settings, plugins), kind)
        for with_provisioning in (False, True):
            app = bootstrap(settings, plugins, with_provisioning=with_provisioning)
            assert isinstance(app.router_config.configs, kind)


def test_a_fleet_that_is_not_installed_says_so_when_asked(world: World) -> None:
    plugins = Plugins(build_plugin_manager(load_entry_points=False))
    settings = Settings(storage="memory", route_server_fleet="nowhere")
    configs = router_configs(settings, plugins)
    assert isinstance(configs, NoRouterConfigs)
    app = bootstrap(settings, plugins, with_provisioning=False)  # the web still starts
    rid = _active(world, 64500, "abcdef0123")
    query = RouterConfigQuery(world.store, app.router_config.configs)
    with pytest.raises(SettingsError, match="ZTIX_ROUTE_SERVER_FLEET: no plugin named 'nowhere'"):
        query.for_request(ADMIN, rid)
