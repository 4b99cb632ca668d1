"""``ztix controller emulate`` and ``python -m ztix_adapters_zerotier.emulator``.

The ``controller`` command group wires this in with::

    from ztix_adapters_zerotier.emulator.cli import add_emulate_command
    add_emulate_command(controller_subparsers)   # adds "emulate"

The added parser sets ``args.handler = run_emulate`` (and ``func``), so the group's
``run(args)`` can ``return args.handler(args)`` when ``args.controller_command ==
"emulate"``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from ztix_adapters_zerotier.emulator.identity import IdentityError
from ztix_adapters_zerotier.emulator.server import CentralEmulatorServer, EmulatorServer


def configure_emulate_parser(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument("--port", type=int, default=9993, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--home",
        type=Path,
        required=True,
        help="zerotier-one home holding identity, authtoken.secret and controller.d/",
    )
    parser.add_argument(
        "--central", action="store_true", help="emulate ZeroTier Central API v1 instead"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=100,
        help="Central mode: requests per second before 429 (0: unlimited)",
    )
    parser.add_argument(
        "--allow-management-from",
        action="append",
        metavar="CIDR",
        help="also accept API calls from this network (repeatable; loopback is always "
        "allowed; default: local.conf's settings.allowManagementFrom)",
    )
    parser.add_argument(
        "--token-from-env",
        metavar="VAR",
        help="set the API token from this environment variable (never from argv)",
    )
    parser.set_defaults(handler=run_emulate, func=run_emulate)


def add_emulate_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``emulate`` to a subparsers object (from ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulate",
        help="run the controller emulator (tests, demo, drills)",
        description="Serve an emulated ZeroTier controller (or Central) API.",
    )
    configure_emulate_parser(parser)
    return parser


def run_emulate(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or until ``stop`` is set); the exit code."""
    import os

    token = None
    if args.token_from_env:
        token = os.environ.get(args.token_from_env)
        if not token:
            print(f"ztix: error: environment variable {args.token_from_env} is empty",
                  file=sys.stderr)  # fmt: skip
            return 2
    server: EmulatorServer | CentralEmulatorServer
    try:
        if args.central:
            server = CentralEmulatorServer(
                args.home, token, args.port, host=args.host, rate_limit=args.rate_limit or None
            )
        else:
            server = EmulatorServer(
                args.home,
                token,
                args.port,
                host=args.host,
                allow_management_from=args.allow_management_from,
            )
        server.start()
    except IdentityError as exc:
        print(f"ztix: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ztix: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    done = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    kind = "central" if args.central else "controller"
    print(
        f"ztix emulator ({kind}) {server.address} listening on {server.url} "
        f"(token in {args.home / 'authtoken.secret'})",
        flush=True,
    )
    try:
        done.wait()
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m ztix_adapters_zerotier.emulator",
        description="Serve an emulated ZeroTier controller (or Central) API.",
    )
    configure_emulate_parser(parser)
    args = parser.parse_args(argv)
    return run_emulate(args)
