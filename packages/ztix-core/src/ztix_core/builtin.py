"""The core's built-in plugins: approval policies, in-memory storage/fleet/registry and the
core CLI commands (``ztix plugins``, ``ztix settings``, ``ztix request``, ``ztix member``)."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.memory import InMemoryFleet, InMemoryRegistry, InMemoryStore
from ztix_core.plugins import Registration
from ztix_core.policies import AutoPolicy, ManualAdminPolicy
from ztix_core.records import RouteServer
from ztix_core.settings import Settings
from ztix_core.values import Asn


def _memory_fleet(settings: Settings) -> InMemoryFleet:
    return InMemoryFleet([RouteServer("rs1", Asn(64999))])


@hookimpl
def ztix_approval_policies() -> list[Registration]:
    return [
        Registration(
            "manual_admin",
            lambda s: ManualAdminPolicy(),
            None,
            "every request waits for an admin (default)",
        ),
        Registration(
            "policy_auto",
            lambda s: AutoPolicy(s.auto_policy),
            None,
            "approve when every guardrail passes, else leave pending",
        ),
    ]


@hookimpl
def ztix_storage_backends() -> list[Registration]:
    return [Registration("memory", lambda s: InMemoryStore(), None, "in-memory, for tests")]


@hookimpl
def ztix_route_server_fleets() -> list[Registration]:
    from ztix_core.fleets import NoRouteServers

    return [
        Registration(
            "memory",
            _memory_fleet,
            None,
            "in-memory route servers, for tests",
            router_configs=_memory_fleet,
        ),
        Registration(
            "none",
            lambda s: NoRouteServers(),
            None,
            "no route servers: bilateral peering only",
            router_configs=lambda s: NoRouteServers(),
        ),
    ]


@hookimpl
def ztix_network_registries() -> list[Registration]:
    return [Registration("memory", lambda s: InMemoryRegistry(), None, "no PeeringDB facts")]


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    from ztix_core.cli import PluginsCommand, SettingsCommand
    from ztix_core.logs import LoggingSettings, logging_settings

    return [
        Registration("plugins", PluginsCommand, None, "list installed plugins"),
        # [logging] is the core's table (every long-running command reads it), checked here
        Registration(
            "settings",
            SettingsCommand,
            LoggingSettings,
            "check and show settings",
            section="logging",
            validate=logging_settings,
        ),
        Registration("request", _request_command, None, "approve a request (fixed addresses)"),
        Registration(
            "member",
            _member_command,
            None,
            "a member's display name, max-prefix, addresses; import many",
        ),
    ]


def _request_command() -> object:
    from ztix_core.cli_members import RequestCommand

    return RequestCommand()


def _member_command() -> object:
    from ztix_core.cli_members import MemberCommand

    return MemberCommand()
