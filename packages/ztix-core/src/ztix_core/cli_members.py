"""``ztix request approve``, ``ztix member show|set`` and ``ztix member import``: an
admin's per-member settings, and moving an exchange's existing members onto ztix, from the
command line, through the core (``bootstrap`` → ``App.workflow`` / ``App.members``)
so the CLI writes exactly what the web does, audited as ``system:cli``.

A request is named by its id, or by an ASN and a node id::

    ztix request approve 6f1c… --ipv4 203.0.113.40 --ipv6 2001:db8:1::40
    ztix member set AS64500 a1b2c3d4e5 --display-name "Example Networks" --max-prefix-v4 5000
    ztix member set 6f1c… --max-prefix-v6 none      # clear: the next source holds again
    ztix member import members.csv --network 8056c2e21c000001

The import file is CSV with a header row: ``user`` (a username or a user id: the account
that owns the member, its ASN linked to it), ``asn`` and ``node_id``; optionally ``ipv4``
and ``ipv6`` (the addresses the member keeps), ``display_name`` and ``notes``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import uuid
from pathlib import Path
from typing import TextIO

from ztix_core.bootstrap import App, bootstrap
from ztix_core.errors import InvalidValue
from ztix_core.records import Actor, MemberFacts
from ztix_core.settings import load_settings
from ztix_core.usecases.members import KEEP, Keep, MemberSettings
from ztix_core.usecases.onboarding import ImportEntry, MemberImport

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
        bulk = sub.add_parser(
            "import",
            help="file, approve and authorize many members from a CSV file (audited)",
            description="Columns: user, asn, node_id (required); ipv4, ipv6, display_name, "
            "notes (optional). The worker's next route-server sync turns them active.",
        )
        bulk.add_argument("file", help="the CSV file (with a header row); - reads stdin")
        bulk.add_argument("--network", required=True, help="the exchange network's id")

    def run(self, args: argparse.Namespace) -> int:
        if args.member_command == "import":
            return self._import(args)
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

    def _import(self, args: argparse.Namespace) -> int:
        rows = read_import_file(args.file)
        app = bootstrap(load_settings(args.config), args.plugins)
        assert app.provisioner is not None
        entries, refused = _entries(app, rows)
        importer = MemberImport(app.workflow, app.members, app.provisioner)
        report = importer.run(CLI_ACTOR, args.network, [entry for _, entry in entries], sync=False)
        unfinished = []
        for (line, _), outcome in zip(entries, report.outcomes, strict=True):
            if outcome.error is None:
                continue
            text = f"{outcome.asn} {outcome.node_id}: {outcome.error}"
            if outcome.request_id is None:
                refused.append((line, text))
            else:
                status = outcome.status.value if outcome.status else "filed"
                unfinished.append((line, f"{text} (request {outcome.request_id}, {status})"))
        for line, error in sorted(refused + unfinished):
            self._print(f"line {line}: {error}")
        imported = len(report.imported)
        summary = f"imported {imported} of {len(rows)} members on {args.network}"
        if refused:
            summary += f"; {len(refused)} refused (nothing written for them)"
        if unfinished:
            summary += f"; {len(unfinished)} filed but not finished (see the admin queue)"
        self._print(summary)
        if imported:
            self._print("the worker's next route-server sync turns them active")
        return 1 if refused or unfinished else 0


_COLUMNS = ("user", "asn", "node_id", "ipv4", "ipv6", "display_name", "notes")


def read_import_file(name: str) -> list[tuple[int, dict[str, str]]]:
    """The import file's rows with their line numbers; InvalidValue for a file that is
    not what ``ztix member import`` reads (no header, a missing or unknown column)."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValue("file", f"cannot read {name}: {exc}") from None
    # spreadsheets write a byte-order mark and capitalised headings
    reader = csv.DictReader(text.removeprefix("\ufeff").splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise InvalidValue(
            "file", f"{name} is empty: it needs a header row ({', '.join(_COLUMNS)})"
        )
    missing = [c for c in _COLUMNS[:3] if c not in header]
    unknown = [c for c in header if c not in _COLUMNS]
    if missing or unknown:
        problem = f"missing column {', '.join(missing)}" if missing else ""
        if unknown:
            problem += ("; " if problem else "") + f"unknown column {', '.join(unknown)}"
        raise InvalidValue("file", f"{name}: {problem} (columns: {', '.join(_COLUMNS)})")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise InvalidValue("file", f"{name} line {reader.line_num}: more values than columns")
        values = {k: (v or "").strip() for k, v in row.items()}
        if any(values.values()):
            rows.append((reader.line_num, values))
    if not rows:
        raise InvalidValue("file", f"{name} holds a header row but no members")
    return rows


def _entries(
    app: App, rows: list[tuple[int, dict[str, str]]]
) -> tuple[list[tuple[int, ImportEntry]], list[tuple[int, str]]]:
    """Each row as an entry with its line number, and the rows whose user is unknown."""
    entries, refused = [], []
    with app.uow_factory() as uow:
        for line, row in rows:
            name = row["user"]
            try:
                user = uow.users.get(uuid.UUID(name))
            except ValueError:
                user = uow.users.get_by_username(name) if name else None
            if user is None:
                refused.append((line, f"no user {name!r} (give a username or a user id)"))
                continue
            entries.append(
                (
                    line,
                    ImportEntry(
                        user.id,
                        row["asn"],
                        row["node_id"].lower(),
                        notes=row.get("notes", ""),
                        ipv4=row.get("ipv4") or None,
                        ipv6=row.get("ipv6") or None,
                        display_name=row.get("display_name") or None,
                    ),
                )
            )
    return entries, refused
