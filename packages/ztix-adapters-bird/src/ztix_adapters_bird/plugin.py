"""The bird plugin: registers what ztix-adapters-bird adds to ztix through the ``ztix``
entry-point group: the ``bird`` route-server fleet and the ``ztix rs`` command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ztix_adapters_bird.settings import BirdSettings
from ztix_core.errors import SettingsError
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration

if TYPE_CHECKING:
    from ztix_adapters_bird.fleet import BirdFleet
    from ztix_adapters_bird.snippets import BirdRouterConfigs
    from ztix_core.settings import Settings


def make_fleet(settings: Settings) -> BirdFleet:
    """Factory of the ``bird`` fleet: the ``[bird]`` section → BirdFleet (SettingsError
    naming the bad key, or ``bird.servers`` when none is configured)."""
    from ztix_adapters_bird.fleet import BirdFleet

    section = settings.section("bird", BirdSettings)
    if not section.servers:
        # With no server, "every route server applied it" would hold vacuously and requests
        # would turn active with no BGP session anywhere.
        raise SettingsError(
            "bird.servers",
            "no route server is configured: add [[bird.servers]] tables, or choose another "
            "fleet with ZTIX_ROUTE_SERVER_FLEET",
        )
    return BirdFleet(with_peering_lans(section, settings))


def make_router_configs(settings: Settings) -> BirdRouterConfigs:
    """The ``bird`` fleet's members' router snippets, from the ``[bird]`` section alone:
    no connection is opened and no key is read (the web builds it). With no server
    configured it writes no snippet."""
    from ztix_adapters_bird.snippets import BirdRouterConfigs

    section = settings.section("bird", BirdSettings)
    return BirdRouterConfigs(with_peering_lans(section, settings))


def with_peering_lans(section: BirdSettings, settings: Settings) -> BirdSettings:
    """Servers whose policy names no peering LAN get the configured networks' prefixes,
    so members can never announce the exchange's own LAN through the route servers."""
    v4 = tuple(n.ipv4_prefix for n in settings.networks)
    v6 = tuple(n.ipv6_prefix for n in settings.networks)
    servers = tuple(
        attrs.evolve(
            s,
            policy=attrs.evolve(
                s.policy,
                peering_lan_v4=s.policy.peering_lan_v4 or v4,
                peering_lan_v6=s.policy.peering_lan_v6 or v6,
            ),
        )
        for s in section.servers
    )
    return attrs.evolve(section, servers=servers)


def validate_fleet(settings: Settings) -> None:
    """What :func:`make_fleet` refuses (``ztix settings``): builds the fleet and closes it
    (no connection is opened)."""
    make_fleet(settings).close()


@hookimpl
def ztix_route_server_fleets() -> list[Registration]:
    return [
        Registration(
            "bird",
            make_fleet,
            BirdSettings,
            "BIRD 2 route servers: safe apply over SSH (or locally), status",
            section="bird",
            validate=validate_fleet,
            router_configs=make_router_configs,
        )
    ]


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [Registration("rs", _rs_command, None, "route servers: render, apply, check, status")]


def _rs_command() -> object:
    from ztix_adapters_bird.cli import RsCommand  # asyncssh and the rest only when chosen

    return RsCommand()
