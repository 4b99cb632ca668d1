"""The web plugin: what ztix-web adds to ztix through the ``ztix`` entry-point group.

The module stays light (every ``ztix`` command imports it): commands load on first use.
"""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.settings import Settings
from ztix_core.usecases.ixf import ExchangeSettings
from ztix_web.config import WebSettings, web_settings


def _user_command() -> object:
    from ztix_web.cli_user import UserCommand

    return UserCommand()


def _web_command() -> object:
    from ztix_web.serve import WebCommand

    return WebCommand()


def _web_health_command() -> object:
    from ztix_web.health_cli import WebHealthCommand

    return WebHealthCommand()


def _demo_command() -> object:
    from ztix_web.demo import DemoCommand

    return DemoCommand()


def _token_command() -> object:
    from ztix_web.cli_token import TokenCommand

    return TokenCommand()


def _ixf_command() -> object:
    from ztix_web.cli_token import IxfCommand

    return IxfCommand()


def _validate(settings: Settings) -> None:
    web_settings(settings)


def _validate_exchange(settings: Settings) -> None:
    settings.section("exchange", ExchangeSettings)


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    """``ztix user``, ``ztix token``, ``ztix ixf``, ``ztix web``, ``ztix web-health`` and
    ``ztix demo``."""
    return [
        Registration(
            "demo",
            _demo_command,
            None,
            "the whole exchange on this machine (SQLite, emulator, worker, web)",
        ),
        Registration("user", _user_command, None, "local accounts: create, disable, ASNs, ..."),
        Registration(
            "token", _token_command, None, "API tokens: create (shown once), list, revoke"
        ),
        Registration(
            "ixf",
            _ixf_command,
            ExchangeSettings,
            "print the IX-F member export (/participants.json)",
            section="exchange",
            validate=_validate_exchange,
        ),
        Registration(
            "web",
            _web_command,
            WebSettings,
            "serve the web app (gunicorn); --check validates settings and the database",
            section="web",
            validate=_validate,
        ),
        Registration(
            "web-health",
            _web_health_command,
            None,
            "is a running web server healthy? (exit 0 yes, 1 no)",
        ),
    ]
