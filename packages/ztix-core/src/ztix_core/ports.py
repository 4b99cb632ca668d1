"""Ports: what the core needs from the outside world, as ``typing.Protocol``.

Adapters (SQL storage, ZeroTier providers, BIRD fleet, Dramatiq queue, ...) implement these;
the in-memory adapters in :mod:`ztix_core.memory` implement all of them, and
:mod:`ztix_core.testing` holds contract suites every adapter must pass.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import Protocol

import attrs

from ztix_core.api_ports import ApiTokenRepository, IdempotencyRepository
from ztix_core.looking_glass import LookingGlassReport, LookingGlassSnapshot
from ztix_core.notify_ports import NotificationRepository, RecipientRepository
from ztix_core.onboarding_ports import OnboardingRepository
from ztix_core.records import (
    AsnLink,
    AuditEvent,
    ControllerObservation,
    IpAllocation,
    JoinRequest,
    JsonDict,
    MemberFacts,
    Membership,
    NetworkAccess,
    OutboxMessage,
    RouteServer,
    RouteServerObservation,
    RouteServerState,
    SessionObservation,
    User,
    ZtNetwork,
)
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId
from ztix_core.web_ports import OAuthStateRepository, TotpRepository, WebSessionRepository

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------- storage


@attrs.frozen
class RequestFilter:
    """Filters for request queries (the dashboards' and the admin queue's).

    ``submitted_before`` / ``submitted_after`` express age; results are newest first.
    """

    statuses: frozenset[RequestStatus] | None = None
    asn: Asn | None = None
    network_id: NetworkId | None = None
    user_id: uuid.UUID | None = None
    node_id: NodeId | None = None
    submitted_before: dt.datetime | None = None
    submitted_after: dt.datetime | None = None
    limit: int = 50
    offset: int = 0


class UserRepository(Protocol):
    """Users. Usernames are unique, compared lowercase."""

    def add(self, user: User) -> None:
        """Insert; raises DuplicateRecord for a taken username or PeeringDB id."""

    def get(self, user_id: uuid.UUID) -> User | None:
        """The user, or None."""

    def get_by_username(self, username: str) -> User | None:
        """Look up by login name (case-insensitive)."""

    def get_by_peeringdb_id(self, peeringdb_id: int) -> User | None:
        """Look up by PeeringDB user id."""

    def update(self, user: User) -> None:
        """Replace the stored user; raises NotFound when absent."""

    def list(self) -> list[User]:
        """Every user, by username."""


class CredentialRepository(Protocol):
    """Local password hashes, one per user. Never returned to the web layer."""

    def set(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Create or replace the hash; raises NotFound for an unknown user."""

    def get(self, user_id: uuid.UUID) -> str | None:
        """The stored hash, or None."""


class AsnLinkRepository(Protocol):
    """Which ASNs a user may request for."""

    def add(self, link: AsnLink) -> None:
        """Insert or replace the (user, asn) link; raises NotFound for an unknown user."""

    def remove(self, user_id: uuid.UUID, asn: Asn) -> None:
        """Delete the link when present."""

    def list_for_user(self, user_id: uuid.UUID) -> list[AsnLink]:
        """The user's links, by ASN."""


class NetworkRepository(Protocol):
    """ZeroTier networks that carry peering LANs."""

    def add(self, network: ZtNetwork) -> None:
        """Insert; raises DuplicateRecord when the id exists."""

    def get(self, network_id: NetworkId) -> ZtNetwork | None:
        """The network, or None."""

    def update(self, network: ZtNetwork) -> None:
        """Replace the stored network of the same id; raises NotFound when there is none."""

    def list(self) -> list[ZtNetwork]:
        """Every network, by id."""


class NetworkAccessRepository(Protocol):
    """Per-user network restrictions (no rows = unrestricted)."""

    def grant(self, access: NetworkAccess) -> None:
        """Add the row (idempotent); raises NotFound for unknown user or network."""

    def revoke(self, access: NetworkAccess) -> None:
        """Delete the row when present (absent is fine)."""

    def list_for_user(self, user_id: uuid.UUID) -> list[NetworkAccess]:
        """The user's rows."""


