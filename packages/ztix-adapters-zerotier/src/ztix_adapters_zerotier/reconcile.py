"""Network reconciliation for the self-hosted controller: from
``ZT_CONTROLLER_REQUIRED_NETWORK_IDS`` (full ids, or 6-hex suffixes completed with the
controller's address) and the configured networks, create what is missing, repair drift,
refuse ids under another controller's prefix, and report what changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ztix_adapters_zerotier.network_spec import Refusal
from ztix_core.errors import ProviderError
from ztix_core.ports import NetworkChange
from ztix_core.records import JsonDict, ZtNetwork

if TYPE_CHECKING:
    from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider


@attrs.frozen
class Failure:
    """A network reconciliation could not converge, with the provider's verdict."""

    network_id: str
    kind: str
    message: str
    remediation: str = ""
    transient: bool = False


@attrs.frozen
class ReconcileReport:
    """What a reconciliation run did. ``ok`` only when every network converged and none
    was refused: provisioning should stay closed otherwise."""

    controller: str
    changes: tuple[NetworkChange, ...] = ()
    refused: tuple[Refusal, ...] = ()
    failed: tuple[Failure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed

    @property
    def created(self) -> list[str]:
        return [str(c.network_id) for c in self.changes if c.created]

    @property
    def repaired(self) -> dict[str, list[str]]:
        return {str(c.network_id): list(c.repaired) for c in self.changes if c.repaired}

    @property
    def changed(self) -> bool:
        return bool(self.created or self.repaired)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per network."""
        out = []
        for c in self.changes:
            if c.created:
                out.append(f"created   {c.network_id}")
            elif c.repaired:
                out.append(f"repaired  {c.network_id}: {', '.join(c.repaired)}")
            else:
                out.append(f"unchanged {c.network_id}")
        out += [f"refused   {r.network_id}: {r.reason}" for r in self.refused]
        out += [f"failed    {f.network_id}: {f.message}" for f in self.failed]
        return out


def reconcile_networks(
    provider: SelfHostedControllerProvider, networks: Sequence[ZtNetwork] = ()
) -> ReconcileReport:
    """Enforce every desired network on the controller. Raises ProviderError only when the
    controller itself cannot be read (unreachable, bad token); per-network failures are
    reported."""
    address = provider.controller_address()
    specs, refused = provider.desired_specs(networks)
    changes: list[NetworkChange] = []
    failed: list[Failure] = []
    for spec in specs:
        try:
            changes.append(provider.ensure_spec(spec))
        except ProviderError as exc:
            if exc.kind == "auth":
                raise
            failed.append(
                Failure(str(spec.id), exc.kind, exc.message, exc.remediation, exc.transient)
            )
    return ReconcileReport(address, tuple(changes), tuple(refused), tuple(failed))


def reconcile_metadata(report: ReconcileReport) -> JsonDict:
    """Audit metadata of a reconciliation run (no secrets)."""
    return {
        "ok": report.ok,
        "controller": report.controller,
        "created": report.created,
        "repaired": report.repaired,
        "unchanged": [
            str(c.network_id) for c in report.changes if not c.created and not c.repaired
        ],
        "refused": {r.network_id: r.reason for r in report.refused},
        "failed": {f.network_id: f"{f.kind}: {f.message}" for f in report.failed},
    }
