"""The ``ztix`` command. Subcommands come from the ``ztix_cli_commands`` hook.

argparse rather than click: the core may depend on the standard library only (plus attrs,
cattrs, pluggy), and subparsers give each plugin its own namespace of options.

No traceback reaches a user. :func:`main` is the one boundary: whatever a command raises
becomes one line on stderr naming the problem and its fix, with these exit codes:

* 2: a problem ztix recognises: a ztix error (bad setting, database not migrated, ...),
  an exception a plugin explains (hook ``ztix_explain_error``: e.g. the SQL adapter's
  "the database at … is not migrated: run `ztix db upgrade`"), or an ``OSError`` (the
  path and what to check);
* 1: an unexpected error (a bug): its type and message, and a hint to rerun with
  ``--debug``, which prints the traceback;
* 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
from collections.abc import Sequence
from typing import Protocol

from ztix_core.errors import ZtixError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import Settings, load_settings

EXIT_REFUSED = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130


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
            "web_extensions",
        ):
            print(f"{kind}:")
            for name, reg in getattr(plugins, kind)().items():
                print(f"  {name:24} {reg.description}")
        return 0


class SettingsCommand:
    """``ztix settings``: check the settings as every command would (the core's and each
    installed plugin's checks), print them without secrets; on errors list every one and
    exit 2."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--reference",
            action="store_true",
            help="print the reference of every setting (Markdown) instead of checking",
        )

    def run(self, args: argparse.Namespace) -> int:
        from ztix_core.settings_check import check_settings

        if args.reference:
            from ztix_core.settings_reference import reference

            print(reference(args.plugins), end="")
            return 0

        settings, errors = check_settings(args.config, args.plugins)
        if errors:
            for error in errors:
                print(f"ztix: error: {error}", file=sys.stderr)
            count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
            print(f"ztix: the settings have {count}; nothing was started", file=sys.stderr)
            return EXIT_REFUSED
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
    parser = argparse.ArgumentParser(
        prog="ztix",
        description="ztix: a virtual IX on ZeroTier",
        epilog="exit codes: 0 ok, 2 refused (the message says what to fix), "
        "1 unexpected error (rerun with --debug)",
    )
    parser.add_argument("--config", help="settings file (TOML); default $ZTIX_CONFIG")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an unexpected error"
    )
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


def _global_options(argv: Sequence[str]) -> tuple[bool, str | None]:
    """``--debug`` and ``--config`` as given before the command, read before any parsing
    (a failure while the parser is built must already honour them)."""
    debug, config = False, None
    args = iter(argv)
    for arg in args:
        if arg == "--debug":
            debug = True
        elif arg == "--config":
            config = next(args, None)
        elif arg.startswith("--config="):
            config = arg.partition("=")[2]
        elif not arg.startswith("-"):
            break
    return debug, config


_OS_ERROR_FIXES = {
    errno.EACCES: "check that this user may use it (owner and mode)",
    errno.EPERM: "check that this user may use it (owner and mode)",
    errno.ENOENT: "check that the path exists",
    errno.EROFS: "the file system is read-only: choose a writable location",
    errno.ENOSPC: "free some space on that file system",
    errno.EISDIR: "give a file, not a directory",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EEXIST: "something that is not a directory is in the way: choose another path",
    errno.ECONNREFUSED: "check that the service runs and the address is right",
    errno.ETIMEDOUT: "check that the service runs and the address is reachable",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an ``OSError``: what failed, on which path, and what to check."""
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    fix = _OS_ERROR_FIXES.get(exc.errno or 0, "check the path and its permissions")
    return f"{reason}: {paths}; {fix}" if paths else f"{reason}; {fix}"


def _settings_or_none(config: str | None) -> Settings | None:
    try:
        return load_settings(config)
    except Exception:  # only used to explain another error: never replace it
        return None


def describe_failure(
    exc: BaseException, plugins: Plugins | None, config: str | None
) -> tuple[str, int]:
    """The one line a user sees for ``exc`` and the exit code (see the module docstring)."""
    if isinstance(exc, ZtixError):
        text = str(exc)
        remediation = str(getattr(exc, "remediation", "") or "")
        if remediation and remediation not in text:
            text = f"{text}; {remediation}"
        return text, EXIT_REFUSED
    if plugins is not None:
        explained = plugins.explain_error(exc, _settings_or_none(config))
        if explained:
            return explained, EXIT_REFUSED
    if isinstance(exc, OSError):
        return describe_os_error(exc), EXIT_REFUSED
    first_line = (str(exc).strip().splitlines() or [""])[0]
    detail = f": {first_line}" if first_line else ""
    text = f"unexpected {type(exc).__name__}{detail} (rerun with --debug for the traceback)"
    return text, EXIT_UNEXPECTED


def main(argv: Sequence[str] | None = None, *, plugins: Plugins | None = None) -> int:
    """Entry point of the ``ztix`` console script. ``plugins`` replaces the installed
    plugins (tests). Every failure ends here as one line on stderr (module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug, config = _global_options(argv)
    try:
        plugins = plugins or Plugins(build_plugin_manager())
        parser, commands = build_parser(plugins, argv)
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        args.plugins = plugins
        return commands[args.command].run(args)
    except KeyboardInterrupt:
        print("ztix: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        text, code = describe_failure(exc, plugins, config)
        print(f"ztix: error: {text}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
