"""The web plugin: what ztix-web adds to ztix through the ``ztix`` entry-point group.

The module stays light (every ``ztix`` command imports it): commands load on first use.
"""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration


def _user_command() -> object:
    from ztix_web.cli_user import UserCommand

    return UserCommand()


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [
        Registration("user", _user_command, None, "local accounts: create, disable, ASNs, ..."),
    ]
