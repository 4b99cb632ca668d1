"""The zerotier plugin: registers what ztix-adapters-zerotier adds to ztix through the
``ztix`` entry-point group: the ``self_hosted_controller`` and ``central`` membership
providers and the ``ztix controller`` command."""

from __future__ import annotations

from ztix_adapters_zerotier.settings import ZeroTierSettings
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.settings import Settings, gather_errors


def _self_hosted(settings: Settings) -> object:
    from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider

    return SelfHostedControllerProvider.from_settings(settings)


def _central(settings: Settings) -> object:
    from ztix_adapters_zerotier.central import CentralProvider

    return CentralProvider.from_settings(settings)


def _validate_self_hosted(settings: Settings) -> None:
    from ztix_adapters_zerotier.network_spec import validate_required_ids

    gather_errors(
        lambda: _self_hosted(settings).close(),  # type: ignore[attr-defined]
        lambda: validate_required_ids(settings.zt_controller_required_network_ids),
    )


def _validate_central(settings: Settings) -> None:
    _central(settings).close()  # type: ignore[attr-defined]


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
            section="zerotier",
            validate=_validate_self_hosted,  # builds the client (no request), then closes it
        ),
        Registration(
            "central",
            _central,
            ZeroTierSettings,
            "ZeroTier Central API v1 (compatibility)",
            section="zerotier",
            validate=_validate_central,
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