class JoinRequestRepository(Protocol):
    """Join requests, with the live-uniqueness rule enforced by storage."""

    def add(self, request: JoinRequest) -> None:
        """Insert; raises DuplicateLiveRequest (naming the existing one) when the (asn,
        network) already has a live request, NotFound for an unknown user or network."""

    def get(self, request_id: uuid.UUID) -> JoinRequest | None:
        """The request, or None."""

    def update(self, request: JoinRequest, *, expected_status: RequestStatus) -> None:
        """Compare-and-set: store ``request`` only if the stored status is still
        ``expected_status``; otherwise raise InvalidTransition carrying the stored status.
        Two racing deciders therefore get exactly one winner."""

    def find_live(self, asn: Asn, network_id: NetworkId) -> JoinRequest | None:
        """The live request for the pair, if any."""

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JoinRequest]:
        """The requests among ``request_ids`` that exist, by id, in one round trip."""

    def query(self, flt: RequestFilter) -> list[JoinRequest]:
        """Requests matching the filter, newest first, paged."""

    def count(self, flt: RequestFilter) -> int:
        """How many requests match (ignoring limit and offset)."""

    def last_change(self) -> dt.datetime | None:
        """The newest ``updated_at`` of any request (None when there is none): every status
        move updates it, so a read model of the members can tell it is still current."""

    def count_by_status(self, flt: RequestFilter) -> dict[RequestStatus, int]:
        """How many requests match, per status, in one round trip (ignoring limit and
        offset). Every status the filter allows (all of them when ``flt.statuses`` is
        None) is a key, with 0 when nothing matches."""


class MembershipRepository(Protocol):
    """Memberships: unique per request and per (network, node)."""

    def add(self, membership: Membership) -> None:
        """Insert; raises DuplicateRecord on either uniqueness rule."""

    def get_for_request(self, request_id: uuid.UUID) -> Membership | None:
        """The request's membership, or None."""

    def get_for_requests(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Membership]:
        """The memberships of ``request_ids``, by request id (a request without one is left
        out), whatever their number."""

    def update(self, membership: Membership) -> None:
        """Replace the stored membership; raises NotFound when absent."""

    def delete(self, membership_id: uuid.UUID) -> None:
        """Remove the membership (on deprovisioning)."""

    def list(self) -> list[Membership]:
        """Every membership, by (network, node)."""

    def asns_among(self, asns: Collection[Asn]) -> set[Asn]:
        """Which of ``asns`` hold at least one membership (one query, whatever the
        member count)."""


class IpAllocationRepository(Protocol):
    """Peering-LAN addresses held by requests: unique per (network, address)."""

    def reserve(self, allocation: IpAllocation) -> None:
        """Insert; raises DuplicateRecord when the address is already held."""

    def for_network(self, network_id: NetworkId) -> set[IPAddress]:
        """Addresses held on the network."""

    def held_among(self, network_id: NetworkId, addresses: Collection[IPAddress]) -> set[IPAddress]:
        """Those of ``addresses`` held on the network, in one round trip."""

    def lowest_free(
        self,
        network_id: NetworkId,
        first: IPAddress,
        last: IPAddress,
        skip: Collection[IPAddress] = (),
    ) -> IPAddress | None:
        """The lowest address from ``first`` to ``last`` (one family, inside one of the
        network's prefixes) that is neither held on the network nor in ``skip``; None when
        there is none. Storage answers it without returning every held address: it runs
        at every allocation."""

    def for_request(self, request_id: uuid.UUID) -> list[IpAllocation]:
        """The request's allocations."""

    def release_for_request(self, request_id: uuid.UUID) -> int:
        """Free the request's addresses; returns how many were freed."""


class MemberFactsRepository(Protocol):
    """What admins set per member (:class:`~ztix_core.records.MemberFacts`): one row per
    request at most."""

    def get(self, request_id: uuid.UUID) -> MemberFacts | None:
        """The request's facts, or None when nothing was ever set."""

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, MemberFacts]:
        """The facts among ``request_ids``, by request id, in one round trip."""

    def put(self, facts: MemberFacts) -> None:
        """Insert or replace the request's facts; NotFound for an unknown request."""

    def delete(self, request_id: uuid.UUID) -> bool:
        """Remove the request's facts; False when there were none."""


