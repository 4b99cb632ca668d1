"""The ``ztix`` command. Subcommands come from the ``ztix_cli_commands`` hook.

argparse rather than click: the core may depend on the standard library only (plus attrs,
cattrs, pluggy), and subparsers give each plugin its own namespace of options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from ztix_core.errors import ZtixError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import load_settings


class CliCommand(Protocol):
    """A subcommand: adds its options, then runs with the parsed arguments."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add arguments (and nested subparsers) to this command's parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit code."""


class PluginsCommand:
    """``ztix plugins``: what is installed, per hook."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        plugins: Plugins = args.plugins
        for kind in (
            "storage_backends",
            "membership_providers",
            "route_server_fleets",
            "approval_policies",
            "network_registries",
            "cli_commands",
        ):
            print(f"{kind}:")
            for name, reg in getattr(plugins, kind)().items():
                print(f"  {name:24} {reg.description}")
        return 0


class SettingsCommand:
    """``ztix settings``: load and validate the settings, print them without secrets."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        settings = load_settings(args.config)
        print(repr(settings))
        return 0


def build_parser(
    plugins: Plugins, argv: Sequence[str] | None = None
) -> tuple[argparse.ArgumentParser, dict[str, CliCommand]]:
    """The top parser and the command objects, from the CLI hook.

    Only the command named in ``argv`` is built and configured (all of them when ``argv``
    is None): building one may import a whole adapter stack (SQLAlchemy, asyncssh, ...),
    which ``ztix plugins`` should not pay for.
    """
    parser = argparse.ArgumentParser(prog="ztix", description="ztix: a virtual IX on ZeroTier")
    parser.add_argument("--config", help="settings file (TOML); default $ZTIX_CONFIG")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered = plugins.cli_commands()
    wanted = set(registered) if argv is None else set(argv) & set(registered)
    commands: dict[str, CliCommand] = {}
    for name, reg in registered.items():
        command_parser = sub.add_parser(name, help=reg.description)
        if name in wanted:
            command: CliCommand = reg.factory()
            commands[name] = command
            command.configure(command_parser)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ztix`` console script."""
    try:
        plugins = Plugins(build_plugin_manager())
        argv = sys.argv[1:] if argv is None else argv
        parser, commands = build_parser(plugins, argv)
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        args.plugins = plugins
        return commands[args.command].run(args)
    except ZtixError as exc:
        print(f"ztix: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
