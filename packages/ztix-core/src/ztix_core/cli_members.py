"""``ztix request approve`` and ``ztix member show|set``: an admin's per-member settings
from the command line, through the core (``bootstrap`` → ``App.workflow`` / ``App.members``)
so the CLI writes exactly what the web does, audited as ``system:cli``.

A request is named by its id, or by an ASN and a node id::

    ztix request approve 6f1c… --ipv4 203.0.113.40 --ipv6 2001:db8:1::40
    ztix member set AS64500 a1b2c3d4e5 --display-name "Example Networks" --max-prefix-v4 5000
    ztix member set 6f1c… --max-prefix-v6 none      # clear: the next source holds again
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import TextIO

from ztix_core.bootstrap import App, bootstrap
from ztix_core.errors import InvalidValue
from ztix_core.records import Actor, MemberFacts
from ztix_core.settings import load_settings
from ztix_core.usecases.members import KEEP, Keep, MemberSettings

CLI_ACTOR = Actor.system("cli")
_CLEAR = ("none", "default", "")


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request", help="the request id, or the member's ASN (then NODE)")
    parser.add_argument("node", nargs="?", help="the node id, when REQUEST is an ASN")


def _max_prefix(field: str, raw: str | None) -> int | Keep | None:
    """``--max-prefix-v4`` as given: a number, ``none`` (clear), or absent (keep)."""
    if raw is None:
        return KEEP
    text = raw.strip().lower()
    if text in _CLEAR:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(
            field, f"{raw!r} is not a whole number (or `none` to clear the setting)"
        ) from None


def describe_member(facts: MemberFacts) -> list[str]:
    """The lines ``ztix member show`` prints."""

    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    lines = [
        f"request {facts.request_id}",
        f"  display name: {shown(facts.display_name)}",
        f"  max-prefix: v4 {shown(facts.max_prefix_v4)}, v6 {shown(facts.max_prefix_v6)}",
        f"  fixed addresses: {shown(facts.ipv4)}, {shown(facts.ipv6)}",
    ]
    if facts.updated_at is not None:
        lines.append(f"  set by {facts.updated_by} at {facts.updated_at.isoformat()}")
    return lines


class _Base:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout)

    @staticmethod
    def _app(args: argparse.Namespace) -> App:
        return bootstrap(load_settings(args.config), args.plugins, with_provisioning=False)

    @staticmethod
    def _find(members: MemberSettings, args: argparse.Namespace) -> uuid.UUID:
        return members.find(args.request, args.node)


class RequestCommand(_Base):
    """``ztix request approve``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="request_command", metavar="ACTION", required=True)
        approve = sub.add_parser(
            "approve", help="approve a pending request, optionally with fixed addresses"
        )
        _target(approve)
        approve.add_argument("--ipv4", help="fixed peering-LAN IPv4 (else the next free one)")
        approve.add_argument("--ipv6", help="fixed peering-LAN IPv6 (else by the IPv6 scheme)")

    def run(self, args: argparse.Namespace) -> int:
        app = self._app(args)
        rid = self._find(app.members, args)
        if args.ipv4 is None and args.ipv6 is None:
            request = app.workflow.approve(CLI_ACTOR, rid)
        else:
            request = app.members.approve(CLI_ACTOR, rid, ipv4=args.ipv4, ipv6=args.ipv6)
        self._print(f"request {request.id}: {request.status.value} ({request.asn})")
        for line in describe_member(app.members.get(rid))[1:]:
            self._print(line)
        return 0


class MemberCommand(_Base):
    """``ztix member show|set``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="member_command", metavar="ACTION", required=True)
        show = sub.add_parser("show", help="a member's settings")
        _target(show)
        change = sub.add_parser(
            "set", help="change a member's settings (audited; the route servers follow)"
        )
        _target(change)
        change.add_argument(
            "--display-name", help='name in the route servers\' descriptions ("" clears)'
        )
        change.add_argument("--max-prefix-v4", help="IPv4 import limit, or `none` to clear")
        change.add_argument("--max-prefix-v6", help="IPv6 import limit, or `none` to clear")
        change.add_argument("--ipv4", help="move the member to this peering-LAN IPv4")
        change.add_argument("--ipv6", help="move the member to this peering-LAN IPv6")

    def run(self, args: argparse.Namespace) -> int:
        app = self._app(args)
        rid = self._find(app.members, args)
        if args.member_command == "show":
            for line in describe_member(app.members.get(rid)):
                self._print(line)
            return 0
        v4 = _max_prefix("max_prefix_v4", args.max_prefix_v4)
        v6 = _max_prefix("max_prefix_v6", args.max_prefix_v6)
        given = (args.display_name, args.ipv4, args.ipv6)
        if all(v is None for v in given) and v4 is KEEP and v6 is KEEP:
            raise InvalidValue(
                "member set",
                "give at least one of --display-name, --max-prefix-v4, --max-prefix-v6, "
                "--ipv4, --ipv6",
            )
        change = app.members.set(
            CLI_ACTOR,
            rid,
            display_name=KEEP if args.display_name is None else args.display_name,
            max_prefix_v4=v4,
            max_prefix_v6=v6,
            ipv4=KEEP if args.ipv4 is None else args.ipv4,
            ipv6=KEEP if args.ipv6 is None else args.ipv6,
        )
        if change.changes:
            self._print(f"changed: {', '.join(sorted(change.changes))}")
        else:
            self._print("nothing changed: the settings already had these values")
        for line in describe_member(change.facts):
            self._print(line)
        return 0