class AuditRepository(Protocol):
    """The append-only audit trail."""

    def append(self, event: AuditEvent) -> None:
        """Insert an event. There is no update and no delete."""

    def for_target(self, target_type: str, target_id: str) -> list[AuditEvent]:
        """Events about one target, oldest first."""

    def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
        """The newest events first, optionally of one action."""

    def latest_for_target(
        self, target_type: str, target_id: str, actions: Collection[str]
    ) -> AuditEvent | None:
        """The newest event about one target whose action is one of ``actions`` (None when
        there is none): one indexed lookup, however long the target's history."""

    def count_since(self, action: str, actor: str, since: dt.datetime) -> int:
        """How many events of ``action`` by ``actor`` happened at or after ``since``."""


class OutboxRepository(Protocol):
    """Messages waiting to reach the task queue."""

    def add(self, message: OutboxMessage) -> None:
        """Insert a message."""

    def claim_unsent(self, limit: int) -> list[OutboxMessage]:
        """Unsent messages, oldest first, locked for this unit of work so that concurrent
        relays never claim the same message (SKIP LOCKED or equal)."""

    def mark_sent(self, message_id: uuid.UUID, at: dt.datetime) -> None:
        """Record delivery."""

    def record_attempt(self, message_id: uuid.UUID) -> None:
        """Count a failed delivery attempt."""

    def unsent_correlation_ids(self) -> set[str]:
        """The correlation ids (request ids) of the messages not yet sent: work that is
        on its way, which the reconciler must not dispatch a second time."""

    def pending_count(self) -> int:
        """How many messages wait."""

    def oldest_unsent_at(self) -> dt.datetime | None:
        """When the oldest message still waiting was written (None when none waits): how
        far behind the relay is, in one indexed lookup."""


class RouteServerStateRepository(Protocol):
    """Per-route-server desired/applied generations and errors."""

    def get(self, name: str) -> RouteServerState | None:
        """The server's state, or None before its first sync."""

    def put(self, state: RouteServerState) -> None:
        """Insert or replace."""

    def list(self) -> list[RouteServerState]:
        """Every server's state, by name."""


class ObservationRepository(Protocol):
    """What the worker last saw of the route servers and the controller (sessions,
    reachability, readiness), kept so the pages can show it without holding any secret."""

    def record_route_server(
        self, observation: RouteServerObservation, sessions: Sequence[SessionObservation]
    ) -> None:
        """Replace everything known about ``observation.server`` (its summary and every
        session) with this reading. An unreachable server keeps no sessions."""

    def route_servers(self) -> list[RouteServerObservation]:
        """The latest reading of every observed server, by name."""

    def sessions_for_asn(self, asn: Asn) -> list[SessionObservation]:
        """The member's sessions on every server, by server then protocol."""

    def forget_route_server(self, server: str) -> None:
        """Drop a server that is no longer configured (nothing when unknown)."""

    def record_controller(self, observation: ControllerObservation) -> None:
        """Replace the controller's last readiness reading."""

    def controller(self) -> ControllerObservation | None:
        """The controller's last readiness reading, or None before the first."""

    def looking_glass(self, asn: Asn) -> LookingGlassSnapshot | None:
        """The member's stored looking glass (last reading and last refresh asked for),
        or None when nobody ever asked."""

    def put_looking_glass(self, snapshot: LookingGlassSnapshot) -> None:
        """Replace the member's stored looking glass with ``snapshot`` (all of it)."""


class UnitOfWork(Protocol):
    """One transaction over every repository (the web layer's sessions, OAuth states and
    TOTP credentials too, see :mod:`ztix_core.web_ports`, the API's tokens and idempotency
    keys, see :mod:`ztix_core.api_ports`, and notification intents, deliveries and
    recipients, see :mod:`ztix_core.notify_ports`; importing many members at once, see
    :mod:`ztix_core.onboarding_ports`). Leaving the block without ``commit()``
    rolls back; an exception rolls back. Audit events and outbox rows are written through
    the same unit of work as the change they record."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def asn_links(self) -> AsnLinkRepository: ...

    @property
    def networks(self) -> NetworkRepository: ...

    @property
    def network_access(self) -> NetworkAccessRepository: ...

    @property
    def requests(self) -> JoinRequestRepository: ...

    @property
    def memberships(self) -> MembershipRepository: ...

    @property
    def allocations(self) -> IpAllocationRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def route_servers(self) -> RouteServerStateRepository: ...

    @property
    def observations(self) -> ObservationRepository: ...

    @property
    def network_facts(self) -> NetworkFactsRepository: ...

    @property
    def member_facts(self) -> MemberFactsRepository: ...

    @property
    def web_sessions(self) -> WebSessionRepository: ...

    @property
    def oauth_states(self) -> OAuthStateRepository: ...

    @property
    def totp(self) -> TotpRepository: ...

    @property
    def api_tokens(self) -> ApiTokenRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def notify_recipients(self) -> RecipientRepository: ...

    @property
    def onboarding(self) -> OnboardingRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit durable at once."""

    def rollback(self) -> None:
        """Drop every uncommitted change."""


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --------------------------------------------------------------------------- ZeroTier


