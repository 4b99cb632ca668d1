"""The zerotier plugin: registers what ztix-adapters-zerotier adds to ztix through the
``ztix`` entry-point group: the ``self_hosted_controller`` and ``central`` membership
providers and the ``ztix controller`` command."""

from __future__ import annotations

from ztix_adapters_zerotier.settings import ZeroTierSettings
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.settings import Settings


def _self_hosted(settings: Settings) -> object:
    from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider

    return SelfHostedControllerProvider.from_settings(settings)


def _central(settings: Settings) -> object:
    from ztix_adapters_zerotier.central import CentralProvider

    return CentralProvider.from_settings(settings)


def _controller_command() -> object:
    from ztix_adapters_zerotier.cli import ControllerCommand

    return ControllerCommand()


@hookimpl
def ztix_membership_providers() -> list[Registration]:
    return [
        Registration(
            "self_hosted_controller",
            _self_hosted,
            ZeroTierSettings,
            "a self-hosted ZeroTier controller (release path)",
        ),
        Registration(
            "central", _central, ZeroTierSettings, "ZeroTier Central API v1 (compatibility)"
        ),
    ]


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [
        Registration(
            "controller",
            _controller_command,
            None,
            "self-hosted controller lifecycle: check, reconcile, reload-token, "
            "backup, restore, drill, emulate",
        ),
    ]
