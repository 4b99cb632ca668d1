"""Per-member settings an admin sets: display name, max-prefix, fixed addresses.

:class:`MemberSettings` changes a member's :class:`~ztix_core.records.MemberFacts`, each
change in one unit of work with its audit event (``member.settings_changed``, from/to per
field) and the outbox message that carries it to the live systems:

- a display name or max-prefix of a member that holds a membership requests a
  route-server sync (``sync_route_servers``), so the rendered configs follow;
- a changed address moves the request's allocation and membership and requests
  ``update_member``: the worker re-authorizes the node on the controller with the new
  addresses, then syncs the route servers.

:meth:`MemberSettings.approve` approves a pending request with fixed addresses: they are
checked (inside the network's prefixes, not reserved, not held) and held for the request
at once, so provisioning uses them and no one else can take them meanwhile.

Every refusal (a bad value, an address outside the prefix / reserved / taken, a request
that cannot change any more) raises before anything is written.
"""

from __future__ import annotations

import enum
import ipaddress
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ztix_core.asns import join_refusal
from ztix_core.errors import (
    Conflict,
    InvalidTransition,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
)
from ztix_core.ipam import AddressPair, Ipv6Scheme, allocate_ipv4, allocate_ipv6
from ztix_core.max_prefix import check_max_prefix
from ztix_core.member_facts import IPAddress, check_display_name, check_fixed_address
from ztix_core.ports import (
    Clock,
    IpAllocationRepository,
    RequestFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ztix_core.records import (
    Actor,
    IpAllocation,
    JoinRequest,
    JsonDict,
    MemberFacts,
    OutboxMessage,
    RouteServer,
    ZtNetwork,
    new_id,
)
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.usecases._common import (
    TOPIC_MEMBER_UPDATE,
    TOPIC_PROVISION,
    TOPIC_SYNC,
    audit,
    enqueue,
    move,
)
from ztix_core.values import Asn, NetworkId, NodeId


class Keep(enum.Enum):
    """The marker of a field a call leaves as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP
#: Statuses whose member settings may still change (a pending request's too: they are
#: used once it is approved).
CHANGEABLE = LIVE_STATUSES | {RequestStatus.FAILED}


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only an admin may change a member's settings")


@attrs.frozen
class _InUseOn:
    """The addresses in use on one network, as the allocator and the fixed-address
    check ask about them: storage answers each question (no read of every held address),
    ``reserved`` adds the route servers' own, ``own`` are the caller's (not in use)."""

    allocations: IpAllocationRepository
    network_id: NetworkId
    reserved: frozenset[IPAddress] = frozenset()
    own: frozenset[IPAddress] = frozenset()

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        return self.allocations.lowest_free(self.network_id, first, last, self.reserved)

    def in_use_among(self, candidates: Sequence[IPAddress]) -> set[IPAddress]:
        held = self.allocations.held_among(self.network_id, candidates) - self.own
        return held | {c for c in candidates if c in self.reserved}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return bool(self.in_use_among([address]))


def member_addresses(
    uow: UnitOfWork,
    request: JoinRequest,
    network: ZtNetwork,
    reserved: set[IPAddress],
    scheme: Ipv6Scheme,
) -> tuple[AddressPair, list[IPAddress]]:
    """The addresses a new membership gets: the fixed ones an admin chose (already held
    by the request), the others allocated now; and those of them the request does not
    hold yet. InvalidValue when a fixed address became reserved since it was chosen (a
    route server took it)."""
    fixed = uow.member_facts.get(request.id)
    own = {a.address for a in uow.allocations.for_request(request.id)}
    unavailable = _InUseOn(uow.allocations, network.id, frozenset(reserved))
    v4: ipaddress.IPv4Address | None = fixed.ipv4 if fixed else None
    v6: ipaddress.IPv6Address | None = fixed.ipv6 if fixed else None
    for addr in (v4, v6):
        if addr is not None and addr in reserved:
            raise InvalidValue(
                f"ipv{addr.version}",
                f"the fixed address {addr} is a route server's own address; "
                "choose another with `ztix member set`",
            )
    ipv4 = v4 or allocate_ipv4(network.ipv4_prefix, unavailable)
    ipv6 = v6 or allocate_ipv6(network.ipv6_prefix, unavailable, request.asn, scheme)
    return AddressPair(ipv4, ipv6), [a for a in (ipv4, ipv6) if a not in own]


def _sync_message(at: Any, request: JoinRequest) -> OutboxMessage:
    return OutboxMessage(
        new_id(), TOPIC_SYNC, {}, at, correlation_id=f"member-settings:{request.id}"
    )


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else value


@attrs.frozen
class MemberChange:
    """What a call to :meth:`MemberSettings.set` changed (empty when nothing)."""

    facts: MemberFacts
    changes: dict[str, tuple[object, object]]


class MemberSettings:
    """Admins' per-member settings (see the module docstring). ``route_servers`` gives
    the route servers whose addresses are reserved (called when an address is checked)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        route_servers: Callable[[], Sequence[RouteServer]] = lambda: (),
        *,
        allow_documentation_asns: bool = False,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.route_servers = route_servers
        self.allow_documentation_asns = allow_documentation_asns

    # ------------------------------------------------------------------ lookups

    def find(self, ref: str, node: str | None = None) -> uuid.UUID:
        """The request a person names: its id, or an ASN with a node id (``AS64500`` and
        ``a1b2c3d4e5``). NotFound when none matches; Conflict when several do (name the
        request id then)."""
        if node is None:
            try:
                request_id = uuid.UUID(ref.strip())
            except ValueError:
                raise InvalidValue(
                    "request", f"{ref!r} is not a request id; give an id, or an ASN and a node id"
                ) from None
            with self.uow_factory() as uow:
                if uow.requests.get(request_id) is None:
                    raise NotFound(f"request {request_id} not found")
            return request_id
        asn, node_id = Asn.parse(ref), NodeId(node.strip().lower())
        with self.uow_factory() as uow:
            found = uow.requests.query(
                RequestFilter(statuses=frozenset(CHANGEABLE), asn=asn, node_id=node_id, limit=5)
            )
        if not found:
            raise NotFound(f"no pending or current request of {asn} with node {node_id}")
        if len(found) > 1:
            ids = ", ".join(str(r.id) for r in found)
            raise Conflict(f"{asn} with node {node_id} matches several requests ({ids}): name one")
        return found[0].id

    def get(self, request_id: uuid.UUID) -> MemberFacts:
        """The request's settings (all unset when none were set)."""
        with self.uow_factory() as uow:
            return uow.member_facts.get(request_id) or MemberFacts(request_id)

    # ------------------------------------------------------------------ changes

    def set(
        self,
        actor: Actor,
        request_id: uuid.UUID,
        *,
        display_name: str | Keep | None = KEEP,
        max_prefix_v4: int | Keep | None = KEEP,
        max_prefix_v6: int | Keep | None = KEEP,
        ipv4: object | Keep = KEEP,
        ipv6: object | Keep = KEEP,
    ) -> MemberChange:
        """Change a member's settings (admins only). ``None`` clears a display name or a
        max-prefix (the next source holds again); :data:`KEEP` leaves a field alone.
        Addresses can be changed once the request is approved (a pending request's are
        chosen by :meth:`approve`); they cannot be cleared. Audited with from/to per field;
        see the module docstring for what follows on the live systems."""
        _require_admin(actor)
        wanted: dict[str, object] = {}
        if display_name is not KEEP:
            wanted["display_name"] = check_display_name(display_name)
        for field, value in (("max_prefix_v4", max_prefix_v4), ("max_prefix_v6", max_prefix_v6)):
            if value is not KEEP:
                wanted[field] = None if value is None else check_max_prefix(field, value)
        if ipv4 is None or ipv6 is None:
            raise InvalidValue(
                "ipv4" if ipv4 is None else "ipv6",
                "a member's address can be changed, not cleared",
            )
        with self.uow_factory() as uow:
            request = self._load_changeable(uow, request_id)
            old = uow.member_facts.get(request_id) or MemberFacts(request_id)
            readdressed = False
            if ipv4 is not KEEP or ipv6 is not KEEP:
                if request.status is RequestStatus.PENDING:
                    raise Conflict(
                        f"request {request_id} is pending: its fixed addresses are chosen "
                        "when it is approved (approve with --ipv4/--ipv6)"
                    )
                fixed, readdressed = self._readdress(uow, request, ipv4, ipv6)
                wanted.update(fixed)
            changes = {k: (getattr(old, k), v) for k, v in wanted.items() if getattr(old, k) != v}
            if not changes:
                return MemberChange(old, {})
            now = self.clock.now()
            facts = attrs.evolve(old, updated_at=now, updated_by=str(actor), **wanted)  # type: ignore[arg-type]
            uow.member_facts.put(facts)
            audit(
                uow,
                now,
                actor,
                "member.settings_changed",
                "request",
                str(request_id),
                {
                    "asn": request.asn.value,
                    "changes": {
                        k: {"from": _jsonable(a), "to": _jsonable(b)}
                        for k, (a, b) in changes.items()
                    },
                },
            )
            if readdressed:
                enqueue(uow, now, TOPIC_MEMBER_UPDATE, request)
            elif uow.memberships.get_for_request(request_id) is not None:
                uow.outbox.add(_sync_message(now, request))
            uow.commit()
            return MemberChange(facts, changes)

    def approve(
        self,
        actor: Actor,
        request_id: uuid.UUID,
        *,
        ipv4: object | None = None,
        ipv6: object | None = None,
    ) -> JoinRequest:
        """Approve a pending request (admins only) with fixed addresses for either family
        or both: checked, held for the request and recorded in its settings in the same
        unit of work as the approval (whose audit event names them); provisioning then
        uses them. A refused address approves nothing."""
        _require_admin(actor)
        with self.uow_factory() as uow:
            current = self._load(uow, request_id)
            if current.status is not RequestStatus.PENDING:
                raise InvalidTransition(current.id, current.status.value, "approved")
            refusal = join_refusal(
                current.asn.value, allow_documentation=self.allow_documentation_asns
            )
            if refusal is not None:
                raise NotEligible(refusal, asn=current.asn.value)
            network = self._network(uow, current)
            taken = _InUseOn(uow.allocations, network.id)
            servers = self.route_servers() if ipv4 is not None or ipv6 is not None else ()
            chosen: dict[str, IPAddress] = {}
            for family, value in ((4, ipv4), (6, ipv6)):
                if value is not None:
                    chosen[f"ipv{family}"] = check_fixed_address(
                        family, value, network, servers, taken
                    )
            now = self.clock.now()
            for addr in chosen.values():
                uow.allocations.reserve(IpAllocation(network.id, addr, current.id))
            meta: JsonDict = {k: str(v) for k, v in chosen.items()}
            if chosen:
                old = uow.member_facts.get(request_id) or MemberFacts(request_id)
                uow.member_facts.put(
                    attrs.evolve(old, updated_at=now, updated_by=str(actor), **chosen)  # type: ignore[arg-type]
                )
            request = move(
                uow,
                self.clock,
                current,
                RequestStatus.APPROVED,
                actor,
                {"fixed_addresses": meta} if meta else None,
                decided_at=now,
                decided_by=str(actor),
            )
            enqueue(uow, now, TOPIC_PROVISION, request)
            uow.commit()
            return request

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _load(uow: UnitOfWork, request_id: uuid.UUID) -> JoinRequest:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"request {request_id} not found", request_id=str(request_id))
        return request

    def _load_changeable(self, uow: UnitOfWork, request_id: uuid.UUID) -> JoinRequest:
        request = self._load(uow, request_id)
        if request.status not in CHANGEABLE:
            raise Conflict(
                f"request {request_id} is {request.status.value}: its member settings can no "
                "longer change",
                request_id=str(request_id),
                status=request.status.value,
            )
        return request

    @staticmethod
    def _network(uow: UnitOfWork, request: JoinRequest) -> ZtNetwork:
        network = uow.networks.get(request.network_id)
        if network is None:
            raise NotFound(f"network {request.network_id} not found")
        return network

    def _readdress(
        self, uow: UnitOfWork, request: JoinRequest, ipv4: object, ipv6: object
    ) -> tuple[dict[str, IPAddress], bool]:
        """Check the new addresses and move the request's allocations (and membership) to
        them. Returns the fixed addresses to record and whether any address moved."""
        network = self._network(uow, request)
        own: dict[int, IPAddress] = {
            a.address.version: a.address for a in uow.allocations.for_request(request.id)
        }
        taken = _InUseOn(uow.allocations, network.id, own=frozenset(own.values()))
        servers = self.route_servers()
        fixed: dict[str, IPAddress] = {}
        moved = False
        for family, value in ((4, ipv4), (6, ipv6)):
            if value is KEEP:
                continue
            addr = check_fixed_address(family, value, network, servers, taken)
            fixed[f"ipv{family}"] = addr
            if own.get(family) != addr:
                moved = True
                own[family] = addr
        if not moved:
            return fixed, False
        uow.allocations.release_for_request(request.id)
        for addr in own.values():
            uow.allocations.reserve(IpAllocation(network.id, addr, request.id))
        membership = uow.memberships.get_for_request(request.id)
        if membership is not None:
            new4, new6 = own.get(4, membership.ipv4), own.get(6, membership.ipv6)
            assert isinstance(new4, ipaddress.IPv4Address)
            assert isinstance(new6, ipaddress.IPv6Address)
            uow.memberships.update(
                attrs.evolve(membership, ipv4=new4, ipv6=new6, updated_at=self.clock.now())
            )
        return fixed, True
