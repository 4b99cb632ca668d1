"""The ``none`` fleet: an exchange without route servers, chosen explicitly."""

from __future__ import annotations

import pytest

from ztix_core.errors import InvalidValue
from ztix_core.fleets import NoRouteServers
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import Provisioner


def test_a_request_turns_active_once_its_member_is_authorized(world: World) -> None:
    fleet = NoRouteServers()
    provisioner = Provisioner(world.store, world.clock, world.provider, fleet, world.registry)
    req = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0123")
    world.workflow.approve(ADMIN, req.id)
    assert provisioner.provision(req.id) is S.ACTIVE
    with world.store() as uow:
        actions = [e.action for e in uow.audit.for_target("request", str(req.id))]
        assert uow.route_servers.list() == []
    assert actions[-2:] == ["membership.authorized", "request.active"]
    # leaving needs no route server either
    world.workflow.leave(ADMIN, req.id)
    assert provisioner.deprovision(req.id) is S.REMOVED


def test_the_none_fleet_is_a_plugin_and_says_what_it_is() -> None:
    plugins = Plugins(build_plugin_manager(load_entry_points=False))
    fleet = plugins.select("route_server_fleets", "none", "ZTIX_ROUTE_SERVER_FLEET").factory(
        Settings()
    )
    assert isinstance(fleet, NoRouteServers)
    assert "no route servers" in fleet.description
    assert fleet.servers() == () and fleet.render([]) == {} and fleet.apply([]) == []
    with pytest.raises(InvalidValue, match="no route servers"):
        fleet.apply([], ["rs1"])
