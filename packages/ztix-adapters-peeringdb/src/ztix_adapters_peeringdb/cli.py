"""``ztix peeringdb``: the cached PeeringDB facts, a refresh now, and the admins'
max-prefix overrides — all through the core (``bootstrap`` → ``App.facts``), so the CLI
reads and writes exactly what the worker and the web do, audited as ``system:cli``."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ztix_core.bootstrap import bootstrap
from ztix_core.records import Actor
from ztix_core.settings import load_settings
from ztix_core.usecases import FactsView, RegistryFacts
from ztix_core.values import Asn

CLI_ACTOR = Actor.system("cli")


def _age(view: FactsView) -> str:
    age = view.age
    if age is None:
        return "never answered"
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def describe(view: FactsView) -> list[str]:
    """The lines ``ztix peeringdb show`` prints for one ASN."""
    lines = [f"{view.asn}"]
    cached = view.cached
    if cached is None:
        lines.append("  PeeringDB: not asked yet")
    else:
        facts = cached.facts
        when = cached.fetched_at.isoformat() if cached.fetched_at else "-"
        lines.append(f"  fetched: {when} ({_age(view)})")
        if cached.error:
            lines.append(f"  last ask failed: {cached.error}")
        if facts is None:
            lines.append(
                "  PeeringDB: no network"
                if cached.known
                else "  PeeringDB: unknown (never answered)"
            )
        else:
            lines.append(f"  name: {facts.name} (status {facts.status})")
            lines.append(f"  IRR as-set: {facts.irr_as_set or '-'}")
            lines.append(f"  policy: {facts.policy_general}")
            v4, v6 = (
                "-" if n is None else str(n) for n in (facts.info_prefixes4, facts.info_prefixes6)
            )
            lines.append(f"  prefixes announced: v4 {v4}, v6 {v6}")
            if facts.never_via_route_servers:
                lines.append("  never via route servers: yes")
    mp = view.max_prefix
    lines.append(f"  max-prefix: v4 {mp.v4} ({mp.source_v4}), v6 {mp.v6} ({mp.source_v6})")
    if view.override is not None:
        o = view.override
        lines.append(
            f"  override: v4 {o.max_prefix_v4 or '-'}, v6 {o.max_prefix_v6 or '-'} by {o.set_by} "
            f"at {o.set_at.isoformat()}: {o.reason}"
        )
    return lines


class PeeringDbCommand:
    """``ztix peeringdb show|refresh|override``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="pdb_command", metavar="ACTION", required=True)
        show = sub.add_parser("show", help="an ASN's cached PeeringDB facts and max-prefix")
        show.add_argument("asn", help="64500 or AS64500")
        refresh = sub.add_parser(
            "refresh", help="ask PeeringDB now about the members and live requests that are due"
        )
        refresh.add_argument("--all", action="store_true", help="every one, due or not")
        refresh.add_argument("--asn", action="append", help="only this ASN (repeatable)")
        override = sub.add_parser("override", help="an admin's max-prefix for an ASN")
        osub = override.add_subparsers(dest="override_command", metavar="ACTION", required=True)
        oset = osub.add_parser("set", help="set (either family or both); audited")
        oset.add_argument("asn")
        oset.add_argument("--v4", type=int, help="IPv4 max-prefix")
        oset.add_argument("--v6", type=int, help="IPv6 max-prefix")
        oset.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        oclear = osub.add_parser("clear", help="remove; PeeringDB's value holds again")
        oclear.add_argument("asn")
        oclear.add_argument("--reason", default="")
        osub.add_parser("list", help="every override")

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout)

    def run(self, args: argparse.Namespace) -> int:
        app = bootstrap(load_settings(args.config), args.plugins, with_provisioning=False)
        facts: RegistryFacts = app.facts
        action: str = args.pdb_command
        if action == "show":
            for line in describe(facts.view(Asn.parse(args.asn))):
                self._print(line)
            return 0
        if action == "refresh":
            asns = [Asn.parse(a) for a in args.asn] if args.asn else None
            result = facts.refresh(force=args.all or asns is not None, asns=asns)
            self._print(result.line())
            return 1 if result.failed else 0
        return self._override(facts, args)

    def _override(self, facts: RegistryFacts, args: argparse.Namespace) -> int:
        action: str = args.override_command
        if action == "list":
            overrides = facts.overrides()
            for o in overrides:
                self._print(
                    f"{o.asn}: v4 {o.max_prefix_v4 or '-'}, v6 {o.max_prefix_v6 or '-'} "
                    f"by {o.set_by} at {o.set_at.isoformat()}: {o.reason}"
                )
            if not overrides:
                self._print("no max-prefix overrides")
            return 0
        asn = Asn.parse(args.asn)
        if action == "set":
            facts.set_override(CLI_ACTOR, asn, v4=args.v4, v6=args.v6, reason=args.reason)
            self._print(f"{asn}: max-prefix override set")
        else:
            facts.clear_override(CLI_ACTOR, asn, reason=args.reason)
            self._print(f"{asn}: max-prefix override cleared")
        for line in describe(facts.view(asn)):
            self._print(line)
        return 0
