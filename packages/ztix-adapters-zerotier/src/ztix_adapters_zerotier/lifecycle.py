"""The self-hosted controller lifecycle in one place: readiness gate, network
reconciliation, token reload (on demand and on SIGHUP), backup, restore and the restore
drill — each audited (without secrets) when storage is given. The CLI and the worker call
this; the functions it wraps are usable on their own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from ztix_adapters_zerotier import audit as _audit
from ztix_adapters_zerotier import backup as _backup
from ztix_adapters_zerotier.drill import DrillReport, drill_metadata, run_drill
from ztix_adapters_zerotier.readiness import readiness_metadata
from ztix_adapters_zerotier.reconcile import ReconcileReport, reconcile_metadata, reconcile_networks
from ztix_adapters_zerotier.running import running_controller
from ztix_adapters_zerotier.scratch_controller import find_binary
from ztix_adapters_zerotier.self_hosted import NAME, SelfHostedControllerProvider
from ztix_adapters_zerotier.settings import configured_binary
from ztix_adapters_zerotier.sighup_target import SighupTarget, send_sighup
from ztix_adapters_zerotier.token import TokenReload, install_sighup_handler
from ztix_core.errors import SettingsError, ZtixError
from ztix_core.memory.clock import SystemClock
from ztix_core.ports import Clock, ReadinessReport, UnitOfWorkFactory
from ztix_core.records import JsonDict, ZtNetwork
from ztix_core.settings import Settings

TARGET = NAME
log = logging.getLogger(__name__)


@attrs.frozen
class TokenReloadOutcome:
    """A token reload and the readiness run right after it. ``reload`` is None when the
    token could not be re-read (``error`` says why; the old token stays in use)."""

    reload: TokenReload | None
    report: ReadinessReport
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.reload is not None and self.report.ready


def failure_metadata(exc: BaseException, **extra: object) -> JsonDict:
    """Audit metadata of an action that raised: its kind, message and remediation (and,
    for an unexpected exception, its type). Never a secret: the messages carry none."""
    meta: JsonDict = {
        "kind": str(getattr(exc, "kind", "") or getattr(exc, "code", "") or "unexpected"),
        "message": str(exc),
        "remediation": str(getattr(exc, "remediation", "") or ""),
    }
    if not isinstance(exc, ZtixError | OSError):
        meta["error_type"] = type(exc).__name__
    if isinstance(exc, SettingsError):
        meta["setting"] = exc.setting
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def token_reload_metadata(outcome: TokenReloadOutcome) -> JsonDict:
    """Audit metadata of a token reload: where from, whether it changed, and the readiness
    verdict. Never the token."""
    meta: JsonDict = {"readiness": readiness_metadata(outcome.report)}
    if outcome.reload is not None:
        meta.update(source=outcome.reload.source, changed=outcome.reload.changed)
    if outcome.error:
        meta["error"] = outcome.error
    return meta


class ControllerLifecycle:
    """Lifecycle operations on one self-hosted controller.

    With ``strict_audit`` (default) a failure to write an audit event raises; without it
    (the CLI) the action stands and the failure is logged and kept in ``audit_failures``.
    """

    def __init__(
        self,
        provider: SelfHostedControllerProvider,
        settings: Settings,
        *,
        uow_factory: UnitOfWorkFactory | None = None,
        clock: Clock | None = None,
        strict_audit: bool = True,
    ) -> None:
        self.provider = provider
        self.strict_audit = strict_audit
        #: audit events that could not be written (only with ``strict_audit=False``)
        self.audit_failures: list[str] = []
        self.settings = settings
        self.uow_factory = uow_factory
        self.clock = clock or SystemClock()

    def _record(self, action: str, metadata: JsonDict) -> None:
        secrets = [
            self.provider.token.get(),
            self.settings.zt_central_api_token,
            self.settings.zt_controller_auth_token,
        ]
        try:
            _audit.record(self.uow_factory, self.clock, action, TARGET, metadata, secrets=secrets)
        except Exception as exc:
            if self.strict_audit:
                raise
            # The lifecycle action itself is done; say so rather than hide it behind a
            # storage failure (e.g. a database that is not migrated yet).
            log.warning("audit event %s not written: %s", action, type(exc).__name__)
            self.audit_failures.append(f"{action}: {type(exc).__name__}")

    # ------------------------------------------------------------------ readiness

    def check(self, networks: Sequence[ZtNetwork] = ()) -> ReadinessReport:
        """Run the readiness gate and audit its verdict."""
        try:
            report = self.provider.check_readiness(networks)
        except Exception as exc:  # the gate never raises on purpose; audit it if it does
            self._record(_audit.READINESS_FAILED, failure_metadata(exc))
            raise
        self._record(
            _audit.READINESS_OK if report.ready else _audit.READINESS_FAILED,
            readiness_metadata(report),
        )
        return report

    def reconcile(self, networks: Sequence[ZtNetwork] = ()) -> ReconcileReport:
        """Reconcile the required and configured networks and audit what changed. A
        controller that cannot be read raises ProviderError (audited)."""
        try:
            report = reconcile_networks(self.provider, networks)
        except Exception as exc:
            self._record(_audit.RECONCILE_FAILED, failure_metadata(exc))
            raise
        self._record(
            _audit.RECONCILED if report.ok else _audit.RECONCILE_FAILED, reconcile_metadata(report)
        )
        return report

    # ------------------------------------------------------------------ token

    def reload_token(self) -> TokenReloadOutcome:
        """Re-read the token, then re-run readiness at once; audited without the secret.
        Provisioning stays blocked while readiness fails (its gate runs every time)."""
        try:
            reload: TokenReload | None = self.provider.reload_token()
            error = ""
        except SettingsError as exc:
            reload, error = None, exc.message
        try:
            report = self.provider.check_readiness(())
        except Exception as exc:
            self._record(_audit.TOKEN_RELOAD_FAILED, failure_metadata(exc))
            raise
        outcome = TokenReloadOutcome(reload, report, error)
        self._record(
            _audit.TOKEN_RELOADED if outcome.ok else _audit.TOKEN_RELOAD_FAILED,
            token_reload_metadata(outcome),
        )
        return outcome

    def signal_reload(self, pid: int) -> SighupTarget:
        """Ask a running ztix worker to reload its token (SIGHUP) after checking that
        ``pid`` is one that handles it (see :mod:`sighup_target`); audited either way."""
        try:
            target = send_sighup(pid)
        except Exception as exc:
            self._record(_audit.TOKEN_RELOAD_SIGNAL_REFUSED, failure_metadata(exc, pid=pid))
            raise
        self._record(_audit.TOKEN_RELOAD_SIGNALLED, {"pid": target.pid, "command": target.command})
        return target

    def install_sighup(
        self, on_done: Callable[[TokenReloadOutcome], object] | None = None
    ) -> Callable[[], None]:
        """Reload the token on SIGHUP (see :func:`token.install_sighup_handler`); returns
        the function that uninstalls the handler."""

        def run() -> None:
            outcome = self.reload_token()
            if on_done is not None:
                on_done(outcome)

        return install_sighup_handler(run)

    # ------------------------------------------------------------------ backup/restore

    def _home(self) -> Path:
        if not self.settings.zt_controller_home:
            raise SettingsError("ZT_CONTROLLER_HOME", "is required for backup and restore")
        return Path(self.settings.zt_controller_home)

    def _backup_dir(self) -> Path:
        if not self.settings.zt_controller_backup_dir:
            raise SettingsError("ZT_CONTROLLER_BACKUP_DIR", "is required for backup and restore")
        return Path(self.settings.zt_controller_backup_dir)

    def backup(self) -> _backup.BackupResult:
        """Back up ZT_CONTROLLER_HOME into ZT_CONTROLLER_BACKUP_DIR, keep the newest
        ZT_CONTROLLER_BACKUP_RETENTION_COUNT; audited."""
        try:
            retention = self.settings.zt_controller_backup_retention_count
            if retention < 1:
                raise SettingsError("ZT_CONTROLLER_BACKUP_RETENTION_COUNT", "must be at least 1")
            result = _backup.create_backup(
                self._home(), self._backup_dir(), retention=retention, now=self.clock.now()
            )
        except Exception as exc:
            self._record(_audit.BACKUP_FAILED, failure_metadata(exc))
            raise
        self._record(_audit.BACKUP_CREATED, _backup.backup_metadata(result))
        return result

    def latest_backup(self) -> Path:
        """The newest archive in ZT_CONTROLLER_BACKUP_DIR."""
        found = _backup.list_backups(self._backup_dir())
        if not found:
            raise _backup.BackupError(
                f"no backup in {self._backup_dir()}",
                kind="io",
                remediation="run `ztix controller backup` first",
            )
        return found[-1]

    def restore(
        self, archive: Path | None = None, *, force: bool = False, drill_first: bool = True
    ) -> _backup.RestoreResult:
        """Restore an archive (the newest when None) into ZT_CONTROLLER_HOME. Refused while
        the controller runs (its ``zerotier-one.pid`` names a live process, or its
        ``/status`` answers) unless ``force``. With ``drill_first`` the drill must pass on
        a scratch home before the real home is touched. Stop the controller first and
        start it afterwards. Audited, whatever the outcome."""
        name = archive.name if archive is not None else None
        try:
            archive = archive or self.latest_backup()
            name = archive.name
            _backup.verify_backup(archive)  # a corrupt archive is refused as such, first
            home = self._home()
            if not force:
                running = running_controller(home, self.provider)
                if running:
                    raise _backup.BackupError(
                        f"the controller is running ({running}); a restore under it would "
                        "be overwritten or ignored until it restarts",
                        kind="controller_running",
                        remediation="stop zerotier-one (e.g. `systemctl stop zerotier-one`), "
                        "run the restore again, start it, then `ztix controller check`; "
                        "--force restores anyway",
                    )
            if drill_first:
                drill = self.drill(archive)
                if not drill.passed:
                    raise _backup.BackupError(
                        f"the restore drill of {archive.name} failed: {drill.summary()}",
                        kind="drill_failed",
                        remediation="fix what the drill reports, or restore another backup",
                    )
            result = _backup.restore_backup(archive, home, force=force)
        except Exception as exc:
            self._record(_audit.RESTORE_REFUSED, failure_metadata(exc, archive=name))
            raise
        self._record(_audit.RESTORED, _backup.restore_metadata(result))
        return result

    def drill(self, archive: Path | None = None) -> DrillReport:
        """Prove an archive (the newest when None) restorable on a scratch copy (see
        :mod:`drill`): a real zerotier-one when ``ZT_CONTROLLER_BINARY`` /
        ``[zerotier] controller_binary`` names one or one is on PATH, else the emulator.
        Audited, whatever the outcome."""
        name = archive.name if archive is not None else None
        try:
            archive = archive or self.latest_backup()
            name = archive.name
            binary = find_binary(configured_binary(self.settings))
            report = run_drill(
                archive,
                required_ids=self.provider.required_ids,
                networks=self.settings.networks,
                binary=binary,
            )
        except Exception as exc:
            self._record(_audit.DRILL_FAILED, failure_metadata(exc, archive=name))
            raise
        self._record(
            _audit.DRILL_PASSED if report.passed else _audit.DRILL_FAILED, drill_metadata(report)
        )
        return report


def install_token_reload(
    provider: object,
    settings: Settings,
    *,
    uow_factory: UnitOfWorkFactory | None = None,
    on_done: Callable[[TokenReloadOutcome], object] | None = None,
) -> Callable[[], None] | None:
    """For a composition root (worker, web): when ``provider`` is the self-hosted one,
    reload its token and re-run readiness on every SIGHUP, audited; returns the uninstall
    function, or None for other providers. Call from the main thread."""
    if not isinstance(provider, SelfHostedControllerProvider):
        return None
    lifecycle = ControllerLifecycle(provider, settings, uow_factory=uow_factory)
    return lifecycle.install_sighup(on_done)
