"""``ztix controller …``: the self-hosted controller lifecycle from the command line.

check | reconcile | reload-token | backup | restore | drill | emulate. Exit codes: 0 done
and healthy, 1 done but a check/reconciliation/drill failed, 2 refused (ZtixError: bad
setting, corrupt backup, identity mismatch …; printed by the ``ztix`` main)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from ztix_adapters_zerotier import audit as _audit
from ztix_adapters_zerotier.drill import DrillReport
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle, failure_metadata
from ztix_adapters_zerotier.readiness import readiness_metadata
from ztix_adapters_zerotier.reconcile import reconcile_metadata
from ztix_adapters_zerotier.self_hosted import NAME, SelfHostedControllerProvider
from ztix_core.bootstrap import configured_networks
from ztix_core.errors import SettingsError, ZtixError
from ztix_core.memory.clock import SystemClock
from ztix_core.plugins import Plugins
from ztix_core.ports import MembershipProvider, ReadinessReport, UnitOfWorkFactory
from ztix_core.settings import Settings, load_settings
from ztix_core.usecases.networks import sync_networks


def _print_report(report: ReadinessReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(readiness_metadata(report), indent=2, sort_keys=True))
        return
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} {check.name}" + (f": {check.message}" if check.message else ""))
        if not check.ok and check.remediation:
            print(f"     remediation: {check.remediation}")
    print("ready" if report.ready else "NOT READY: provisioning stays blocked")


def _print_drill(report: DrillReport) -> None:
    where = f" on {report.controller_kind}" if report.controller_kind else ""
    print(f"drill of {report.archive.name}{where}: {report.summary()}")
    if report.reconcile is not None:
        for line in report.reconcile.lines():
            print(f"  {line}")


class ControllerCommand:
    """``ztix controller``: lifecycle of the self-hosted ZeroTier controller."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--no-audit",
            action="store_true",
            help="do not write audit events to the configured storage",
        )
        sub = parser.add_subparsers(dest="controller_command", metavar="ACTION")
        check = sub.add_parser("check", help="run the readiness gate")
        check.add_argument("--json", action="store_true", help="print JSON")
        rec = sub.add_parser("reconcile", help="create missing networks, repair drift")
        rec.add_argument("--json", action="store_true", help="print JSON")
        reload = sub.add_parser(
            "reload-token",
            help="re-read the token and re-run readiness (or SIGHUP a running worker with --pid)",
        )
        reload.add_argument(
            "--pid",
            type=int,
            help="instead, make this running `ztix worker` re-read its token (SIGHUP; "
            "refused unless the process is a ztix worker with a SIGHUP handler)",
        )
        sub.add_parser("backup", help="back up controller.d and the identity files")
        restore = sub.add_parser(
            "restore", help="restore a backup into ZT_CONTROLLER_HOME (stop the controller first)"
        )
        restore.add_argument(
            "archive", nargs="?", type=Path, help="archive to restore (default: the newest)"
        )
        restore.add_argument(
            "--force",
            action="store_true",
            help="restore even if the backup holds another identity or the controller runs",
        )
        restore.add_argument(
            "--skip-drill", action="store_true", help="do not run the drill before restoring"
        )
        drill = sub.add_parser(
            "drill",
            help="prove a backup restorable on a scratch copy (checksums, identity, "
            "records, required networks, then zerotier-one or the emulator started on it)",
        )
        drill.add_argument(
            "archive", nargs="?", type=Path, help="archive to drill (default: the newest)"
        )
        from ztix_adapters_zerotier.emulator.cli import configure_emulate_parser

        configure_emulate_parser(
            sub.add_parser(
                "emulate",
                help="run the controller emulator (tests, demo, drills)",
                description="Serve an emulated ZeroTier controller (or Central) API.",
            )
        )
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        action = getattr(args, "controller_command", None)
        if action is None:
            self._parser.print_help()
            return 2
        if action == "emulate":
            from ztix_adapters_zerotier.emulator.cli import run_emulate

            return run_emulate(args)
        settings = load_settings(args.config)
        plugins: Plugins | None = getattr(args, "plugins", None)
        if action == "check" and settings.zt_provider != NAME:
            provider: MembershipProvider = (
                _plugins(plugins)
                .select("membership_providers", settings.zt_provider, "ZT_PROVIDER")
                .factory(settings)
            )
            report = provider.check_readiness(())
            _print_report(report, args.json)
            return 0 if report.ready else 1
        storage = None if args.no_audit else _storage(settings, plugins)
        try:
            lifecycle = build_lifecycle(settings, storage)
        except ZtixError as exc:  # e.g. no URL or token: still leave the audit trail
            _audit_unbuilt(storage, action, exc)
            return _refused(exc)
        try:
            return _ACTIONS[action](lifecycle, args)
        except ZtixError as exc:  # audited by the lifecycle
            return _refused(exc)
        except Exception as exc:  # audited too; an operator gets a line, not a traceback
            print(f"ztix: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        finally:
            for failure in lifecycle.audit_failures:
                print(
                    f"ztix: warning: audit event not written ({failure}); is the "
                    "database migrated?",
                    file=sys.stderr,
                )
            lifecycle.provider.close()


def _refused(exc: ZtixError) -> int:
    print(f"ztix: error: {exc}", file=sys.stderr)
    remediation = getattr(exc, "remediation", "")
    if remediation:
        print(f"  remediation: {remediation}", file=sys.stderr)
    return 2


#: the audit action of each command when it fails before it could start
_FAILED = {
    "check": _audit.READINESS_FAILED,
    "reconcile": _audit.RECONCILE_FAILED,
    "reload-token": _audit.TOKEN_RELOAD_FAILED,
    "backup": _audit.BACKUP_FAILED,
    "restore": _audit.RESTORE_REFUSED,
    "drill": _audit.DRILL_FAILED,
}


def _audit_unbuilt(storage: UnitOfWorkFactory | None, action: str, exc: ZtixError) -> None:
    try:
        _audit.record(
            storage,
            SystemClock(),
            _FAILED[action],
            NAME,
            failure_metadata(exc, stage="settings"),
        )
    except Exception as audit_exc:
        print(
            f"ztix: warning: audit event not written ({type(audit_exc).__name__})",
            file=sys.stderr,
        )


def _plugins(plugins: Plugins | None) -> Plugins:
    if plugins is not None:
        return plugins
    from ztix_core.plugins import build_plugin_manager

    return Plugins(build_plugin_manager())


def _storage(settings: Settings, plugins: Plugins | None) -> UnitOfWorkFactory | None:
    """The configured storage for audit events; a warning (and no audit) when it cannot be
    opened, so that lifecycle work is never blocked by a database outage."""
    try:
        factory: UnitOfWorkFactory = (
            _plugins(plugins)
            .select("storage_backends", settings.storage, "ZTIX_STORAGE")
            .factory(settings)
        )
    except Exception as exc:
        print(f"ztix: warning: audit disabled, storage unavailable: {exc}", file=sys.stderr)
        return None
    return factory


def build_lifecycle(
    settings: Settings, uow_factory: UnitOfWorkFactory | None = None
) -> ControllerLifecycle:
    """The lifecycle of the configured self-hosted controller."""
    if settings.zt_provider != NAME:
        raise SettingsError(
            "ZT_PROVIDER",
            f"controller lifecycle commands need {NAME}, not {settings.zt_provider!r}",
        )
    provider = SelfHostedControllerProvider.from_settings(settings)
    return ControllerLifecycle(provider, settings, uow_factory=uow_factory, strict_audit=False)


def _check(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    report = lifecycle.check()
    _print_report(report, args.json)
    return 0 if report.ready else 1


def _reconcile(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    if lifecycle.uow_factory is not None:
        # the settings are the source of truth for the exchange networks: the database
        # follows them first (a change that would strand members stops here, unwritten)
        synced = sync_networks(
            lifecycle.uow_factory, lifecycle.clock, configured_networks(lifecycle.settings)
        )
        for line in synced.lines():
            print(f"database: {line}", file=sys.stderr)
    report = lifecycle.reconcile()
    if args.json:
        print(json.dumps(reconcile_metadata(report), indent=2, sort_keys=True))
    else:
        print(f"controller {report.controller}")
        for line in report.lines():
            print(f"  {line}")
        print("converged" if report.ok else "NOT CONVERGED: provisioning stays blocked")
    return 0 if report.ok else 1


def _reload_token(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    if args.pid is not None:
        target = lifecycle.signal_reload(args.pid)
        print(
            f"sent SIGHUP to {target.pid} ({target.command}); it re-reads the token, re-runs "
            "readiness and logs and audits the outcome"
        )
        return 0
    outcome = lifecycle.reload_token()
    if outcome.reload is not None:
        print(
            f"token re-read from {outcome.reload.source} "
            f"({'changed' if outcome.reload.changed else 'unchanged'})"
        )
    else:
        print(f"token NOT reloaded: {outcome.error}")
    _print_report(outcome.report, False)
    return 0 if outcome.ok else 1


def _backup(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    result = lifecycle.backup()
    print(
        f"backup {result.path} ({len(result.manifest.files)} files, controller "
        f"{result.manifest.controller})"
    )
    for path in result.removed:
        print(f"  removed old backup {path.name}")
    return 0


def _restore(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    result = lifecycle.restore(args.archive, force=args.force, drill_first=not args.skip_drill)
    print(
        f"restored {result.archive.name} into {result.home} (controller "
        f"{result.manifest.controller})"
    )
    if result.previous is not None:
        print(f"  previous state moved to {result.previous}")
    print("start the controller, then run `ztix controller check` before provisioning")
    return 0


def _drill(lifecycle: ControllerLifecycle, args: argparse.Namespace) -> int:
    report = lifecycle.drill(args.archive)
    _print_drill(report)
    return 0 if report.passed else 1


_ACTIONS: dict[str, Callable[[ControllerLifecycle, argparse.Namespace], int]] = {
    "check": _check,
    "reconcile": _reconcile,
    "reload-token": _reload_token,
    "backup": _backup,
    "restore": _restore,
    "drill": _drill,
}


__all__ = ["ControllerCommand", "ZtixError", "build_lifecycle"]
