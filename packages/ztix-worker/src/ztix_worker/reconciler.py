"""The reconciler: finds what fell through the cracks and puts it back on track.

Each pass:

1. a request in approved / provisioning / deprovisioning that nothing will move — no
   unsent outbox row names it, the broker holds no message for it (see :mod:`.delivery`),
   and it is not simply waiting for the route servers — is re-dispatched: a new outbox
   row and an audit event, at most once per ``stuck_after`` per request (judged from the
   audit trail, so every worker instance shares that memory). Age alone never makes a
   request stuck: under load a message may wait in its queue for a minute;
2. when a route server's applied generation is behind its desired one, or a provisioning
   member is authorized but not yet in a generation, a coalesced sync is requested;
3. failed requests whose members turn out to be configured after all (every server applied
   them, the controller has them authorized) are settled to active;
4. active memberships are compared with the controller; a difference (deauthorized or
   deleted by hand, addresses changed) is audited, and repaired when the setting says
   ``repair``;
5. every route server is compared with the desired state (files and running BIRD; see
   :mod:`ztix_core.usecases.route_server_drift`): drift is recorded and audited, and
   repaired through the ordinary sync under the same ``repair`` setting.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Sequence

import attrs

from ztix_core.errors import ProviderError
from ztix_core.ports import Clock, MembershipProvider, RequestFilter, UnitOfWorkFactory
from ztix_core.records import JoinRequest, Membership, OutboxMessage, new_id
from ztix_core.status import RequestStatus
from ztix_core.usecases._common import TOPIC_DEPROVISION, TOPIC_PROVISION
from ztix_core.usecases.route_server_drift import DriftCheck
from ztix_worker.audit import RECONCILER, audit
from ztix_worker.settings import DriftMode

log = logging.getLogger(__name__)

_STUCK = {
    RequestStatus.APPROVED: TOPIC_PROVISION,
    RequestStatus.PROVISIONING: TOPIC_PROVISION,
    RequestStatus.DEPROVISIONING: TOPIC_DEPROVISION,
}


@attrs.frozen
class Drift:
    """One membership on which the controller and the database disagree."""

    request_id: uuid.UUID
    node_id: str
    problem: str
    expected: tuple[str, ...]
    found: tuple[str, ...]
    repaired: bool = False


@attrs.frozen
class ReconcilePass:
    """What one pass found and did."""

    redispatched: tuple[uuid.UUID, ...] = ()
    sync_requested: bool = False
    drift: tuple[Drift, ...] = ()
    recovered: tuple[uuid.UUID, ...] = ()
    #: Route servers found drifted in this pass (repaired or not, per the setting).
    route_server_drift: tuple[str, ...] = ()


def _addresses(values: object) -> tuple[str, ...]:
    out = []
    for raw in values or ():  # type: ignore[attr-defined]
        try:
            out.append(str(ipaddress.ip_address(str(raw))))
        except ValueError:
            out.append(str(raw))
    return tuple(sorted(out))


class Reconciler:
    """Runs reconciliation passes; see the module docstring."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        provider: MembershipProvider,
        request_sync: Callable[[], object],
        *,
        stuck_after: dt.timedelta,
        alive: Callable[[Collection[str]], set[str]] = lambda keys: set(),
        settle_recovered: Callable[[], Sequence[uuid.UUID]] = lambda: (),
        drift_mode: DriftMode = DriftMode.REPORT_ONLY,
        interval_s: float = 30.0,
        check_route_servers: Callable[[bool], DriftCheck | None] = lambda repair: None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.provider = provider
        self.request_sync = request_sync
        self.stuck_after = stuck_after
        self.alive = alive
        self.settle_recovered = settle_recovered
        self.drift_mode = drift_mode
        self.interval_s = interval_s
        self.check_route_servers = check_route_servers
        self._reported: set[tuple[uuid.UUID, str, tuple[str, ...]]] = set()

    def run_once(self) -> ReconcilePass:
        """One pass over stuck requests, lagging servers, recovered failures and drift."""
        redispatched = self._redispatch_stuck()
        sync = self._resync_behind()
        recovered = tuple(self.settle_recovered())
        drift = self._check_drift()
        servers = self._check_route_servers()
        return ReconcilePass(tuple(redispatched), sync, tuple(drift), recovered, servers)

    # ------------------------------------------------------------------ stuck requests

    @staticmethod
    def _waiting_for_servers(
        request: JoinRequest, m: Membership | None, applied: Sequence[int]
    ) -> bool:
        """True when the request's next step is a route-server sync (asked for below)."""
        if m is None:
            return False
        if request.status is RequestStatus.PROVISIONING and m.authorized:
            gen = m.config_generation
            return gen is None or any(a < gen for a in applied)
        if request.status is RequestStatus.DEPROVISIONING and m.removal_generation is not None:
            return any(a < m.removal_generation for a in applied)
        return False

    def _candidates(self) -> list[JoinRequest]:
        """Requests that nothing is moving: no unsent outbox row, not waiting for the
        route servers, and (asked last, of the few left) no message in the broker."""
        with self.uow_factory() as uow:
            requests = uow.requests.query(RequestFilter(statuses=frozenset(_STUCK), limit=10_000))
            if not requests:
                return []
            unsent = uow.outbox.unsent_correlation_ids()
            members = {m.request_id: m for m in uow.memberships.list()}
            applied = [s.applied_generation for s in uow.route_servers.list()]
        idle = [
            r
            for r in requests
            if str(r.id) not in unsent
            and not self._waiting_for_servers(r, members.get(r.id), applied)
        ]
        alive = self.alive([str(r.id) for r in idle]) if idle else set()
        return [r for r in idle if str(r.id) not in alive]

    def _redispatch_stuck(self) -> list[uuid.UUID]:
        candidates = self._candidates()
        if not candidates:
            return []
        done: list[uuid.UUID] = []
        with self.uow_factory() as uow:
            now = self.clock.now()
            for seen in candidates:
                request = uow.requests.get(seen.id)
                if request is None or (request.status, request.updated_at) != (
                    seen.status,
                    seen.updated_at,
                ):
                    continue  # it moved while we looked: not stuck
                m = uow.memberships.get_for_request(request.id)
                if m is not None and m.authorized and request.status is RequestStatus.PROVISIONING:
                    continue
                last = max(
                    (
                        e.at
                        for e in uow.audit.for_target("request", str(request.id))
                        if e.action == "request.redispatched"
                    ),
                    default=None,
                )
                if last is not None and now - last < self.stuck_after:
                    continue
                topic = _STUCK[request.status]
                uow.outbox.add(
                    OutboxMessage(
                        new_id(),
                        topic,
                        {"request_id": str(request.id)},
                        now,
                        correlation_id=str(request.id),
                    )
                )
                audit(
                    uow,
                    now,
                    "request.redispatched",
                    "request",
                    str(request.id),
                    {
                        "status": request.status.value,
                        "topic": topic,
                        "reason": "no unsent outbox row and no message in the broker",
                        "idle_since": request.updated_at.isoformat(),
                    },
                    actor=RECONCILER,
                )
                done.append(request.id)
            uow.commit()
        for rid in done:
            log.warning(
                "re-dispatched request %s: no message on its way",
                rid,
                extra={"request_id": str(rid)},
            )
        return done

    # ------------------------------------------------------------------ lagging servers

    def _resync_behind(self) -> bool:
        with self.uow_factory() as uow:
            behind = [
                s.name
                for s in uow.route_servers.list()
                if s.applied_generation < s.desired_generation
            ]
            waiting = [
                m for m in uow.memberships.list() if m.authorized and m.config_generation is None
            ]
            # A refused member keeps no generation; only a provisioning one awaits a sync.
            statuses = uow.requests.get_many([m.request_id for m in waiting]) if waiting else {}
            unplanned = any(r.status is RequestStatus.PROVISIONING for r in statuses.values())
        if not behind and not unplanned:
            return False
        log.info(
            "route servers behind (%s) or members unplanned: asking for a sync",
            ", ".join(behind) or "none",
        )
        self.request_sync()
        return True

    # ------------------------------------------------------------------ drift

    def _check_drift(self) -> list[Drift]:
        with self.uow_factory() as uow:
            networks = [n.id for n in uow.networks.list()]
            watched: list[Membership] = []
            for m in uow.memberships.list():
                request = uow.requests.get(m.request_id)
                if m.authorized and request is not None and request.status is RequestStatus.ACTIVE:
                    watched.append(m)
        found: list[Drift] = []
        for network_id in networks:
            mine = [m for m in watched if m.network_id == network_id]
            if not mine:
                continue
            try:
                members = {s.node_id: s for s in self.provider.list_members(network_id)}
            except ProviderError as exc:
                log.warning("reconciler cannot list members of %s: %s", network_id, exc.message)
                continue
            for m in mine:
                seen: tuple[str, ...]
                expected = _addresses([m.ipv4, m.ipv6])
                state = members.get(m.node_id)
                if state is None:
                    problem, seen = "missing", ()
                elif not state.authorized:
                    problem, seen = "deauthorized", _addresses(state.ip_assignments)
                elif _addresses(state.ip_assignments) != expected:
                    problem, seen = "addresses_changed", _addresses(state.ip_assignments)
                else:
                    continue
                found.append(self._handle(m, problem, expected, seen))
        return found

    def _handle(
        self, m: Membership, problem: str, expected: tuple[str, ...], seen: tuple[str, ...]
    ) -> Drift:
        drift = Drift(m.request_id, str(m.node_id), problem, expected, seen)
        key = (m.id, problem, seen)
        repair = self.drift_mode is DriftMode.REPAIR
        if not repair and key in self._reported:
            return drift
        meta = {
            "node_id": str(m.node_id),
            "network_id": str(m.network_id),
            "problem": problem,
            "expected": list(expected),
            "found": list(seen),
            "mode": self.drift_mode.value,
        }
        error = None
        if repair:
            try:
                self.provider.authorize_member(
                    m.network_id, m.node_id, [m.ipv4, m.ipv6], f"AS{m.asn.value}"
                )
                drift = attrs.evolve(drift, repaired=True)
            except ProviderError as exc:
                error = exc.message
        with self.uow_factory() as uow:
            now = self.clock.now()
            audit(
                uow, now, "membership.drift", "request", str(m.request_id), meta, actor=RECONCILER
            )
            if repair:
                audit(
                    uow,
                    now,
                    "membership.repaired" if error is None else "membership.repair_failed",
                    "request",
                    str(m.request_id),
                    {**meta, "error": error},
                    actor=RECONCILER,
                )
            uow.commit()
        self._reported.add(key)
        log.warning(
            "membership drift on request %s: %s (%s)",
            m.request_id,
            problem,
            "repaired" if drift.repaired else self.drift_mode.value,
            extra={"request_id": str(m.request_id)},
        )
        return drift

    # ------------------------------------------------------------------ route servers

    def _check_route_servers(self) -> tuple[str, ...]:
        """Route-server drift; a failure here is logged and never stops the pass."""
        repair = self.drift_mode is DriftMode.REPAIR
        try:
            check = self.check_route_servers(repair)
        except Exception:
            log.exception("route-server drift check failed")
            return ()
        if check is None:
            return ()
        for d in check.found:
            if d.drifted:
                log.warning(
                    "route server %s drifted: %s (%s)",
                    d.server,
                    d.summary(),
                    "repaired" if d.server not in check.still_drifted else self.drift_mode.value,
                    extra={"server": d.server},
                )
        return check.drifted

    def run_forever(self, stop: threading.Event, guard: Callable[[], bool] = lambda: True) -> None:
        """A pass every ``interval_s`` until ``stop``; ``guard()`` False skips a pass (another
        process holds the reconciler lease)."""
        while not stop.wait(self.interval_s):
            try:
                if guard():
                    self.run_once()
            except Exception:
                log.exception("reconciler pass failed; next pass in %.0f s", self.interval_s)
