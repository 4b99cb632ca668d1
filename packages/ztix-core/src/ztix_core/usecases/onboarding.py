"""Importing many members at once: an exchange moving its existing members onto ztix.

:meth:`MemberImport.run` files, approves and provisions a list of members (owner, ASN,
node; optionally the peering-LAN addresses they keep and a display name) on one network,
as an admin. It does what :class:`~ztix_core.usecases.requests.RequestWorkflow` (submit,
approve), :class:`~ztix_core.usecases.members.MemberSettings` (fixed addresses, display
name) and :meth:`~ztix_core.usecases.provisioning.Provisioner.provision` do one member at a
time, with the same rules, records and audit trail, but a chunk of members at a time:

1. every entry is checked on its own (ASN that may join, node id, notes, addresses inside
   the network's prefixes and not a route server's, display name) and against the others
   (an ASN, a node or an address named twice);
2. one unit of work asks storage about the whole chunk (links, network access, requests
   holding an ASN or node, addresses held) and, for the entries with nothing against them,
   writes every row at once: requests (``provisioning``, decided by the admin), their
   addresses, memberships, settings, audit events (submitted, approved, provisioning,
   allocated: the single path's) and the notification intents. No provisioning message
   goes to the outbox (a worker would only authorize the members again): if the import is
   interrupted, the worker's reconciler finds the requests it left in ``provisioning``
   with nothing moving them and provisions them;
3. each member is authorized on the controller (no unit of work is open meanwhile), then
   one unit of work marks them authorized. A member the controller refuses fails, as on
   the single path; when the controller stops answering (a transient error), that member
   and the rest of the chunk stay in ``provisioning`` for the worker's reconciler, and
   the next chunk's readiness check decides whether the import goes on;
4. one route-server sync at the end turns them active.

An entry that something stands against (a held node, an unlinked ASN, a live request…)
takes the one-member path, which refuses it with the same error a single submission gets;
if the chunk's write is refused anyway (someone else took an address or a node meanwhile),
the chunk's entries all take that path. A refused entry writes nothing; one refused after
its request was filed (the controller refused the member) leaves that request failed, with
the error, as a single request would be.

The import does not ask PeeringDB while it runs (thousands of lookups would wait on the
registry's rate limit): the registry refresh fills in the members' facts afterwards, and a
changed max-prefix then syncs the route servers again.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Iterable, Sequence

import attrs

from ztix_core.asns import join_refusal
from ztix_core.errors import (
    Conflict,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
    ProviderError,
    ZtixError,
)
from ztix_core.ipam import IPAddress, allocate_ipv4, allocate_ipv6
from ztix_core.member_facts import check_display_name, check_fixed_address
from ztix_core.notifications import REQUEST_SUBMITTED
from ztix_core.notify_ports import NotificationIntent
from ztix_core.onboarding_ports import OnboardingBatch
from ztix_core.ports import UnitOfWork
from ztix_core.records import (
    Actor,
    AuditEvent,
    IpAllocation,
    JoinRequest,
    JsonDict,
    MemberFacts,
    Membership,
    OutboxMessage,
    RouteServer,
    ZtNetwork,
    new_id,
)
from ztix_core.status import RequestStatus
from ztix_core.usecases._common import TOPIC_SYNC, request_facts
from ztix_core.usecases.members import KEEP, MemberSettings
from ztix_core.usecases.provisioning import WORKER, Provisioner
from ztix_core.usecases.requests import (
    HOLDING_STATUSES,
    MAX_NOTES,
    RequestWorkflow,
    check_text,
)
from ztix_core.values import Asn, NetworkId, NodeId

#: Members one unit of work takes at most.
DEFAULT_CHUNK = 500


@attrs.frozen
class ImportEntry:
    """One member to import: the account that owns it (its ASN must be linked to it), the
    ASN, the ZeroTier node; optionally the addresses it keeps (else the next free ones)
    and the display name the route servers show. Values are checked by the import."""

    user_id: uuid.UUID
    asn: object
    node_id: object
    notes: str = ""
    ipv4: object | None = None
    ipv6: object | None = None
    display_name: str | None = None


@attrs.frozen
class ImportOutcome:
    """What became of one entry (``index``: its position in the list): the request filed
    for it and the status it reached, or why it was refused (nothing written)."""

    index: int
    asn: str
    node_id: str
    request_id: uuid.UUID | None = None
    status: RequestStatus | None = None
    error: str | None = None


@attrs.frozen
class ImportReport:
    """Every entry's outcome, in the list's order; ``bulk`` counts the entries that took
    the chunk-wise path (the rest took the one-member path)."""

    outcomes: tuple[ImportOutcome, ...]
    bulk: int = 0

    @property
    def imported(self) -> list[ImportOutcome]:
        return [o for o in self.outcomes if o.error is None]

    @property
    def refused(self) -> list[ImportOutcome]:
        return [o for o in self.outcomes if o.error is not None]


@attrs.frozen
class _Checked:
    """An entry that passed the checks that need no storage."""

    index: int
    entry: ImportEntry
    asn: Asn
    node: NodeId
    ipv4: ipaddress.IPv4Address | None
    ipv6: ipaddress.IPv6Address | None
    display_name: str | None


class _ChunkBook:
    """The addresses in use while a chunk is allocated: those held before it, the route
    servers', and the chunk's own as they are taken. Only ever grows, so each range's
    lowest free address is found from where the last search stopped."""

    def __init__(self, held: Iterable[IPAddress]) -> None:
        self._held: dict[int, set[int]] = {4: set(), 6: set()}
        self._from: dict[tuple[int, int, int], int] = {}
        for addr in held:
            self.take(addr)

    def take(self, addr: IPAddress) -> None:
        self._held[addr.version].add(int(addr))

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        held, lo, hi = self._held[first.version], int(first), int(last)
        key = (first.version, lo, hi)
        candidate = self._from.get(key, lo)
        while candidate <= hi and candidate in held:
            candidate += 1
        self._from[key] = candidate
        if candidate > hi:
            return None
        return (
            ipaddress.IPv4Address(candidate)
            if first.version == 4
            else ipaddress.IPv6Address(candidate)
        )

    def in_use_among(self, candidates: Sequence[IPAddress]) -> set[IPAddress]:
        return {c for c in candidates if int(c) in self._held[c.version]}


class MemberImport:
    """Files, approves and provisions many members at once (see the module docstring)."""

    def __init__(
        self,
        workflow: RequestWorkflow,
        members: MemberSettings,
        provisioner: Provisioner,
        *,
        chunk: int = DEFAULT_CHUNK,
    ) -> None:
        if chunk < 1:
            raise InvalidValue("chunk", "must be at least 1")
        self.workflow = workflow
        self.members = members
        self.provisioner = provisioner
        self.uow_factory = provisioner.uow_factory
        self.clock = provisioner.clock
        self.chunk = chunk

    def run(
        self,
        actor: Actor,
        network_id: object,
        entries: Sequence[ImportEntry],
        *,
        sync: bool = True,
    ) -> ImportReport:
        """Import ``entries`` onto ``network_id`` as ``actor`` (an admin).

        Refuses the whole import, writing nothing, when the actor is not an admin, the
        network is not an exchange network or the controller is not ready; otherwise
        returns each entry's outcome. The controller is asked again before each later
        chunk: when it stops being ready, the rest are not imported and say so. With
        ``sync`` (the default) the route servers are synced once at the end, which turns
        the authorized members active; without it the import asks the worker for that
        sync (an outbox message), as a caller that does not hold the worker's sync lock
        must (the CLI).
        """
        if not actor.is_admin:
            raise PermissionDenied("only an admin may import members")
        net = network_id if isinstance(network_id, NetworkId) else NetworkId(network_id)
        with self.uow_factory() as uow:
            network = uow.networks.get(net)
        if network is None or network.retired:
            raise NotFound(f"network {net} is not an exchange network")
        servers = tuple(self.provisioner.fleet.servers())
        outcomes: dict[int, ImportOutcome] = {}
        checked = self._check_entries(entries, network, servers, outcomes)
        bulk = 0
        self._require_ready(network)
        for start in range(0, len(checked), self.chunk):
            part = checked[start : start + self.chunk]
            if start:
                try:
                    self._require_ready(network)
                except ZtixError as exc:  # stop here; what was imported stays
                    for item in checked[start:]:
                        outcomes[item.index] = ImportOutcome(
                            item.index,
                            str(item.asn),
                            item.node.value,
                            error=f"not imported: {exc.message}",
                        )
                    break
            bulk += self._import_chunk(actor, network, servers, part, outcomes)
        if any(o.request_id is not None for o in outcomes.values()):
            if sync:
                self.provisioner.sync_route_servers()
            else:
                self._ask_for_sync()
        return ImportReport(self._final(outcomes, len(entries)), bulk)

    def _ask_for_sync(self) -> None:
        now = self.clock.now()
        with self.uow_factory() as uow:
            uow.outbox.add(
                OutboxMessage(new_id(), TOPIC_SYNC, {}, now, correlation_id="member-import")
            )
            uow.commit()

    # ------------------------------------------------------------------ checks

    def _check_entries(
        self,
        entries: Sequence[ImportEntry],
        network: ZtNetwork,
        servers: Sequence[RouteServer],
        outcomes: dict[int, ImportOutcome],
    ) -> list[_Checked]:
        """The entries that pass every check needing no storage; the others' outcomes."""
        seen: set[object] = set()
        checked = []
        for index, entry in enumerate(entries):
            try:
                item = self._check_entry(index, entry, network, servers)
                for key, what in (
                    (("asn", item.asn), f"{item.asn}"),
                    (("node", item.node), f"node {item.node}"),
                    (("addr", item.ipv4), f"address {item.ipv4}"),
                    (("addr", item.ipv6), f"address {item.ipv6}"),
                ):
                    if key[1] is None:
                        continue
                    if key in seen:
                        raise Conflict(f"{what} appears twice in this import")
                seen.update((("asn", item.asn), ("node", item.node)))
                seen.update(("addr", a) for a in (item.ipv4, item.ipv6) if a is not None)
            except ZtixError as exc:
                outcomes[index] = ImportOutcome(
                    index, _asn_label(entry.asn), str(entry.node_id), error=exc.message
                )
                continue
            checked.append(item)
        return checked

    def _check_entry(
        self,
        index: int,
        entry: ImportEntry,
        network: ZtNetwork,
        servers: Sequence[RouteServer],
    ) -> _Checked:
        asn = Asn.parse(entry.asn)
        refusal = join_refusal(
            asn.value, allow_documentation=self.workflow.allow_documentation_asns
        )
        if refusal is not None:
            raise NotEligible(refusal, asn=asn.value)
        node = entry.node_id if isinstance(entry.node_id, NodeId) else NodeId(entry.node_id)
        if len(entry.notes) > MAX_NOTES:
            raise InvalidValue("notes", f"at most {MAX_NOTES} characters")
        check_text("notes", entry.notes)
        nothing: frozenset[IPAddress] = frozenset()
        v4 = check_fixed_address(4, entry.ipv4, network, servers, nothing) if entry.ipv4 else None
        v6 = check_fixed_address(6, entry.ipv6, network, servers, nothing) if entry.ipv6 else None
        assert v4 is None or isinstance(v4, ipaddress.IPv4Address)
        assert v6 is None or isinstance(v6, ipaddress.IPv6Address)
        return _Checked(index, entry, asn, node, v4, v6, check_display_name(entry.display_name))

    def _require_ready(self, network: ZtNetwork) -> None:
        if not self.provisioner.settings.readiness_gate:
            return
        failure = self.provisioner.provider.check_readiness([network]).first_failure
        if failure is not None:
            raise ZtixError(
                f"the controller is not ready ({failure.name}: {failure.message}); "
                f"{failure.remediation}".rstrip("; ")
            )

    # ------------------------------------------------------------------ one chunk

    def _import_chunk(
        self,
        actor: Actor,
        network: ZtNetwork,
        servers: Sequence[RouteServer],
        part: Sequence[_Checked],
        outcomes: dict[int, ImportOutcome],
    ) -> int:
        """Import one chunk; returns how many took the chunk-wise path."""
        with self.provisioner.allocation_lock(), self.uow_factory() as uow:
            clear, stand_against = self._sort_out(uow, network, part)
            try:
                batch, made = self._rows(uow, actor, network, servers, clear)
                uow.onboarding.store(batch)
                uow.commit()
            except ZtixError:  # a race lost, or no address left: each entry on its own
                uow.rollback()
                clear, stand_against, made = [], list(part), {}
        for item in stand_against:
            outcomes[item.index] = self._one_by_one(actor, network, item)
        authorized: list[Membership] = []
        waiting: dict[int, str] = {}
        for item in clear:
            membership = made[item.index]
            if waiting:  # the controller stopped answering: leave the rest to the worker
                waiting[item.index] = next(iter(waiting.values()))
                continue
            try:
                if self.provisioner.authorize(membership, final_attempt=False):
                    authorized.append(membership)
            except ProviderError as exc:  # transient: not a reason to fail the member
                waiting[item.index] = (
                    f"the controller did not answer ({exc.message}); the request stays in "
                    "provisioning and the worker's reconciler provisions it"
                )
        if authorized:
            now = self.clock.now()
            with self.uow_factory() as uow:
                # a worker's reconciler may have got to some first
                changed = uow.onboarding.mark_authorized([m.request_id for m in authorized], now)
                events = [_authorized_event(m, now) for m in authorized if m.request_id in changed]
                uow.onboarding.store(OnboardingBatch(audit=tuple(events)))
                uow.commit()
        for item in clear:
            membership = made[item.index]
            outcomes[item.index] = ImportOutcome(
                item.index,
                str(item.asn),
                item.node.value,
                membership.request_id,
                error=waiting.get(item.index),
            )
        return len(clear)

    def _sort_out(
        self, uow: UnitOfWork, network: ZtNetwork, part: Sequence[_Checked]
    ) -> tuple[list[_Checked], list[_Checked]]:
        """The chunk's entries with nothing against them, and the others."""
        store = uow.onboarding
        linked = store.linked([(i.entry.user_id, i.asn) for i in part])
        access = store.network_access({i.entry.user_id for i in part})
        holders = store.requests_on(
            network.id, HOLDING_STATUSES, [i.asn for i in part], [i.node for i in part]
        )
        busy_asns = {r.asn for r in holders}
        busy_nodes = {r.node_id for r in holders}
        fixed = [a for i in part for a in (i.ipv4, i.ipv6) if a is not None]
        held = uow.allocations.held_among(network.id, fixed) if fixed else set()
        clear, against = [], []
        for item in part:
            allowed = access.get(item.entry.user_id)
            if (
                (item.entry.user_id, item.asn) not in linked
                or (allowed is not None and network.id not in allowed)
                or item.asn in busy_asns
                or item.node in busy_nodes
                or item.ipv4 in held
                or item.ipv6 in held
            ):
                against.append(item)
            else:
                clear.append(item)
        return clear, against

    def _rows(
        self,
        uow: UnitOfWork,
        actor: Actor,
        network: ZtNetwork,
        servers: Sequence[RouteServer],
        clear: Sequence[_Checked],
    ) -> tuple[OnboardingBatch, dict[int, Membership]]:
        """Every row the chunk's clear entries add, with each entry's membership."""
        if not clear:
            return OnboardingBatch(), {}
        held = uow.allocations.for_network(network.id)
        reserved = {a for s in servers for a in (s.ipv4, s.ipv6) if a is not None}
        book = _ChunkBook([*held, *reserved])
        for item in clear:
            for addr in (item.ipv4, item.ipv6):
                if addr is not None:
                    book.take(addr)
        now = self.clock.now()
        scheme = self.provisioner.settings.ipv6_scheme
        rows: dict[str, list[object]] = {k: [] for k in attrs.fields_dict(OnboardingBatch)}
        made: dict[int, Membership] = {}
        for item in clear:
            ipv4 = item.ipv4 or allocate_ipv4(network.ipv4_prefix, book)
            book.take(ipv4)
            ipv6 = item.ipv6 or allocate_ipv6(network.ipv6_prefix, book, item.asn, scheme)
            book.take(ipv6)
            assert isinstance(ipv4, ipaddress.IPv4Address)
            assert isinstance(ipv6, ipaddress.IPv6Address)
            request = JoinRequest(
                new_id(),
                item.entry.user_id,
                item.asn,
                network.id,
                item.node,
                RequestStatus.PROVISIONING,
                now,
                now,
                notes=item.entry.notes,
                decided_at=now,
                decided_by=str(actor),
            )
            membership = Membership(
                new_id(), request.id, network.id, item.node, item.asn, ipv4, ipv6, now, now
            )
            made[item.index] = membership
            rows["requests"].append(request)
            rows["allocations"] += [
                IpAllocation(network.id, ipv4, request.id),
                IpAllocation(network.id, ipv6, request.id),
            ]
            rows["memberships"].append(membership)
            fixed = {k: v for k, v in (("ipv4", item.ipv4), ("ipv6", item.ipv6)) if v}
            if fixed or item.display_name:
                rows["member_facts"].append(
                    MemberFacts(
                        request.id,
                        display_name=item.display_name,
                        ipv4=item.ipv4,
                        ipv6=item.ipv6,
                        updated_at=now,
                        updated_by=str(actor),
                    )
                )
            rows["audit"] += _request_events(actor, request, membership, fixed, item)
            pending = attrs.evolve(request, status=RequestStatus.PENDING)
            approved = attrs.evolve(request, status=RequestStatus.APPROVED)
            rows["notifications"] += [
                NotificationIntent(
                    new_id(),
                    REQUEST_SUBMITTED,
                    {**request_facts(pending), "notes": item.entry.notes},
                    now,
                ),
                NotificationIntent(new_id(), "request.approved", request_facts(approved), now),
            ]
        batch = OnboardingBatch(**{k: tuple(v) for k, v in rows.items()})  # type: ignore[arg-type]
        return batch, made

    def _one_by_one(self, actor: Actor, network: ZtNetwork, item: _Checked) -> ImportOutcome:
        """The one-member path: the same use cases as a single submission and approval,
        so a refusal reads the same; anything it wrote before a refusal stays, as it would
        for a person doing it by hand (a refused submission writes nothing)."""
        entry = item.entry
        outcome = ImportOutcome(item.index, str(item.asn), item.node.value)
        try:
            request = self.workflow.submit(
                entry.user_id, item.asn, network.id, item.node, entry.notes
            )
        except ZtixError as exc:
            return attrs.evolve(outcome, error=exc.message)
        outcome = attrs.evolve(outcome, request_id=request.id, status=request.status)
        try:
            if request.status is RequestStatus.REJECTED:  # an automatic approval policy
                reason = request.reject_reason or "rejected"
                return attrs.evolve(outcome, error=f"rejected by the approval policy: {reason}")
            if request.status is RequestStatus.PENDING:
                request = self.members.approve(actor, request.id, ipv4=item.ipv4, ipv6=item.ipv6)
            elif item.ipv4 is not None or item.ipv6 is not None:  # the policy approved it
                self.members.set(
                    actor,
                    request.id,
                    ipv4=item.ipv4 if item.ipv4 is not None else KEEP,
                    ipv6=item.ipv6 if item.ipv6 is not None else KEEP,
                )
            if item.display_name:
                self.members.set(actor, request.id, display_name=item.display_name)
            # a transient controller error leaves it in provisioning for the worker
            status = self.provisioner.provision(request.id, final_attempt=False, sync=False)
        except ZtixError as exc:
            return attrs.evolve(outcome, error=f"filed as request {request.id}: {exc.message}")
        return attrs.evolve(outcome, status=status or request.status)

    def _final(self, outcomes: dict[int, ImportOutcome], count: int) -> tuple[ImportOutcome, ...]:
        """Each outcome with the status its request reached by now."""
        ids = [o.request_id for o in outcomes.values() if o.request_id is not None]
        with self.uow_factory() as uow:
            requests = uow.requests.get_many(ids) if ids else {}
        out = []
        for index in range(count):
            outcome = outcomes[index]
            request = requests.get(outcome.request_id) if outcome.request_id else None
            if request is not None:
                outcome = attrs.evolve(outcome, status=request.status)
                if request.status is RequestStatus.FAILED and outcome.error is None:
                    outcome = attrs.evolve(outcome, error=request.last_error or "failed")
            out.append(outcome)
        return tuple(out)


