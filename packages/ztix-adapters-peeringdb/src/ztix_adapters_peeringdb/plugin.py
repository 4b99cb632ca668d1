"""The peeringdb plugin: registers what ztix-adapters-peeringdb adds to ztix through the
``ztix`` entry-point group: the ``peeringdb`` network registry (``[peeringdb]`` table) and
the ``ztix peeringdb`` command.

This module stays light: httpx is imported only inside the factories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ztix_adapters_peeringdb.settings import PeeringDbSettings, api_key, peeringdb_settings
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration

if TYPE_CHECKING:
    from ztix_adapters_peeringdb.registry import PeeringDbRegistry
    from ztix_core.settings import Settings


def make_registry(settings: Settings) -> PeeringDbRegistry:
    """Factory of the ``peeringdb`` registry: ``[peeringdb]`` + the API key → the REST
    registry (SettingsError naming a bad key; no request is sent)."""
    from ztix_adapters_peeringdb.registry import PeeringDbRegistry

    return PeeringDbRegistry(peeringdb_settings(settings), api_key(settings))


def validate(settings: Settings) -> None:
    """What :func:`make_registry` refuses (``ztix settings``); the key file is checked by
    the core's loader."""
    peeringdb_settings(settings)


def _command() -> object:
    from ztix_adapters_peeringdb.cli import PeeringDbCommand

    return PeeringDbCommand()


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [
        Registration(
            "peeringdb",
            _command,
            None,
            "PeeringDB facts: show, refresh, max-prefix overrides",
        )
    ]


@hookimpl
def ztix_network_registries() -> list[Registration]:
    return [
        Registration(
            "peeringdb",
            make_registry,
            PeeringDbSettings,
            "PeeringDB's REST API: facts and max-prefix per ASN, cached in the database",
            section="peeringdb",
            validate=validate,
        )
    ]
