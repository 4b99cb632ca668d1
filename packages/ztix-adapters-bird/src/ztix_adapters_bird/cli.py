"""``ztix rs``: render, apply and inspect the BIRD route servers from the command line.

One fleet, whoever builds it: the CLI gets its fleet from
:func:`ztix_core.bootstrap.build_route_server_fleet`, the function :func:`bootstrap` (so
the worker) calls, and its members from the worker's own
``Provisioner.desired_state`` (the desired members less those the fleet refuses). Same
settings and same database, same files, byte for byte.

No action builds a ZeroTier provider (``bootstrap(..., with_controller=False)``): they
never talk to the controller, so they need no ``[zerotier]`` settings. ``status`` does not
open the database either. ``init`` writes the first config of a local server that has
none, so that its BIRD can start before anything was applied.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import attrs

from ztix_adapters_bird.apply import MAIN_FILE
from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.settings import RouteServerSettings
from ztix_core.bootstrap import App, bootstrap, build_route_server_fleet
from ztix_core.errors import InvalidValue, SettingsError
from ztix_core.plugins import Plugins
from ztix_core.ports import PeerSpec, RouteServerFleet
from ztix_core.settings import Settings, load_settings
from ztix_core.values import Asn


def _require_bird(fleet: RouteServerFleet, settings: Settings) -> BirdFleet:
    if isinstance(fleet, BirdFleet):
        return fleet
    close = getattr(fleet, "close", None)
    if callable(close):
        close()
    raise SettingsError(
        "ZTIX_ROUTE_SERVER_FLEET",
        f"ztix rs works on BIRD route servers, but route_server_fleet is "
        f"{settings.route_server_fleet!r}: set it to 'bird'",
    )


def build_fleet(settings: Settings, plugins: Plugins) -> BirdFleet:
    """The worker's fleet (:func:`build_route_server_fleet`), which must be ``bird``:
    SettingsError naming ``bird.servers`` when no server is configured (the bird plugin
    refuses that for everyone), or ``ZTIX_ROUTE_SERVER_FLEET`` for another fleet."""
    return _require_bird(build_route_server_fleet(settings, plugins), settings)


@attrs.frozen
class MemberSet:
    """What a sync would configure now: the accepted members (``Provisioner.desired_state``,
    the worker's function) and the ones the fleet refuses, with the reason."""

    peers: list[PeerSpec]
    digest: str
    refused: list[tuple[Asn, str]]


def wire(settings: Settings, plugins: Plugins) -> tuple[App, BirdFleet]:
    """bootstrap without a ZeroTier provider: storage, registry, the fleet (built by
    :func:`build_route_server_fleet`, as for the worker) and a provisioner over them."""
    app = bootstrap(settings, plugins, with_controller=False)
    assert app.fleet is not None and app.provisioner is not None  # with_provisioning
    return app, _require_bird(app.fleet, settings)


def member_set(app: App) -> MemberSet:
    """The members a sync applies now, read through the configured storage exactly as
    the worker reads them."""
    assert app.provisioner is not None and app.fleet is not None
    with app.uow_factory() as uow:
        peers, digest = app.provisioner.desired_state(uow)
        desired = [p for _, p in app.provisioner.desired_peers(uow)]
    refused_at = app.fleet.refused_peers(desired) if len(peers) < len(desired) else {}
    refused = [(desired[i].asn, reason) for i, reason in sorted(refused_at.items())]
    return MemberSet(peers, digest, refused)


class RsCommand:
    """``ztix rs render|apply|check|status|init``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="rs_command", metavar="ACTION", required=True)
        render = sub.add_parser("render", help="render every server's config (desired state)")
        render.add_argument("--server", action="append", help="only this server (repeatable)")
        render.add_argument("--out", help="write the files to DIR/<server>/")
        apply = sub.add_parser("apply", help="render and safely apply to the route servers")
        apply.add_argument("--server", action="append", help="only this server (repeatable)")
        check = sub.add_parser(
            "check",
            help="compare each server's files and running BIRD with the desired state "
            "(exit 1 on drift, 3 when a server could not be checked)",
        )
        check.add_argument("--server", action="append", help="only this server (repeatable)")
        status = sub.add_parser("status", help="live BGP session state")
        status.add_argument("--asn", help="only this member (64500 or AS64500)")
        init = sub.add_parser(
            "init",
            help="write the first config of local servers that have none (BIRD can then start)",
        )
        init.add_argument("--server", action="append", help="only this server (repeatable)")

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout)

    def run(self, args: argparse.Namespace) -> int:
        settings = load_settings(args.config)
        action: str = args.rs_command
        if settings.route_server_fleet == "none":
            # an exchange without route servers, chosen on purpose: nothing is wrong
            self._print(
                "no route servers: route_server_fleet = none (members peer bilaterally); "
                f"nothing to {action}"
            )
            return 0
        if action == "status":
            asn = Asn.parse(args.asn) if args.asn else None
            return self._status(build_fleet(settings, args.plugins), asn)
        app, fleet = wire(settings, args.plugins)
        try:
            servers: Sequence[str] | None = args.server
            if servers:
                for name in servers:
                    fleet.server_settings(name)  # unknown names fail before any work
            if action == "init":
                return self._init(fleet, app, servers)
            members = member_set(app)
            if action == "check":
                return self._check(fleet, members.peers, servers)
            if action == "render":
                return self._render(fleet, members, servers, args.out)
            return self._apply(fleet, members, servers)
        finally:
            fleet.close()

    def _left_out(self, members: MemberSet) -> None:
        for asn, reason in members.refused:
            self._print(f"AS{asn.value} left out: {reason}")

    def _render(
        self,
        fleet: BirdFleet,
        members: MemberSet,
        servers: Sequence[str] | None,
        out: str | None,
    ) -> int:
        peers = members.peers
        rendered = {
            name: files
            for name, files in fleet.render(peers).items()
            if not servers or name in servers
        }
        if out:  # everything written before anything is reported
            for name, files in rendered.items():
                _write_files(Path(out) / name, files)
        for name, files in rendered.items():
            digest = fleet.digest(files)
            size = sum(len(b) for b in files.values())
            self._print(
                f"{name}: {len(files)} files, {size} bytes, {len(peers)} members, digest {digest}"
            )
            if out:
                self._print(f"  written to {Path(out) / name}")
        self._left_out(members)
        return 0

    def _apply(self, fleet: BirdFleet, members: MemberSet, servers: Sequence[str] | None) -> int:
        outcomes = fleet.apply(members.peers, servers)
        for o in outcomes:
            line = f"{o.server}: {o.result} digest {o.digest[:16] or '-'} in {o.duration_s:.3f} s"
            if not o.ok:
                line += f" at stage {o.stage}: {o.message}"
                if o.transient:
                    line += " (transient: still failing when the retries ran out)"
            if o.retried:
                line += f"; retried after {len(o.retried)} transient failure(s), the first: "
                line += o.retried[0]
            self._print(line)
        self._left_out(members)
        return 0 if all(o.ok for o in outcomes) else 1

    def _init(self, fleet: BirdFleet, app: App, servers: Sequence[str] | None) -> int:
        """Write the rendered desired state into each selected local server's config dir
        that has no ``bird.conf`` yet. A server with one is left alone (``apply`` changes it
        safely); a server reached over SSH is refused when named, else skipped."""
        chosen = [fleet.server_settings(n) for n in servers] if servers else None
        for server in chosen or []:
            if server.transport != "local":
                raise InvalidValue(
                    "--server",
                    f"{server.name} is reached over SSH: init writes only the files of local "
                    "route servers; prepare a remote one as the bird adapter's README says",
                )
        targets = chosen or list(fleet.settings.servers)
        missing = [
            s
            for s in targets
            if s.transport == "local" and not (Path(s.paths.config_dir) / MAIN_FILE).exists()
        ]
        rendered: Mapping[str, Mapping[str, bytes]] = {}
        members = MemberSet([], "", [])
        if missing:  # the database is read only when something is to be written
            members = member_set(app)
            rendered = fleet.render(members.peers)
        for server in sorted(targets, key=lambda s: s.name):
            config = Path(server.paths.config_dir) / MAIN_FILE
            if server.transport != "local":
                self._print(f"{server.name}: reached over SSH, skipped")
            elif server not in missing:
                self._print(f"{server.name}: {config} exists, left alone (rs apply updates it)")
            else:
                files = rendered[server.name]
                _write_config_dir(server, files)
                self._print(
                    f"{server.name}: wrote {len(files)} files to {server.paths.config_dir} "
                    f"({len(members.peers)} members, digest {fleet.digest(files)})"
                )
        self._left_out(members)
        return 0

    def _check(
        self, fleet: BirdFleet, peers: Sequence[PeerSpec], servers: Sequence[str] | None
    ) -> int:
        found = fleet.check_drift(peers, servers)
        for d in found:
            if d.error:
                self._print(f"{d.server}: cannot check: {d.error}")
                continue
            if not d.drifted:
                self._print(f"{d.server}: in sync")
                continue
            self._print(f"{d.server}: DRIFT")
            for f in d.files:
                digests = ", ".join(
                    f"{label} {value[:12]}"
                    for label, value in (("expected", f.expected), ("found", f.found))
                    if value
                )
                self._print(f"  file {f.name}: {f.problem} ({digests})")
            for line in d.findings()[len(d.files) :]:
                self._print(f"  {line}")
        if any(d.drifted for d in found):
            self._print("drift found: `ztix rs apply` (or the worker with repair) restores it")
            return 1
        return 3 if any(d.error for d in found) else 0

    def _status(self, fleet: BirdFleet, asn: Asn | None) -> int:
        try:
            report = fleet.session_report(asn)
        finally:
            fleet.close()
        sessions = report.sessions
        self._print(
            f"{'server':10} {'asn':>10} {'protocol':16} {'state':12} {'since':24} "
            f"{'imp':>6} {'filt':>6} {'exp':>6}  limit  last error"
        )
        for s in sessions:
            self._print(
                f"{s.server:10} {s.asn.value:>10} {s.protocol:16} {s.state:12} {s.since:24} "
                f"{s.imported:>6} {s.filtered:>6} {s.exported:>6}  "
                f"{'HIT' if s.import_limit_hit else '-':5}  {s.last_error}"
            )
        if not sessions:
            self._print("no sessions" + (f" for AS{asn.value}" if asn else ""))
        for name, reason in sorted(report.unreachable.items()):
            self._print(f"{name}: unreachable: {reason}")
        return 1 if report.unreachable else 0


def _write_files(base: Path, files: Mapping[str, bytes]) -> None:
    """Write a rendered config set under ``base``; InvalidValue (one line: the path, the
    reason and the fix) when the directory cannot be written."""
    for rel, data in files.items():
        path = base / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            where = exc.filename or path
            raise InvalidValue(
                "--out",
                f"cannot write {where}: {exc.strerror or exc}; choose a directory you can "
                "write to, or fix its permissions",
            ) from None


def _write_config_dir(server: RouteServerSettings, files: Mapping[str, bytes]) -> None:
    """Write a first config set into a local server's config dir: mode 0640 and the
    directory's group, as an apply leaves them (BIRD reads them as its own user). The main
    file comes last, so a half-written set is never taken for a complete one."""
    base = Path(server.paths.config_dir)
    order = sorted(files, key=lambda rel: (rel == MAIN_FILE, rel))
    try:
        base.mkdir(parents=True, exist_ok=True)
        gid = base.stat().st_gid
        for rel in order:
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(files[rel])
            tmp.chmod(0o640)
            if tmp.stat().st_gid != gid:
                os.chown(tmp, -1, gid)
            tmp.replace(path)
    except OSError as exc:
        raise InvalidValue(
            f"bird.servers.{server.name}.paths.config_dir",
            f"cannot write {exc.filename or base}: {exc.strerror or exc}; choose a directory "
            "you can write to, or fix its permissions",
        ) from None