@attrs.frozen
class ReadinessCheck:
    """One check of a readiness gate."""

    name: str
    ok: bool
    message: str = ""
    remediation: str = ""


@attrs.frozen
class ReadinessReport:
    """All checks of a gate; ready only when every check passed."""

    checks: tuple[ReadinessCheck, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> ReadinessCheck | None:
        return next((c for c in self.checks if not c.ok), None)


@attrs.frozen
class MemberState:
    """A member as the controller stores it."""

    network_id: NetworkId
    node_id: NodeId
    authorized: bool
    ip_assignments: tuple[str, ...]
    name: str = ""
    no_auto_assign_ips: bool = False


@attrs.frozen
class NetworkChange:
    """What ``ensure_network`` did: created, repaired fields, or nothing."""

    network_id: NetworkId
    created: bool = False
    repaired: tuple[str, ...] = ()


class MembershipProvider(Protocol):
    """A ZeroTier controller (self-hosted or Central) that authorizes members.

    Every call maps failures to ProviderError (``transient`` says whether a retry may
    help) and never puts secrets in messages.
    """

    name: str

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        """Is the controller reachable, the token accepted, its database ready and each
        network present with the expected settings? Never raises for a failed check."""

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        """Create the network if missing and repair drift (private, no auto-assign,
        routes for the peering prefixes, name)."""

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        """Authorize with exactly these addresses and ``noAutoAssignIps``; read the member
        back and raise ProviderError(kind="mismatch") when the stored state differs.
        Idempotent."""

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Deauthorize; a member that is already gone is fine."""

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Delete the member record; a member that is already gone is fine."""

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        """The stored member, or None when unknown."""

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        """Every member of the network."""


# --------------------------------------------------------------------------- route servers


@attrs.frozen
class PeerSpec:
    """One member as every route server should configure it."""

    asn: Asn
    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address
    max_prefix_v4: int
    max_prefix_v6: int
    description: str
    network_id: NetworkId


@attrs.frozen
class ApplyOutcome:
    """What happened on one server: ``applied``, ``unchanged`` or ``failed``.

    ``transient`` marks a failure that may pass by itself (daemon restarting, connection
    refused or dropped); ``retried`` lists, oldest first, the transient failures the fleet
    already retried past before this outcome (each is audited by the core).
    """

    server: str
    result: str
    digest: str = ""
    stage: str = ""
    message: str = ""
    duration_s: float = 0.0
    transient: bool = False
    retried: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "unchanged")


@attrs.frozen
class SessionStatus:
    """One BGP session of one member on one route server."""

    server: str
    asn: Asn
    protocol: str
    state: str
    since: str = ""
    info: str = ""
    imported: int = 0
    filtered: int = 0
    exported: int = 0
    import_limit_hit: bool = False
    last_error: str = ""


@attrs.frozen
class SessionReport:
    """Sessions found, and the servers that could not be asked (name → reason)."""

    sessions: Sequence[SessionStatus]
    unreachable: Mapping[str, str]


@attrs.frozen
class FileDrift:
    """One config file on a route server that is not what ztix wrote.

    ``problem`` is ``changed`` (its sha256 is not the desired one), ``missing`` (ztix wants
    it, the server has none) or ``extra`` (on the server, not written by ztix).
    ``expected`` and ``found`` are sha256 digests, ``""`` where there is no file."""

    name: str
    problem: str
    expected: str = ""
    found: str = ""


