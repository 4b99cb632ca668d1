"""The self-hosted controller's readiness gate: ``/status`` and ``/controller`` reachable,
token accepted, database ready, every required network present with the expected
settings. Every failed check carries a remediation; the gate never raises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ztix_adapters_zerotier import network_spec
from ztix_adapters_zerotier.self_hosted import AUTH_REMEDIATION, URL_SETTING
from ztix_core.errors import ProviderError, ZtixError
from ztix_core.ports import ReadinessCheck, ReadinessReport
from ztix_core.records import JsonDict, ZtNetwork

if TYPE_CHECKING:
    from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider

RECONCILE = "run `ztix controller reconcile`"


def _ok(name: str, message: str = "") -> ReadinessCheck:
    return ReadinessCheck(name, True, message)


def _fail(name: str, message: str, remediation: str) -> ReadinessCheck:
    return ReadinessCheck(name, False, message, remediation)


def controller_readiness(
    provider: SelfHostedControllerProvider, networks: Sequence[ZtNetwork] = ()
) -> ReadinessReport:
    """Run every check in order; stop after a failed connectivity check (later checks
    would only repeat it). Never raises for a failed check."""
    checks: list[ReadinessCheck] = []
    try:
        _run(provider, networks, checks)
    except ZtixError as exc:  # anything unexpected still fails closed, naming the stage
        remediation = exc.remediation if isinstance(exc, ProviderError) else ""
        checks.append(
            _fail(
                "readiness",
                f"readiness check failed: {exc.message}",
                remediation or "check ztix's logs and the controller",
            )
        )
    return ReadinessReport(tuple(checks))


def _run(
    provider: SelfHostedControllerProvider,
    networks: Sequence[ZtNetwork],
    checks: list[ReadinessCheck],
) -> None:
    if not provider.token.get():
        checks.append(
            _fail("token_configured", "no controller token is configured", AUTH_REMEDIATION)
        )
        return
    try:
        status = provider.status()
    except ProviderError as exc:
        if exc.kind == "auth":
            checks.append(_ok("status_reachable"))
            checks.append(_fail("token_accepted", exc.message, AUTH_REMEDIATION))
        else:
            checks.append(
                _fail(
                    "status_reachable",
                    exc.message,
                    exc.remediation or f"start the controller or fix {URL_SETTING}",
                )
            )
        return
    checks.append(
        _ok(
            "status_reachable",
            f"controller {status.get('address')} version {status.get('version', '?')}",
        )
    )
    checks.append(_ok("token_accepted"))
    try:
        info = provider.controller_info()
    except ProviderError as exc:
        if exc.status == 503:
            checks.append(_ok("controller_reachable"))
            checks.append(
                _fail(
                    "database_ready",
                    "the controller's database is not ready (503 on /controller)",
                    "wait for the controller to load its database; check its logs "
                    "and the controller.d storage",
                )
            )
        elif exc.kind == "auth":
            checks.append(_fail("token_accepted", exc.message, AUTH_REMEDIATION))
        else:
            checks.append(
                _fail(
                    "controller_reachable",
                    exc.message,
                    exc.remediation or "check that this node runs as a controller",
                )
            )
        return
    if info.get("controller") is not True:
        checks.append(
            _fail(
                "controller_reachable",
                "/controller does not report a controller",
                f"point {URL_SETTING} at a zerotier-one node that runs the network controller",
            )
        )
        return
    checks.append(_ok("controller_reachable", f"apiVersion {info.get('apiVersion', '?')}"))
    if info.get("databaseReady") is not True:
        checks.append(
            _fail(
                "database_ready",
                "the controller reports databaseReady: false",
                "wait for the controller to load its database; check its logs "
                "and the controller.d storage",
            )
        )
        return
    checks.append(_ok("database_ready"))
    specs, refused = provider.desired_specs(networks)
    for refusal in refused:
        checks.append(
            _fail(
                f"network_owned:{refusal.network_id}",
                refusal.reason,
                f"fix {network_spec.REQUIRED_IDS_SETTING} or the configured "
                "networks: ids must start with this controller's address",
            )
        )
    for spec in specs:
        stored = provider.get_network(spec.id)
        if stored is None:
            checks.append(
                _fail(
                    f"network_present:{spec.id}",
                    f"network {spec.id} is missing on the controller",
                    RECONCILE,
                )
            )
            continue
        checks.append(_ok(f"network_present:{spec.id}"))
        fix = network_spec.drift(spec, stored)
        if fix:
            checks.append(
                _fail(
                    f"network_settings:{spec.id}",
                    f"network {spec.id} drifted: {', '.join(sorted(fix))}",
                    RECONCILE,
                )
            )
        else:
            checks.append(_ok(f"network_settings:{spec.id}"))


def readiness_metadata(report: ReadinessReport) -> JsonDict:
    """Audit metadata of a readiness run: the verdict, the failed check and its remediation
    and every check's outcome. No secrets: checks never carry the token."""
    failure = report.first_failure
    meta: JsonDict = {
        "ready": report.ready,
        "checks": {c.name: c.ok for c in report.checks},
    }
    if failure is not None:
        meta.update(check=failure.name, message=failure.message, remediation=failure.remediation)
        meta["failed"] = [c.name for c in report.checks if not c.ok]
    return meta