def _asn_label(raw: object) -> str:
    try:
        return str(Asn.parse(raw))
    except ZtixError:
        return str(raw)


def _event(
    at: dt.datetime, actor: Actor | str, action: str, target: str, meta: JsonDict
) -> AuditEvent:
    return AuditEvent(new_id(), at, str(actor), action, "request", target, meta)


def _request_events(
    actor: Actor,
    request: JoinRequest,
    membership: Membership,
    fixed: dict[str, IPAddress],
    item: _Checked,
) -> list[AuditEvent]:
    """The audit trail the one-member path writes for a request it files, approves and
    allocates, with the import named."""
    at, target = request.requested_at, str(request.id)
    approved: JsonDict = {"from": "pending", "to": "approved", "imported": True}
    if fixed:
        approved["fixed_addresses"] = {k: str(v) for k, v in fixed.items()}
    events = [
        _event(
            at,
            actor,
            "request.submitted",
            target,
            {
                "to": "pending",
                "asn": request.asn.value,
                "network_id": request.network_id.value,
                "node_id": request.node_id.value,
                "imported": True,
                "on_behalf_of": f"user:{request.user_id}",
            },
        ),
        _event(at, actor, "request.approved", target, approved),
    ]
    if item.display_name:
        events.append(
            _event(
                at,
                actor,
                "member.settings_changed",
                target,
                {
                    "asn": request.asn.value,
                    "changes": {"display_name": {"from": None, "to": item.display_name}},
                },
            )
        )
    events += [
        _event(
            at, WORKER, "request.provisioning", target, {"from": "approved", "to": "provisioning"}
        ),
        _event(
            at,
            WORKER,
            "membership.allocated",
            target,
            {"ipv4": str(membership.ipv4), "ipv6": str(membership.ipv6)},
        ),
    ]
    return events


def _authorized_event(membership: Membership, at: dt.datetime) -> AuditEvent:
    return _event(
        at,
        WORKER,
        "membership.authorized",
        str(membership.request_id),
        {
            "node_id": str(membership.node_id),
            "ipv4": str(membership.ipv4),
            "ipv6": str(membership.ipv6),
        },
    )