@attrs.frozen
class RouteServerDrift:
    """How one route server differs from the desired state. Names and digests only: never
    file contents (they may hold secrets).

    * ``files``: config files that differ from the desired render;
    * ``manifest``: the server's record of ztix's last apply disagrees with the desired
      state (missing, or naming another digest), or ``""``;
    * ``missing_protocols`` / ``extra_protocols``: protocols the desired config declares
      that BIRD does not run, and protocols BIRD runs that ztix did not render;
    * ``reconfigured``: why BIRD's running config may not come from ztix's main file
      (restarted or reconfigured since ztix's last configure), or ``""``;
    * ``error``: the server could not be checked (unreachable, an apply held its lock);
      nothing else is meaningful then.
    """

    server: str
    files: tuple[FileDrift, ...] = ()
    manifest: str = ""
    missing_protocols: tuple[str, ...] = ()
    extra_protocols: tuple[str, ...] = ()
    reconfigured: str = ""
    error: str = ""

    @property
    def drifted(self) -> bool:
        """True when the server was checked and something differs."""
        return not self.error and bool(
            self.files
            or self.manifest
            or self.missing_protocols
            or self.extra_protocols
            or self.reconfigured
        )

    def findings(self) -> list[str]:
        """One short line per difference (what ``ztix rs check`` and the pages show)."""
        out = [f"file {f.name}: {f.problem}" for f in self.files]
        if self.manifest:
            out.append(f"manifest: {self.manifest}")
        if self.missing_protocols:
            out.append("protocols missing: " + " ".join(self.missing_protocols))
        if self.extra_protocols:
            out.append("protocols not rendered by ztix: " + " ".join(self.extra_protocols))
        if self.reconfigured:
            out.append(f"running config: {self.reconfigured}")
        return out

    def summary(self, limit: int = 10) -> str:
        """The findings on one line, the first ``limit`` of them."""
        found = self.findings()
        more = f"; and {len(found) - limit} more" if len(found) > limit else ""
        return "; ".join(found[:limit]) + more

    def as_json(self) -> JsonDict:
        """The findings for an audit event."""
        return {
            "files": [
                {"name": f.name, "problem": f.problem, "expected": f.expected, "found": f.found}
                for f in self.files
            ],
            "manifest": self.manifest,
            "missing_protocols": list(self.missing_protocols),
            "extra_protocols": list(self.extra_protocols),
            "reconfigured": self.reconfigured,
        }


