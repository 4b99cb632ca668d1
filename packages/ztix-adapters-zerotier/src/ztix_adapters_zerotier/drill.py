"""The restore drill: restore a backup into a scratch home, start a controller (the
emulator by default) on it, and require readiness and network reconciliation to pass.
Provisioning should resume after a restore only when the drill passed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import attrs

from ztix_adapters_zerotier.backup import AUTHTOKEN, BackupError, Manifest, restore_backup
from ztix_adapters_zerotier.readiness import readiness_metadata
from ztix_adapters_zerotier.reconcile import ReconcileReport, reconcile_metadata, reconcile_networks
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.errors import ProviderError, ZtixError
from ztix_core.ports import ReadinessCheck, ReadinessReport
from ztix_core.records import JsonDict, ZtNetwork
from ztix_core.settings import NetworkSettings

#: Starts a controller on a home directory; the context yields its base URL.
ControllerStarter = Callable[[Path], AbstractContextManager[str]]


@contextmanager
def emulator_starter(home: Path) -> Iterator[str]:
    """Start the ztix controller emulator on ``home`` (a port chosen by the OS)."""
    from ztix_adapters_zerotier.emulator.server import EmulatorServer

    with EmulatorServer(home) as server:
        yield server.url


@attrs.frozen
class DrillReport:
    """What the drill found. ``passed``: the backup restored, the controller started on it,
    reconciliation converged and readiness passed afterwards."""

    archive: Path
    manifest: Manifest | None = None
    readiness: ReadinessReport | None = None
    reconcile: ReconcileReport | None = None
    error: str = ""
    stage: str = ""

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and self.reconcile is not None
            and self.reconcile.ok
            and self.readiness is not None
            and self.readiness.ready
        )

    def summary(self) -> str:
        """One line saying why the drill passed or failed."""
        if self.passed:
            return "passed"
        if self.error:
            return f"{self.stage}: {self.error}"
        if self.reconcile is not None and not self.reconcile.ok:
            return "reconcile: " + "; ".join(self.reconcile.lines())
        failure = self.readiness.first_failure if self.readiness else None
        return f"readiness: {failure.name}: {failure.message}" if failure else "not run"


def run_drill(
    archive: str | Path,
    *,
    required_ids: Sequence[str] = (),
    networks: Sequence[ZtNetwork | NetworkSettings] = (),
    start_controller: ControllerStarter = emulator_starter,
    scratch: Path | None = None,
    retry: RetryPolicy | None = None,
) -> DrillReport:
    """Run the drill on ``archive``; never raises for a failed stage (the report says
    which stage failed). The scratch home is deleted afterwards unless given."""
    archive = Path(archive)
    owned = scratch is None
    home = Path(tempfile.mkdtemp(prefix="ztix-drill-")) if scratch is None else scratch
    try:
        try:
            restored = restore_backup(archive, home / "home", durable=False)
        except BackupError as exc:
            return DrillReport(archive, error=exc.message, stage="restore")
        token_path = restored.home / AUTHTOKEN
        token = token_path.read_text().strip() if token_path.is_file() else None
        try:
            with start_controller(restored.home) as url:
                provider = SelfHostedControllerProvider(
                    url,
                    TokenSource(token),
                    required_ids=required_ids,
                    networks=networks,
                    retry=retry or RetryPolicy(attempts=3, backoff_s=0.05, backoff_max_s=0.5),
                )
                try:
                    address = provider.controller_address()
                    if address != restored.manifest.controller:
                        return DrillReport(
                            archive,
                            restored.manifest,
                            stage="identity",
                            error=f"the controller started as {address}, the backup is "
                            f"{restored.manifest.controller}'s",
                        )
                    recon = reconcile_networks(provider)
                    report = provider.check_readiness(())
                finally:
                    provider.close()
        except ProviderError as exc:
            return DrillReport(
                archive,
                restored.manifest,
                ReadinessReport(
                    (ReadinessCheck("controller_reachable", False, exc.message, exc.remediation),)
                ),
                error=exc.message,
                stage="controller",
            )
        except (ZtixError, OSError) as exc:
            return DrillReport(archive, restored.manifest, error=str(exc), stage="controller")
        return DrillReport(archive, restored.manifest, report, recon)
    finally:
        if owned:
            shutil.rmtree(home, ignore_errors=True)


def drill_metadata(report: DrillReport) -> JsonDict:
    """Audit metadata of a drill (no secrets)."""
    meta: JsonDict = {
        "archive": report.archive.name,
        "passed": report.passed,
        "summary": report.summary(),
    }
    if report.manifest is not None:
        meta["controller"] = report.manifest.controller
    if report.readiness is not None:
        meta["readiness"] = readiness_metadata(report.readiness)
    if report.reconcile is not None:
        meta["reconcile"] = reconcile_metadata(report.reconcile)
    if report.stage:
        meta["stage"] = report.stage
    return meta
