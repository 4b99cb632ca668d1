"""The restore drill: prove a backup restorable without touching the live controller.

Stages, in order (the first failure ends the drill and is named in the report):

1. ``restore``: the archive is read and verified (gzip/tar, safe paths, every sha256 in
   the manifest) and restored into a scratch home in a temporary directory;
2. ``identity``: ``identity.secret`` and ``identity.public`` are well formed, the public
   part of the secret equals ``identity.public`` and the address is the manifest's; with a
   real binary, ``zerotier-one -i validate`` also checks the address derives from the key;
3. ``records``: every network and member file parses into the records ztix reads;
4. ``networks``: the required ids and the configured networks are in the backup;
5. ``controller``: a controller started on the copy (a real ``zerotier-one`` when one is
   configured or found, else the emulator) answers with the manifest's address and the
   backup's networks, reconciliation converges and readiness passes.

Provisioning should resume after a restore only when the drill passed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs

from ztix_adapters_zerotier.backup import AUTHTOKEN, BackupError, Manifest, restore_backup
from ztix_adapters_zerotier.drill_checks import (
    HomeCheckError,
    HomeRecords,
    check_identity,
    check_records,
    check_required_networks,
)
from ztix_adapters_zerotier.readiness import readiness_metadata
from ztix_adapters_zerotier.reconcile import ReconcileReport, reconcile_metadata, reconcile_networks
from ztix_adapters_zerotier.scratch_controller import (
    ControllerStarter,
    emulator_starter,
    validate_identity,
    zerotier_one_starter,
)
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.errors import ProviderError, ZtixError
from ztix_core.ports import ReadinessCheck, ReadinessReport
from ztix_core.records import JsonDict, ZtNetwork
from ztix_core.settings import NetworkSettings

__all__ = ["ControllerStarter", "DrillReport", "drill_metadata", "emulator_starter", "run_drill"]


@attrs.frozen
class DrillReport:
    """What the drill found. ``passed``: every stage passed (see the module docstring).
    ``controller_kind`` is ``zerotier-one`` or ``emulator`` once a controller started."""

    archive: Path
    manifest: Manifest | None = None
    readiness: ReadinessReport | None = None
    reconcile: ReconcileReport | None = None
    error: str = ""
    stage: str = ""
    records: HomeRecords | None = None
    controller_kind: str = ""

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


def _controller_stage(
    report: DrillReport,
    home: Path,
    start_controller: ControllerStarter,
    required_ids: Sequence[str],
    networks: Sequence[ZtNetwork | NetworkSettings],
    retry: RetryPolicy,
) -> DrillReport:
    assert report.manifest is not None and report.records is not None
    token_path = home / AUTHTOKEN
    token = token_path.read_text().strip() if token_path.is_file() else None
    with start_controller(home) as url:
        provider = SelfHostedControllerProvider(
            url, TokenSource(token), required_ids=required_ids, networks=networks, retry=retry
        )
        try:
            address = provider.controller_address()
            if address != report.manifest.controller:
                return attrs.evolve(
                    report,
                    stage="controller",
                    error=f"the controller started as {address}, the backup is "
                    f"{report.manifest.controller}'s",
                )
            served = set(provider.list_network_ids())
            lost = sorted(set(report.records.networks) - served)
            if lost:
                return attrs.evolve(
                    report,
                    stage="controller",
                    error=f"the controller does not serve network(s) {', '.join(lost)} "
                    "of the backup",
                )
            recon = reconcile_networks(provider)
            readiness = provider.check_readiness(())
        finally:
            provider.close()
    return attrs.evolve(report, readiness=readiness, reconcile=recon)


def run_drill(
    archive: str | Path,
    *,
    required_ids: Sequence[str] = (),
    networks: Sequence[ZtNetwork | NetworkSettings] = (),
    binary: str | None = None,
    start_controller: ControllerStarter | None = None,
    scratch: Path | None = None,
    retry: RetryPolicy | None = None,
) -> DrillReport:
    """Run the drill on ``archive``; never raises (the report names the failed stage).

    ``binary``: a real zerotier-one to start on the copy (see :mod:`scratch_controller`);
    without it (and without ``start_controller``) the emulator is used. The scratch home
    is deleted afterwards unless ``scratch`` is given."""
    archive = Path(archive)
    owned = scratch is None
    root = Path(tempfile.mkdtemp(prefix="ztix-drill-")) if scratch is None else scratch
    report = DrillReport(archive)
    try:
        try:
            restored = restore_backup(archive, root / "home", durable=False)
        except BackupError as exc:
            return attrs.evolve(report, error=exc.message, stage="restore")
        report = attrs.evolve(report, manifest=restored.manifest)
        home, controller = restored.home, restored.manifest.controller
        try:
            check_identity(home, controller)
            if binary:
                why = validate_identity(binary, home)
                if why:
                    raise HomeCheckError("identity", why)
            records = check_records(home, controller)
            report = attrs.evolve(report, records=records)
            check_required_networks(records, controller, required_ids, networks)
        except HomeCheckError as exc:
            return attrs.evolve(report, stage=exc.stage, error=exc.message)
        if start_controller is None:
            start_controller = zerotier_one_starter(binary) if binary else emulator_starter
        report = attrs.evolve(report, controller_kind="zerotier-one" if binary else "emulator")
        policy = retry or RetryPolicy(attempts=3, backoff_s=0.05, backoff_max_s=0.5)
        try:
            return _controller_stage(report, home, start_controller, required_ids, networks, policy)
        except ProviderError as exc:
            failed = ReadinessCheck("controller_reachable", False, exc.message, exc.remediation)
            return attrs.evolve(
                report,
                readiness=ReadinessReport((failed,)),
                error=exc.message,
                stage="controller",
            )
        except (ZtixError, OSError) as exc:
            return attrs.evolve(report, error=str(exc), stage="controller")
        except Exception as exc:  # a drill reports; it never crashes its caller
            return attrs.evolve(
                report, error=f"unexpected {type(exc).__name__}: {exc}", stage="controller"
            )
    except Exception as exc:  # e.g. the scratch directory vanished under us
        return attrs.evolve(report, error=f"unexpected {type(exc).__name__}: {exc}", stage="drill")
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)


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
    if report.records is not None:
        meta["networks"] = len(report.records.networks)
        meta["members"] = report.records.members
    if report.controller_kind:
        meta["controller_kind"] = report.controller_kind
    return meta