class RouteServerFleet(Protocol):
    """Every configured route server. Config is desired state: rendered from the whole
    member set at once, so many changes coalesce into one apply."""

    def servers(self) -> Sequence[RouteServer]:
        """The configured servers, by name."""

    def render(self, peers: Sequence[PeerSpec]) -> Mapping[str, Mapping[str, bytes]]:
        """Per server, file name → bytes; deterministic for the same input."""

    def refused_peers(self, peers: Sequence[PeerSpec]) -> Mapping[int, str]:
        """The members no server of this fleet can configure, by index into ``peers``,
        each with the reason (bogon ASN, the route server's own address, ...).

        The core leaves these out of the desired state and fails their requests, so one
        member's bad data never stops the others: the rest must render."""

    def apply(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        """Render and safely apply to the named servers (all when None), in parallel.
        Never raises for a server's failure: it becomes that server's outcome. A server
        that is briefly unreachable is retried with back-off for a bounded time first."""

    def session_status(self, asn: Asn | None = None) -> list[SessionStatus]:
        """Live BGP session state per member and server."""

    def session_report(self, asn: Asn | None = None) -> SessionReport:
        """Every member session (or one member's), and separately every server that could
        not be asked, with the reason. One bounded query per server; never raises for a
        server's failure."""

    def check_drift(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[RouteServerDrift]:
        """Compare what each named server (all when None) holds and runs with the desired
        state for ``peers``: its config files (per-file digests; missing and extra files)
        against the render and its manifest, and the running daemon against the render
        (every desired protocol runs, none runs that ztix did not render, its last
        reconfiguration was ztix's). Read-only: nothing is changed, no lock is taken
        (a server whose apply is under way reports an ``error`` instead). One bounded
        round trip per server, all servers in parallel; never raises for one server's
        failure. Drift is repaired by an ordinary apply, which re-uploads every file that
        differs and reconfigures a daemon whose running config is not ztix's."""

    def looking_glass(self, asn: Asn) -> LookingGlassReport:
        """One member on every configured server: each of its BGP sessions (state, since
        when, routes received / accepted / filtered / exported) and the routes the import
        filter dropped, each with its decoded reject reasons and RPKI state.

        Read-only and bounded: one query per server, all servers in parallel, each
        reading at most the fleet's cap of filtered routes (the server's own count says
        how many more there are) and given up after the fleet's timeout, so a member with
        half a million routes stalls neither a route server nor the caller. A server
        that cannot be asked is an entry with ``error`` set; never raises for one
        server's failure. Unknown reject codes are reported as such, never refused."""


# --------------------------------------------------------------------------- router snippets


#: The router flavours snippets are written for, in the order pages show them.
ROUTER_FLAVOURS: tuple[str, ...] = ("bird", "frr")


@attrs.frozen
class MemberRouter:
    """What a member's own router needs to peer with every route server.

    ``ipv4``/``ipv6`` are the member's peering-LAN addresses (the sessions' source);
    ``lan_v4``/``lan_v6`` the exchange network's prefixes (None when unknown).
    ``accepted_v4``/``accepted_v6`` are the member's effective max-prefix: how many
    prefixes the route servers accept *from* the member. ``suggested_v4``/``suggested_v6``
    are a max-prefix for the member's side: the most routes one route server sends the
    member today (as last observed), with headroom.
    """

    asn: Asn
    name: str
    network_id: NetworkId
    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address
    lan_v4: ipaddress.IPv4Network | None
    lan_v6: ipaddress.IPv6Network | None
    accepted_v4: int
    accepted_v6: int
    suggested_v4: int
    suggested_v6: int


@attrs.frozen
class RouterSnippet:
    """A ready-to-paste configuration for one router flavour (one of
    :data:`ROUTER_FLAVOURS`): ``title`` for people, ``filename`` for a download,
    ``text`` the configuration itself (its comments explain it)."""

    flavour: str
    title: str
    filename: str
    text: str


class RouterConfigs(Protocol):
    """Configuration members paste into their own routers to peer with the route servers.

    Every route-server fleet offers one (the registration's ``router_configs`` factory
    builds it from the settings alone: no connection, no secret, so the web can use it).
    """

    def router_snippets(self, member: MemberRouter) -> Sequence[RouterSnippet]:
        """One snippet per flavour this fleet writes for (``bird``, ``frr``), each with a
        BGP session to every route server on IPv4 and IPv6 from the member's own
        addresses, the suggested max-prefix, and the exchange's communities explained in
        comments. Deterministic for the same input; reads no network.

        Empty when the exchange has no route server to peer with (the ``none`` fleet:
        members peer bilaterally). Raises InvalidValue (naming the field) for a member or
        a setting no snippet can be written for, such as an address a BGP session cannot
        use; nothing is returned then. Free text (the member's name) is sanitised, never
        trusted."""


# --------------------------------------------------------------------------- PeeringDB


@attrs.frozen
class NetworkFacts:
    """What PeeringDB says about an ASN.

    ``info_prefixes4``/``info_prefixes6`` are the counts the network publishes;
    ``max_prefix_v4``/``max_prefix_v6`` are the route-server limits the registry derives
    from them (headroom and floor), None when PeeringDB gives no count. ``status`` is
    PeeringDB's record status (``ok`` for a live network).
    """

    asn: Asn
    name: str
    irr_as_set: str = ""
    max_prefix_v4: int | None = None
    max_prefix_v6: int | None = None
    never_via_route_servers: bool = False
    policy_general: str = "Open"
    status: str = "ok"
    info_prefixes4: int | None = None
    info_prefixes6: int | None = None
    peeringdb_id: int | None = None
    updated: str = ""

    def to_json(self) -> JsonDict:
        """A JSON object of every field (storage keeps facts as one document)."""
        out: JsonDict = {name: getattr(self, name) for name in _FACT_FIELDS}
        out["asn"] = self.asn.value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> NetworkFacts:
        """The inverse of :meth:`to_json`; unknown keys are ignored (older rows)."""
        values = {k: v for k, v in data.items() if k in _FACT_FIELDS and k != "asn"}
        return cls(asn=Asn(int(str(data["asn"]))), **values)  # type: ignore[arg-type]


#: NetworkFacts' field names (attrs.fields per call is slow for 5,000 rows)
_FACT_FIELDS = frozenset(f.name for f in attrs.fields(NetworkFacts))


@attrs.frozen
class CachedFacts:
    """One ASN as the cache holds it.

    ``facts`` is None when PeeringDB answered that it has no network for the ASN, or when
    it never answered (``fetched_at`` None). ``fetched_at`` is when PeeringDB last
    answered about it; ``checked_at`` when it was last asked; ``error`` why the last ask
    failed ("" when it was answered), so stale facts are served with their age and the
    reason they are stale.
    """

    asn: Asn
    facts: NetworkFacts | None
    fetched_at: dt.datetime | None
    checked_at: dt.datetime
    error: str = ""

    @property
    def known(self) -> bool:
        """True once PeeringDB has answered about this ASN (facts or "no network")."""
        return self.fetched_at is not None


@attrs.frozen
class MaxPrefixOverride:
    """An admin's max-prefix for one ASN, winning over PeeringDB's per family that is set."""

    asn: Asn
    max_prefix_v4: int | None
    max_prefix_v6: int | None
    reason: str
    set_by: str
    set_at: dt.datetime


@attrs.frozen
class RegistryFetch:
    """What one fetch of many ASNs got: facts per ASN found, the ASNs PeeringDB answered
    it has no network for, and the ASNs it could not be asked about (with why).
    ``calls`` counts the HTTP calls made (for logs and the benchmark)."""

    found: Mapping[Asn, NetworkFacts] = attrs.field(factory=dict)
    absent: frozenset[Asn] = frozenset()
    failed: Mapping[Asn, str] = attrs.field(factory=dict)
    calls: int = 0


class NetworkRegistry(Protocol):
    """Where PeeringDB facts come from. The core caches what it returns in the database
    (:class:`NetworkFactsRepository`); this port only asks the source."""

    #: how old a cached answer may get before the worker asks again (seconds)
    refresh_interval_s: float

    def fetch(self, asns: Collection[Asn], *, patient: bool = True) -> RegistryFetch:
        """Ask about every ASN (batched as the source allows). Never raises for the
        source's failure: an ASN that could not be asked is in ``failed`` with the reason,
        never in ``absent`` — only an answer from the source may say "no network".

        ``patient=False`` is for a person waiting (a web submission): one try per call,
        no waiting out a rate limit; the scheduled refresh is patient."""


class NetworkFactsRepository(Protocol):
    """The cache of PeeringDB facts (with their fetch time) and the admins' max-prefix
    overrides."""

    def put(self, entry: CachedFacts) -> None:
        """Insert or replace the ASN's cached entry."""

    def put_many(self, entries: Sequence[CachedFacts]) -> None:
        """Insert or replace many entries (one ASN at most once) in one round trip."""

    def get_many(self, asns: Collection[Asn]) -> dict[Asn, CachedFacts]:
        """The cached entries among ``asns``, by ASN, in one round trip."""

    def list(self) -> list[CachedFacts]:
        """Every cached entry, by ASN."""

    def set_override(self, override: MaxPrefixOverride) -> None:
        """Insert or replace the ASN's override."""

    def clear_override(self, asn: Asn) -> bool:
        """Delete the ASN's override; False when there was none."""

    def overrides(self, asns: Collection[Asn] | None = None) -> dict[Asn, MaxPrefixOverride]:
        """The overrides among ``asns`` (every one when None), by ASN."""


# --------------------------------------------------------------------------- the rest


class TaskQueue(Protocol):
    """Delivers outbox messages to whatever runs the actors."""

    def dispatch(self, topic: str, payload: JsonDict, correlation_id: str) -> None:
        """Publish; raises on a broker outage (the outbox row then waits)."""


class ProvisioningEvents(Protocol):
    """What the provisioner reports as it happens, for whoever counts it (the worker's
    metrics). Each call comes after the unit of work that recorded the event committed,
    so only what really happened is reported. Implementations must be quick and must not
    raise: an exception here would fail the provisioning step that reported it."""

    def request_activated(self, request: JoinRequest, at: dt.datetime) -> None:
        """``request`` (as stored before the move: its ``decided_at`` is the approval)
        became active at ``at``, from provisioning or recovered from failed."""

    def request_failed(self, request: JoinRequest, stage: str) -> None:
        """``request`` moved provisioning → failed at ``stage``: ``readiness``, ``ipam``,
        ``membership``, ``authorize``, ``route_server_config`` (the servers refuse the
        member) or ``route_server`` (a server failed to apply its generation)."""

    def route_server_applied(self, outcome: ApplyOutcome) -> None:
        """One server's apply ended (``applied``, ``unchanged`` or ``failed``, with its
        duration)."""


class Clock(Protocol):
    """The current time, timezone-aware UTC."""

    def now(self) -> dt.datetime:
        """Now."""


class PasswordHasher(Protocol):
    """Hashes local passwords (argon2id in production)."""

    def hash(self, password: str) -> str:
        """A salted hash of the password."""

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches the hash."""

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash uses outdated parameters."""
