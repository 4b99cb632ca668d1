"""The peeringdb plugin: registers what ztix-adapters-peeringdb adds to ztix through the
``ztix`` entry-point group: the ``peeringdb`` network registry (``[peeringdb]`` table) and
the ``ztix peeringdb`` command, and Sign in with PeeringDB, a web extension
(``[peeringdb_login]`` table).

This module stays light: httpx is imported only inside the factories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ztix_adapters_peeringdb.settings import PeeringDbSettings, api_key, peeringdb_settings
from ztix_adapters_peeringdb.signin_settings import SignInSettings, client_secret, signin_settings
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration

if TYPE_CHECKING:
    from ztix_adapters_peeringdb.registry import PeeringDbRegistry
    from ztix_adapters_peeringdb.web import PeeringDbWeb
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


def make_web_extension(settings: Settings) -> PeeringDbWeb | None:
    """Factory of the ``peeringdb`` web extension: Sign in with PeeringDB when
    ``[peeringdb_login] client_id`` is set (SettingsError without the client secret),
    None otherwise. Imports ztix-web and Authlib: only the web app calls it."""
    found = signin_settings(settings)
    if not found.enabled:
        return None
    from ztix_adapters_peeringdb.web import PeeringDbWeb

    return PeeringDbWeb(found, client_secret(settings))


def validate_signin(settings: Settings) -> None:
    """What :func:`make_web_extension` refuses (``ztix settings``)."""
    signin_settings(settings)


@hookimpl
def ztix_web_extensions() -> list[Registration]:
    """Sign in with PeeringDB (``[peeringdb_login]``)."""
    return [
        Registration(
            "peeringdb",
            make_web_extension,
            SignInSettings,
            "Sign in with PeeringDB (OpenID Connect): /login/peeringdb",
            section="peeringdb_login",
            validate=validate_signin,
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
