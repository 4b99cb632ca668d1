"""Route-server drift: compare what each route server holds and runs with the desired
state, record and audit what differs, and repair it through the ordinary sync.

A server is compared only when it has applied the current desired state (a server that
is behind is waiting for a sync, not drifting). Findings are names and digests, never
file contents. Each server's finding is kept in ``RouteServerState.drift`` (None when it
matches), so pages and other workers see it; the audit trail gets ``route_server.drift``
when a finding appears or changes (every time it is repaired), and
``route_server.drift_cleared`` when it goes away. Repair runs the safe apply on the
drifted servers under the sync lock (never a write of its own), audits
``route_server.repaired`` or ``route_server.repair_failed``, and checks them again.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ztix_core.ports import ApplyOutcome, RouteServerDrift
from ztix_core.records import Actor, RouteServerState
from ztix_core.usecases._common import audit
from ztix_core.usecases.provisioning import Provisioner

RECONCILER = Actor.system("reconciler")


@attrs.frozen
class DriftCheck:
    """What one drift check found and did.

    ``found``: every server compared (in sync ones too; ``error`` set for those that
    could not be asked); ``skipped``: servers not compared because they are behind the
    desired state; ``repairs``: the applies repair ran; ``after``: the check of the
    repaired servers once repaired."""

    found: tuple[RouteServerDrift, ...] = ()
    skipped: tuple[str, ...] = ()
    repairs: tuple[ApplyOutcome, ...] = ()
    after: tuple[RouteServerDrift, ...] = ()

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the servers found drifted."""
        return tuple(d.server for d in self.found if d.drifted)

    @property
    def still_drifted(self) -> tuple[str, ...]:
        """Servers drifted after the check (and the repair, when one ran)."""
        after = {d.server: d for d in self.after}
        return tuple(d.server for d in self.found if d.drifted and after.get(d.server, d).drifted)


def check_route_servers(
    provisioner: Provisioner, *, repair: bool = False, actor: Actor = RECONCILER
) -> DriftCheck:
    """Check every route server for drift (see the module docstring); with ``repair``
    re-apply the drifted ones through the ordinary sync and check them again."""
    found, skipped = _check(provisioner, actor, repairing=repair)
    drifted = [d.server for d in found if d.drifted]
    if not repair or not drifted:
        return DriftCheck(tuple(found), tuple(skipped))
    result = provisioner.repair_route_servers(drifted)
    outcomes = [o for o in result.outcomes if o.server in drifted]
    by_server = {d.server: d for d in found}
    with provisioner.uow_factory() as uow:
        now = provisioner.clock.now()
        for out in outcomes:
            audit(
                uow,
                now,
                actor,
                "route_server.repaired" if out.ok else "route_server.repair_failed",
                "route_server",
                out.server,
                {
                    "result": out.result,
                    "stage": out.stage,
                    "message": out.message,
                    "digest": out.digest,
                    "generation": result.generation,
                    "drift": by_server[out.server].summary(),
                },
            )
        uow.commit()
    repaired = [o.server for o in outcomes if o.ok]
    after, _ = _check(provisioner, actor, repairing=False, only=repaired) if repaired else ([], [])
    return DriftCheck(tuple(found), tuple(skipped), tuple(outcomes), tuple(after))


def _check(
    provisioner: Provisioner,
    actor: Actor,
    *,
    repairing: bool,
    only: Sequence[str] | None = None,
) -> tuple[list[RouteServerDrift], list[str]]:
    names = [s.name for s in provisioner.fleet.servers() if only is None or s.name in only]
    if not names:
        return [], []
    # Under the sync lock: no sync of this installation applies between reading the
    # desired state and looking at the servers.
    with provisioner.sync_lock():
        with provisioner.uow_factory() as uow:
            peers, digest = provisioner.desired_state(uow)
            states = {n: uow.route_servers.get(n) or RouteServerState(n) for n in names}
        current = [n for n, s in states.items() if not s.behind and s.desired_digest == digest]
        skipped = [n for n in names if n not in current]
        found = provisioner.fleet.check_drift(peers, current) if current else []
        # still under the lock: a sync writes the same RouteServerState rows
        _record(provisioner, actor, found, repairing=repairing)
    return found, skipped


def _record(
    provisioner: Provisioner,
    actor: Actor,
    found: Sequence[RouteServerDrift],
    *,
    repairing: bool,
) -> None:
    checked = [d for d in found if not d.error]
    if not checked:
        return
    with provisioner.uow_factory() as uow:
        now = provisioner.clock.now()
        for d in checked:
            state = uow.route_servers.get(d.server) or RouteServerState(d.server)
            summary = d.summary() if d.drifted else None
            if summary is not None and (summary != state.drift or repairing):
                audit(
                    uow,
                    now,
                    actor,
                    "route_server.drift",
                    "route_server",
                    d.server,
                    {**d.as_json(), "summary": summary, "repair": repairing},
                )
            elif summary is None and state.drift is not None:
                audit(
                    uow,
                    now,
                    actor,
                    "route_server.drift_cleared",
                    "route_server",
                    d.server,
                    {"was": state.drift},
                )
            uow.route_servers.put(attrs.evolve(state, drift=summary, drift_checked_at=now))
        uow.commit()
