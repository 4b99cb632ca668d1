"""The bird plugin: registers what ztix-adapters-bird adds to ztix through the ``ztix`` entry-point group."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return []
