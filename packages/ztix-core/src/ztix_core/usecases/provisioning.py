"""Provisioning: readiness → IPAM → provider → route-server sync; and deprovisioning.

Idempotent throughout: every step re-reads state, so a run that was killed anywhere can
simply be run again. No unit of work stays open across a call to the provider or the fleet.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager

import attrs

from ztix_core.errors import AddressPoolExhausted, DuplicateRecord, InvalidValue, ProviderError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.max_prefix import check_max_prefix, effective_max_prefix
from ztix_core.memory.events import NoEvents
from ztix_core.notifications import ROUTE_SERVER_APPLY_FAILED, notify
from ztix_core.ports import (
    ApplyOutcome,
    Clock,
    MembershipProvider,
    MemberState,
    NetworkRegistry,
    PeerSpec,
    ProvisioningEvents,
    RequestFilter,
    RouteServerFleet,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ztix_core.records import (
    Actor,
    IpAllocation,
    JoinRequest,
    JsonDict,
    Membership,
    RouteServerState,
    ZtNetwork,
    new_id,
)
from ztix_core.status import RequestStatus
from ztix_core.usecases._common import audit, move
from ztix_core.usecases.members import member_addresses

WORKER = Actor.system("worker")
#: Requests one settling pass reads at most (far above any exchange's members in flight).
_MAX_SETTLING = 100_000
ACTIVE_CONFIG = frozenset(
    {RequestStatus.PROVISIONING, RequestStatus.ACTIVE, RequestStatus.FAILED, RequestStatus.APPROVED}
)


def _holds(member: MemberState, m: Membership) -> bool:
    """True when the controller's member carries the membership's two addresses."""
    held = set()
    for raw in member.ip_assignments:
        try:
            held.add(ipaddress.ip_address(raw))
        except ValueError:
            continue
    return {m.ipv4, m.ipv6} <= held


def peers_digest(peers: Sequence[PeerSpec]) -> str:
    """The digest of a desired member set (``RouteServerState.desired_digest``)."""
    return hashlib.sha256(repr([attrs.astuple(p) for p in peers]).encode()).hexdigest()


def _max_prefix_default(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    try:
        check_max_prefix(attribute.name, value)
    except InvalidValue as exc:  # the settings name the table; the message names the key
        raise InvalidValue(attribute.name, exc.message) from None


@attrs.frozen
class ProvisioningSettings:
    """Knobs of provisioning. ``default_max_prefix_v4/v6`` are the route servers' import
    limits for a member with no limit of its own, no per-ASN override and no PeeringDB
    count: the one default of the max-prefix chain (:mod:`ztix_core.max_prefix`)."""

    #: How IPv6 addresses are chosen: ``sequential`` (the next free) or ``asn_embedded`` (the
    #: ASN written into the address, as many IXPs do).
    ipv6_scheme: Ipv6Scheme = Ipv6Scheme.SEQUENTIAL
    #: IPv4 max-prefix of a member with no limit of its own, no ASN override and no
    #: PeeringDB figure: the last step of the one max-prefix chain (1 to 10,000,000).
    default_max_prefix_v4: int = attrs.field(default=100, validator=_max_prefix_default)
    #: IPv6 max-prefix of a member with no limit of its own, no ASN override and no
    #: PeeringDB figure: the last step of the one max-prefix chain (1 to 10,000,000).
    default_max_prefix_v6: int = attrs.field(default=50, validator=_max_prefix_default)
    #: Deauthorize and delete the ZeroTier member when a member leaves (off: only deauthorize).
    remove_member_on_leave: bool = True
    #: Provision only while the controller passes its readiness checks (off: try anyway).
    readiness_gate: bool = True


@attrs.frozen
class SyncResult:
    """What one route-server sync did."""

    generation: int
    outcomes: tuple[ApplyOutcome, ...]
    activated: tuple[uuid.UUID, ...] = ()
    failed: tuple[uuid.UUID, ...] = ()
    removed: tuple[uuid.UUID, ...] = ()


class Provisioner:
    """Runs provisioning, route-server sync and deprovisioning against the ports.

    ``sync_lock`` serializes syncs (a threading lock by default; workers pass a
    cross-process lock). ``allocation_lock`` serializes address allocation (a threading
    lock by default; workers pass a cross-process lock), so concurrent provisioning does
    not keep picking the same free address and losing on the uniqueness rule. ``events``
    hears of every activation, failure and route-server apply once it is committed (the
    worker counts them for its metrics).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        provider: MembershipProvider,
        fleet: RouteServerFleet,
        registry: NetworkRegistry,
        settings: ProvisioningSettings | None = None,
        sync_lock: Callable[[], AbstractContextManager[object]] | None = None,
        allocation_lock: Callable[[], AbstractContextManager[object]] | None = None,
        events: ProvisioningEvents | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.provider = provider
        self.fleet = fleet
        self.registry = registry
        self.settings = settings or ProvisioningSettings()
        lock = threading.Lock()
        self._sync_lock = sync_lock or (lambda: lock)
        alloc = threading.Lock()
        self._allocation_lock = allocation_lock or (lambda: alloc)
        self.events: ProvisioningEvents = events or NoEvents()

    # ------------------------------------------------------------------ provision

    def provision(
        self, request_id: uuid.UUID, *, final_attempt: bool = True, sync: bool = True
    ) -> RequestStatus | None:
        """Bring an approved request to active (or failed). Returns the status reached,
        or None when the request is not in approved/provisioning (nothing to do).

        A transient provider error is re-raised when ``final_attempt`` is false so the
        caller can retry with backoff; otherwise it fails the request. With ``sync=False``
        it stops after authorizing the member (status stays provisioning) and the caller
        runs one coalesced :meth:`sync_route_servers` for many requests.
        """
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.status not in (
                RequestStatus.APPROVED,
                RequestStatus.PROVISIONING,
            ):
                return None
            if request.status is RequestStatus.APPROVED:
                request = move(uow, self.clock, request, RequestStatus.PROVISIONING, WORKER)
            network = uow.networks.get(request.network_id)
            uow.commit()
        assert network is not None
        if self.settings.readiness_gate:
            report = self.provider.check_readiness([network])
            failure = report.first_failure
            if failure is not None:
                self._fail(
                    request_id,
                    f"readiness gate failed: {failure.name}: {failure.message}",
                    {
                        "stage": "readiness",
                        "check": failure.name,
                        "remediation": failure.remediation,
                    },
                )
                return RequestStatus.FAILED
        try:
            membership = self._ensure_membership(request, network)
        except AddressPoolExhausted as exc:
            self._fail(
                request_id,
                f"addressing: {exc.message}",
                {"stage": "ipam", "remediation": "free addresses or widen the prefix"},
            )
            return RequestStatus.FAILED
        except InvalidValue as exc:  # a fixed address a route server took since approval
            self._fail(
                request_id,
                f"addressing: {exc.message}",
                {"stage": "ipam", "remediation": "set another address, then retry"},
            )
            return RequestStatus.FAILED
        except DuplicateRecord as exc:
            self._fail(
                request_id,
                f"membership: {exc.message}",
                {
                    "stage": "membership",
                    "remediation": "the node is held by another request; leave it first",
                },
            )
            return RequestStatus.FAILED
        if not self.authorize(membership, final_attempt=final_attempt):
            return RequestStatus.FAILED
        with self.uow_factory() as uow:
            current = uow.memberships.get_for_request(request_id)
            reached = uow.requests.get(request_id)
            if current is not None and not current.authorized:
                uow.memberships.update(
                    attrs.evolve(current, authorized=True, updated_at=self.clock.now())
                )
                audit(
                    uow,
                    self.clock.now(),
                    WORKER,
                    "membership.authorized",
                    "request",
                    str(request_id),
                    {
                        "node_id": str(current.node_id),
                        "ipv4": str(current.ipv4),
                        "ipv6": str(current.ipv6),
                    },
                )
            uow.commit()
        if not sync:
            return reached.status if reached else None
        self.sync_route_servers()
        with self.uow_factory() as uow:
            final = uow.requests.get(request_id)
        return final.status if final else None

    def authorize(self, membership: Membership, *, final_attempt: bool = True) -> bool:
        """Authorize the membership's node with its addresses on the controller. False
        when the controller refused: the request is failed (stage ``authorize``, with the
        error's remediation). A transient error is re-raised unless ``final_attempt``."""
        try:
            self._push(membership)
        except ProviderError as exc:
            if exc.transient and not final_attempt:
                raise
            self._fail(
                membership.request_id,
                f"controller: {exc.message}",
                {
                    "stage": "authorize",
                    "kind": exc.kind,
                    "transient": exc.transient,
                    "status": exc.status,
                    "remediation": exc.remediation,
                },
            )
            return False
        return True

    def _push(self, membership: Membership) -> None:
        """Authorize the node on the controller with exactly the membership's addresses."""
        self.provider.authorize_member(
            membership.network_id,
            membership.node_id,
            [membership.ipv4, membership.ipv6],
            f"AS{membership.asn.value}",
        )

    def allocation_lock(self) -> AbstractContextManager[object]:
        """The lock address allocation runs under (see the class docstring)."""
        return self._allocation_lock()

    def _ensure_membership(self, request: JoinRequest, network: ZtNetwork) -> Membership:
        with self._allocation_lock():
            return self._ensure_membership_unlocked(request, network)

    def _ensure_membership_unlocked(self, request: JoinRequest, network: ZtNetwork) -> Membership:
        for _ in range(5):
            try:
                return self._try_membership(request, network)
            except DuplicateRecord as exc:
                if exc.details.get("field") != "address":
                    raise
                continue  # another request took the address meanwhile: pick again
        return self._try_membership(request, network)

    def _try_membership(self, request: JoinRequest, network: ZtNetwork) -> Membership:
        """The request's membership, allocated now unless it exists. ``request`` and
        ``network`` were read when provisioning began: only fields that never change
        (ids, node, ASN, prefixes) are used."""
        with self.uow_factory() as uow:
            existing = uow.memberships.get_for_request(request.id)
            if existing is not None:
                return existing
            reserved = {a for s in self.fleet.servers() for a in (s.ipv4, s.ipv6) if a is not None}
            # an admin's fixed addresses (held since approval), else the next free ones
            pair, fresh = member_addresses(
                uow, request, network, reserved, self.settings.ipv6_scheme
            )
            for addr in fresh:
                uow.allocations.reserve(IpAllocation(network.id, addr, request.id))
            now = self.clock.now()
            membership = Membership(
                new_id(),
                request.id,
                network.id,
                request.node_id,
                request.asn,
                pair.ipv4,
                pair.ipv6,
                now,
                now,
            )
            uow.memberships.add(membership)
            audit(
                uow,
                now,
                WORKER,
                "membership.allocated",
                "request",
                str(request.id),
                {"ipv4": str(pair.ipv4), "ipv6": str(pair.ipv6)},
            )
            uow.commit()
            return membership

    def _fail(self, request_id: uuid.UUID, error: str, metadata: JsonDict) -> None:
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.status is not RequestStatus.PROVISIONING:
                return
            self._fail_in(uow, request, error, metadata)
            uow.commit()
        self.events.request_failed(request, str(metadata.get("stage", "")))

    def update_member(
        self, request_id: uuid.UUID, *, final_attempt: bool = True, sync: bool = True
    ) -> bool:
        """Carry a member's changed addresses (``update_member``) to the controller: when
        its membership is authorized, authorize the node again with the membership's
        addresses (the provider replaces its IP assignments), audited as
        ``membership.readdressed``; then sync the route servers. A member not authorized
        yet needs nothing: provisioning authorizes it with the current addresses. A
        transient provider error is re-raised unless ``final_attempt``; any other is
        audited (``membership.readdress_failed``) and left to the reconciler. Returns
        True when the controller holds the new addresses."""
        with self.uow_factory() as uow:
            membership = uow.memberships.get_for_request(request_id)
            request = uow.requests.get(request_id)
        if membership is None or request is None or not membership.authorized:
            return False
        if request.status not in ACTIVE_CONFIG:
            return False
        try:
            self._push(membership)
        except ProviderError as exc:
            if exc.transient and not final_attempt:
                raise
            with self.uow_factory() as uow:
                audit(
                    uow,
                    self.clock.now(),
                    WORKER,
                    "membership.readdress_failed",
                    "request",
                    str(request_id),
                    {"kind": exc.kind, "message": exc.message, "remediation": exc.remediation},
                )
                uow.commit()
            return False
        with self.uow_factory() as uow:
            audit(
                uow,
                self.clock.now(),
                WORKER,
                "membership.readdressed",
                "request",
                str(request_id),
                {"ipv4": str(membership.ipv4), "ipv6": str(membership.ipv6)},
            )
            uow.commit()
        if sync:
            self.sync_route_servers()
        return True

    # ------------------------------------------------------------------ route servers

    @staticmethod
    def _memberships_with_requests(uow: UnitOfWork) -> list[tuple[Membership, JoinRequest]]:
        """Every membership with its request, in two queries whatever the member count."""
        memberships = uow.memberships.list()
        requests = uow.requests.get_many([m.request_id for m in memberships])
        return [(m, requests[m.request_id]) for m in memberships if m.request_id in requests]

    @staticmethod
    def _members_in(
        uow: UnitOfWork, statuses: Collection[RequestStatus]
    ) -> list[tuple[Membership, JoinRequest]]:
        """The memberships whose request is in ``statuses``, with it: settling reads the
        few requests on their way, not every member."""
        requests = uow.requests.query(
            RequestFilter(statuses=frozenset(statuses), limit=_MAX_SETTLING)
        )
        held = uow.memberships.get_for_requests([r.id for r in requests]) if requests else {}
        pairs = [(m, r) for r in requests if (m := held.get(r.id))]
        return sorted(pairs, key=lambda pair: (pair[0].network_id, pair[0].node_id))

    def desired_peers(self, uow: UnitOfWork) -> list[tuple[Membership, PeerSpec]]:
        """Members every route server should have: authorized, not leaving."""
        return self._desired(uow, self._memberships_with_requests(uow))

    def _desired(
        self, uow: UnitOfWork, pairs: Sequence[tuple[Membership, JoinRequest]]
    ) -> list[tuple[Membership, PeerSpec]]:
        """Each member's max-prefix and name come from its own settings, the admins'
        per-ASN overrides and the PeeringDB cache (three queries, whatever the member
        count): rendering never waits on PeeringDB, and the refresh requests a sync when a
        cached value changes."""
        live = [
            (m, request) for m, request in pairs if m.authorized and request.status in ACTIVE_CONFIG
        ]
        asns = {m.asn for m, _ in live}
        cached = uow.network_facts.get_many(asns) if asns else {}
        overrides = uow.network_facts.overrides(asns) if asns else {}
        own = uow.member_facts.get_many([m.request_id for m, _ in live]) if live else {}
        out = []
        for m, _ in live:
            entry = cached.get(m.asn)
            mine = own.get(m.request_id)
            limit = effective_max_prefix(
                entry,
                overrides.get(m.asn),
                self.settings.default_max_prefix_v4,
                self.settings.default_max_prefix_v6,
                mine,
            )
            facts = entry.facts if entry else None
            name = (mine.display_name if mine else None) or (facts.name if facts else None)
            out.append(
                (
                    m,
                    PeerSpec(
                        m.asn,
                        m.ipv4,
                        m.ipv6,
                        limit.v4,
                        limit.v6,
                        name or f"AS{m.asn.value}",
                        m.network_id,
                    ),
                )
            )
        out.sort(key=lambda pair: (pair[1].asn, pair[1].network_id))
        return out

    def sync_route_servers(
        self, *, force: bool = False, servers: Collection[str] = ()
    ) -> SyncResult:
        """Render the desired state from all members and apply it where a server is behind
        (every server when ``force``, and the ``servers`` named, which the drift check uses
        to repair a server whose files or daemon drifted); then settle requests waiting on
        the servers."""
        with self._sync_lock():
            generation, peers, behind = self._plan_generation(force, servers)
            outcomes: list[ApplyOutcome] = []
            if behind:
                outcomes = self.fleet.apply(peers, behind)
                self._record_outcomes(generation, outcomes)
            activated, failed, removed = self.settle()
            recovered = self.settle_recovered()
            return SyncResult(generation, tuple(outcomes), activated + recovered, failed, removed)

    def repair_route_servers(self, servers: Collection[str]) -> SyncResult:
        """Run one sync now that applies to ``servers`` even when they are not behind: the
        ordinary safe apply under the sync lock, which re-uploads whatever differs on
        them and reconfigures their daemons (the drift check's repair). This is the
        core's own sync even where a subclass coalesces :meth:`sync_route_servers`."""
        return Provisioner.sync_route_servers(self, servers=servers)

    def desired_state(self, uow: UnitOfWork) -> tuple[list[PeerSpec], str]:
        """The members every route server should configure now (the refused ones left
        out) and their digest, as the next sync would plan them. Hold the sync lock
        (:meth:`sync_lock`) to compare them with what the servers applied."""
        desired, _ = self._isolate(self._desired(uow, self._memberships_with_requests(uow)))
        peers = [p for _, p in desired]
        return peers, peers_digest(peers)

    def sync_lock(self) -> AbstractContextManager[object]:
        """The lock every sync holds (one sync at a time, across processes in the worker)."""
        return self._sync_lock()

    def _plan_generation(
        self, force: bool, servers: Collection[str] = ()
    ) -> tuple[int, list[PeerSpec], list[str]]:
        names = [s.name for s in self.fleet.servers()]
        with self.uow_factory() as uow:
            pairs = self._memberships_with_requests(uow)
            desired, refused = self._isolate(self._desired(uow, pairs))
            peers = [p for _, p in desired]
            digest = peers_digest(peers)
            states = {n: uow.route_servers.get(n) or RouteServerState(n) for n in names}
            generation = max((s.desired_generation for s in states.values()), default=0)
            changed = any(s.desired_digest != digest for s in states.values())
            if changed:
                generation += 1
                for name, state in states.items():
                    states[name] = attrs.evolve(
                        state, desired_generation=generation, desired_digest=digest
                    )
                    uow.route_servers.put(states[name])
            requests = {m.id: request for m, request in pairs}
            failed = [
                requests[m.id]
                for m, reason in refused
                if self._refuse(uow, m, requests[m.id], reason, generation, announce=changed)
            ]
            included = {m.id for m, _ in desired}
            for m, _ in desired:
                if m.config_generation is None:
                    uow.memberships.update(attrs.evolve(m, config_generation=generation))
            for m, request in pairs:
                if (
                    m.id not in included
                    and m.removal_generation is None
                    and request.status is RequestStatus.DEPROVISIONING
                ):
                    uow.memberships.update(attrs.evolve(m, removal_generation=generation))
            uow.commit()
        for request in failed:
            self.events.request_failed(request, "route_server_config")
        behind = [
            n
            for n, s in states.items()
            if force or n in servers or s.applied_generation < generation
        ]
        return generation, peers, behind

    def _fail_in(
        self, uow: UnitOfWork, request: JoinRequest, error: str, metadata: JsonDict
    ) -> None:
        """provisioning → failed in ``uow``: ``error`` becomes last_error, the retry count
        grows, the audit event carries the error and ``metadata``."""
        move(
            uow,
            self.clock,
            request,
            RequestStatus.FAILED,
            WORKER,
            {"error": error, **metadata},
            last_error=error,
            retry_count=request.retry_count + 1,
        )

    def _isolate(
        self, desired: list[tuple[Membership, PeerSpec]]
    ) -> tuple[list[tuple[Membership, PeerSpec]], list[tuple[Membership, str]]]:
        """Split off the members the fleet cannot configure, so that one member's bad data
        never fails the others' generation."""
        refused = self.fleet.refused_peers([p for _, p in desired])
        if not refused:
            return desired, []
        kept = [pair for i, pair in enumerate(desired) if i not in refused]
        return kept, [(desired[i][0], reason) for i, reason in sorted(refused.items())]

    def _refuse(
        self,
        uow: UnitOfWork,
        m: Membership,
        request: JoinRequest,
        reason: str,
        generation: int,
        *,
        announce: bool,
    ) -> bool:
        """A provisioning request whose member the route servers refuse fails with the
        reason (True); any other holder (active, failed) is left out of the config and
        audited each time the desired state changes."""
        meta: JsonDict = {
            "stage": "route_server_config",
            "generation": generation,
            "remediation": "correct the member's data (or the route-server policy), then "
            "retry the request; the other members are configured without it",
        }
        if request.status is RequestStatus.PROVISIONING:
            self._fail_in(uow, request, f"route servers refuse this member: {reason}", meta)
            return True
        if announce:
            audit(
                uow,
                self.clock.now(),
                WORKER,
                "route_server.member_refused",
                "request",
                str(request.id),
                {**meta, "status": request.status.value},
            )
        return False

    def _record_outcomes(self, generation: int, outcomes: Sequence[ApplyOutcome]) -> None:
        with self.uow_factory() as uow:
            now = self.clock.now()
            for out in outcomes:
                state = uow.route_servers.get(out.server) or RouteServerState(out.server)
                if not out.ok and not state.last_error:
                    # told once per outage: when a server that last applied fails
                    notify(
                        uow,
                        now,
                        ROUTE_SERVER_APPLY_FAILED,
                        {
                            "server": out.server,
                            "generation": generation,
                            "stage": out.stage,
                            "message": out.message,
                            "transient": out.transient,
                        },
                    )
                attempted = max(state.attempted_generation, generation)
                if out.ok:
                    state = attrs.evolve(
                        state,
                        applied_generation=max(state.applied_generation, generation),
                        applied_digest=out.digest,
                        attempted_generation=attempted,
                        last_error=None,
                        last_attempt_at=now,
                        last_applied_at=now,
                    )
                else:
                    state = attrs.evolve(
                        state,
                        attempted_generation=attempted,
                        last_error=f"{out.stage}: {out.message}",
                        last_attempt_at=now,
                    )
                uow.route_servers.put(state)
                for attempt, message in enumerate(out.retried, start=1):
                    audit(
                        uow,
                        now,
                        WORKER,
                        "route_server.retried",
                        "route_server",
                        out.server,
                        {"generation": generation, "attempt": attempt, "message": message},
                    )
                audit(
                    uow,
                    now,
                    WORKER,
                    f"route_server.{out.result}",
                    "route_server",
                    out.server,
                    {
                        "generation": generation,
                        "stage": out.stage,
                        "message": out.message,
                        "duration_s": round(out.duration_s, 3),
                        "digest": out.digest,
                        "transient": out.transient,
                        "retries": len(out.retried),
                    },
                )
            uow.commit()
        for out in outcomes:
            self.events.route_server_applied(out)

    def settle(self) -> tuple[tuple[uuid.UUID, ...], tuple[uuid.UUID, ...], tuple[uuid.UUID, ...]]:
        """Move provisioning requests to active when every server has applied a generation
        that includes them, or to failed naming the servers that failed; finish leaving
        members once every server has applied a generation without them."""
        names = [s.name for s in self.fleet.servers()]
        activated: list[JoinRequest] = []
        failed: list[JoinRequest] = []
        leaving: list[uuid.UUID] = []
        with self.uow_factory() as uow:
            states = [uow.route_servers.get(n) or RouteServerState(n) for n in names]
            now = self.clock.now()
            settling = (RequestStatus.PROVISIONING, RequestStatus.DEPROVISIONING)
            for m, request in self._members_in(uow, settling):
                if (
                    request.status is RequestStatus.PROVISIONING
                    and m.authorized
                    and m.config_generation is not None
                ):
                    gen = m.config_generation
                    if all(s.applied_generation >= gen for s in states):
                        move(
                            uow,
                            self.clock,
                            request,
                            RequestStatus.ACTIVE,
                            WORKER,
                            {"generation": gen, "servers": names},
                            provisioned_at=now,
                            last_error=None,
                        )
                        activated.append(request)
                        continue
                    broken = [
                        s
                        for s in states
                        if s.applied_generation < gen
                        and s.last_error
                        and s.attempted_generation >= gen
                    ]
                    if broken:
                        error = "; ".join(f"route server {s.name}: {s.last_error}" for s in broken)
                        self._fail_in(
                            uow,
                            request,
                            error,
                            {
                                "stage": "route_server",
                                "servers": [s.name for s in broken],
                                "generation": gen,
                            },
                        )
                        failed.append(request)
                elif (
                    request.status is RequestStatus.DEPROVISIONING
                    and m.removal_generation is not None
                    and all(s.applied_generation >= m.removal_generation for s in states)
                ):
                    leaving.append(request.id)
            uow.commit()
        for request in activated:
            self.events.request_activated(request, now)
        for request in failed:
            self.events.request_failed(request, "route_server")
        removed = tuple(rid for rid in leaving if self._finish_leave(rid))
        return tuple(r.id for r in activated), tuple(r.id for r in failed), removed

    def settle_recovered(self) -> tuple[uuid.UUID, ...]:
        """Move failed requests to active when the evidence says they are configured after
        all: every server has applied a generation that includes the member, and the
        controller has it authorized with its addresses (a request that failed on a
        route-server fault which later passed). Audited with the reason; a failed request
        without that evidence stays failed."""
        names = [s.name for s in self.fleet.servers()]
        with self.uow_factory() as uow:
            states = [uow.route_servers.get(n) or RouteServerState(n) for n in names]
            candidates = [
                m
                for m, request in self._members_in(uow, (RequestStatus.FAILED,))
                if request.status is RequestStatus.FAILED
                and m.authorized
                and m.config_generation is not None
                and all(s.applied_generation >= m.config_generation for s in states)
            ]
        confirmed: list[tuple[Membership, MemberState]] = []
        for m in candidates:
            try:
                member = self.provider.read_member(m.network_id, m.node_id)
            except ProviderError:
                continue
            if member is not None and member.authorized and _holds(member, m):
                confirmed.append((m, member))
        if not confirmed:
            return ()
        settled: list[JoinRequest] = []
        with self.uow_factory() as uow:
            now = self.clock.now()
            for m, member in confirmed:
                request = uow.requests.get(m.request_id)
                if request is None or request.status is not RequestStatus.FAILED:
                    continue
                move(
                    uow,
                    self.clock,
                    request,
                    RequestStatus.ACTIVE,
                    WORKER,
                    {
                        "reason": "every route server applied a generation that includes "
                        "the member and the controller has it authorized",
                        "generation": m.config_generation,
                        "servers": names,
                        "ip_assignments": list(member.ip_assignments),
                        "failed_with": request.last_error,
                    },
                    provisioned_at=request.provisioned_at or now,
                    last_error=None,
                )
                settled.append(request)
            uow.commit()
        for request in settled:
            self.events.request_activated(request, now)
        return tuple(r.id for r in settled)

    # ------------------------------------------------------------------ deprovision

    def deprovision(self, request_id: uuid.UUID) -> RequestStatus | None:
        """Take a leaving member off every route server, then off the controller, then
        release its addresses and mark the request removed. Idempotent."""
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.status is not RequestStatus.DEPROVISIONING:
                return request.status if request else None
            has_membership = uow.memberships.get_for_request(request_id) is not None
        if has_membership:
            self.sync_route_servers()
        else:
            self._finish_leave(request_id)
        with self.uow_factory() as uow:
            final = uow.requests.get(request_id)
        return final.status if final else None

    def _finish_leave(self, request_id: uuid.UUID) -> bool:
        with self.uow_factory() as uow:
            membership = uow.memberships.get_for_request(request_id)
        if membership is not None:
            try:
                self.provider.deauthorize_member(membership.network_id, membership.node_id)
                if self.settings.remove_member_on_leave:
                    self.provider.remove_member(membership.network_id, membership.node_id)
            except ProviderError as exc:
                with self.uow_factory() as uow:
                    request = uow.requests.get(request_id)
                    if request is not None and request.status is RequestStatus.DEPROVISIONING:
                        uow.requests.update(
                            attrs.evolve(request, last_error=exc.message),
                            expected_status=RequestStatus.DEPROVISIONING,
                        )
                        audit(
                            uow,
                            self.clock.now(),
                            WORKER,
                            "membership.deauthorize_failed",
                            "request",
                            str(request_id),
                            {"kind": exc.kind, "message": exc.message},
                        )
                        uow.commit()
                return False
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.status is not RequestStatus.DEPROVISIONING:
                return False
            current = uow.memberships.get_for_request(request_id)
            freed = uow.allocations.release_for_request(request_id)
            if current is not None:
                uow.memberships.delete(current.id)
                audit(
                    uow,
                    self.clock.now(),
                    WORKER,
                    "membership.removed",
                    "request",
                    str(request_id),
                    {"node_id": str(current.node_id), "released": freed},
                )
            move(uow, self.clock, request, RequestStatus.REMOVED, WORKER, last_error=None)
            uow.commit()
        return True
