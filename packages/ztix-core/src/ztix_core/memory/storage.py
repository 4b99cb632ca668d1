"""In-memory storage: every repository port and a unit of work with real rollback.

A unit of work holds the store's lock from ``__enter__`` to ``__exit__`` and works on a copy
of the tables, so uncommitted changes are invisible to others and vanish on rollback.
"""

from __future__ import annotations

import builtins
import datetime as dt
import threading
import uuid
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Any

import attrs

from ztix_core.api_ports import ApiToken, IdempotencyEntry
from ztix_core.errors import DuplicateLiveRequest, DuplicateRecord, InvalidTransition, NotFound
from ztix_core.ipam import InUse
from ztix_core.looking_glass import LookingGlassSnapshot
from ztix_core.memory.api_storage import InMemoryApiTokens, InMemoryIdempotency
from ztix_core.memory.notify_storage import InMemoryNotifications, InMemoryRecipients
from ztix_core.memory.onboarding_storage import InMemoryOnboarding
from ztix_core.memory.web_storage import InMemoryOAuthStates, InMemoryTotp, InMemoryWebSessions
from ztix_core.notify_ports import Delivery, NotificationIntent
from ztix_core.ports import CachedFacts, IPAddress, MaxPrefixOverride, RequestFilter
from ztix_core.records import (
    AsnLink,
    AuditEvent,
    ControllerObservation,
    IpAllocation,
    JoinRequest,
    MemberFacts,
    Membership,
    NetworkAccess,
    OutboxMessage,
    RouteServerObservation,
    RouteServerState,
    SessionObservation,
    User,
    ZtNetwork,
)
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.values import Asn, NetworkId
from ztix_core.web_ports import OAuthState, RecoveryCode, TotpCredential, WebSession


@attrs.define
class _Tables:
    users: dict[uuid.UUID, User] = attrs.Factory(dict)
    credentials: dict[uuid.UUID, str] = attrs.Factory(dict)
    asn_links: dict[tuple[uuid.UUID, Asn], AsnLink] = attrs.Factory(dict)
    networks: dict[NetworkId, ZtNetwork] = attrs.Factory(dict)
    access: set[NetworkAccess] = attrs.Factory(set)
    requests: dict[uuid.UUID, JoinRequest] = attrs.Factory(dict)
    memberships: dict[uuid.UUID, Membership] = attrs.Factory(dict)
    allocations: dict[tuple[NetworkId, IPAddress], IpAllocation] = attrs.Factory(dict)
    audit: list[AuditEvent] = attrs.Factory(list)
    outbox: dict[uuid.UUID, OutboxMessage] = attrs.Factory(dict)
    route_servers: dict[str, RouteServerState] = attrs.Factory(dict)
    web_sessions: dict[str, WebSession] = attrs.Factory(dict)
    oauth_states: dict[str, OAuthState] = attrs.Factory(dict)
    totp: dict[uuid.UUID, TotpCredential] = attrs.Factory(dict)
    totp_recovery: dict[tuple[uuid.UUID, int], RecoveryCode] = attrs.Factory(dict)
    rs_observations: dict[str, RouteServerObservation] = attrs.Factory(dict)
    session_observations: dict[str, tuple[SessionObservation, ...]] = attrs.Factory(dict)
    controller_observation: dict[str, ControllerObservation] = attrs.Factory(dict)
    looking_glasses: dict[int, LookingGlassSnapshot] = attrs.Factory(dict)
    network_facts: dict[Asn, CachedFacts] = attrs.Factory(dict)
    max_prefix_overrides: dict[Asn, MaxPrefixOverride] = attrs.Factory(dict)
    api_tokens: dict[uuid.UUID, ApiToken] = attrs.Factory(dict)
    idempotency: dict[tuple[uuid.UUID, str], IdempotencyEntry] = attrs.Factory(dict)
    notifications: dict[uuid.UUID, NotificationIntent] = attrs.Factory(dict)
    deliveries: dict[uuid.UUID, Delivery] = attrs.Factory(dict)
    notify_recipients: dict[tuple[uuid.UUID, Asn], tuple[str, ...]] = attrs.Factory(dict)
    member_facts: dict[uuid.UUID, MemberFacts] = attrs.Factory(dict)

    def copy(self) -> _Tables:
        return _Tables(**{f.name: _shallow(getattr(self, f.name)) for f in attrs.fields(_Tables)})


def _shallow(value: Any) -> Any:
    return value.copy()


class InMemoryStore:
    """The shared state behind in-memory units of work. Call it to get a new unit."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.lock = threading.RLock()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


class _Repo:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def t(self) -> _Tables:
        return self._uow.tables


class _Users(_Repo):
    def add(self, user: User) -> None:
        if user.id in self.t.users:
            raise DuplicateRecord(f"user {user.id} exists")
        for other in self.t.users.values():
            if user.username and other.username and other.username.lower() == user.username.lower():
                raise DuplicateRecord(f"username {user.username!r} is taken", field="username")
            if user.peeringdb_id is not None and other.peeringdb_id == user.peeringdb_id:
                raise DuplicateRecord(f"PeeringDB user {user.peeringdb_id} exists")
        self.t.users[user.id] = user

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.t.users.get(user_id)

    def get_by_username(self, username: str) -> User | None:
        wanted = username.lower()
        return next(
            (u for u in self.t.users.values() if u.username and u.username.lower() == wanted), None
        )

    def get_by_peeringdb_id(self, peeringdb_id: int) -> User | None:
        return next((u for u in self.t.users.values() if u.peeringdb_id == peeringdb_id), None)

    def update(self, user: User) -> None:
        if user.id not in self.t.users:
            raise NotFound(f"user {user.id} not found")
        self.t.users[user.id] = user

    def list(self) -> list[User]:
        return sorted(self.t.users.values(), key=lambda u: (u.username or "", str(u.id)))


class _Credentials(_Repo):
    def set(self, user_id: uuid.UUID, password_hash: str) -> None:
        if user_id not in self.t.users:
            raise NotFound(f"user {user_id} not found")
        self.t.credentials[user_id] = password_hash

    def get(self, user_id: uuid.UUID) -> str | None:
        return self.t.credentials.get(user_id)


class _AsnLinks(_Repo):
    def add(self, link: AsnLink) -> None:
        if link.user_id not in self.t.users:
            raise NotFound(f"user {link.user_id} not found")
        self.t.asn_links[(link.user_id, link.asn)] = link

    def remove(self, user_id: uuid.UUID, asn: Asn) -> None:
        self.t.asn_links.pop((user_id, asn), None)

    def list_for_user(self, user_id: uuid.UUID) -> list[AsnLink]:
        return sorted(
            (lk for (uid, _), lk in self.t.asn_links.items() if uid == user_id),
            key=lambda lk: lk.asn,
        )


class _Networks(_Repo):
    def add(self, network: ZtNetwork) -> None:
        if network.id in self.t.networks:
            raise DuplicateRecord(f"network {network.id} exists")
        self.t.networks[network.id] = network

    def get(self, network_id: NetworkId) -> ZtNetwork | None:
        return self.t.networks.get(network_id)

    def update(self, network: ZtNetwork) -> None:
        if network.id not in self.t.networks:
            raise NotFound(f"network {network.id} not found")
        self.t.networks[network.id] = network

    def list(self) -> list[ZtNetwork]:
        return sorted(self.t.networks.values(), key=lambda n: n.id)


class _Access(_Repo):
    def grant(self, access: NetworkAccess) -> None:
        if access.user_id not in self.t.users:
            raise NotFound(f"user {access.user_id} not found")
        if access.network_id not in self.t.networks:
            raise NotFound(f"network {access.network_id} not found")
        self.t.access.add(access)

    def revoke(self, access: NetworkAccess) -> None:
        self.t.access.discard(access)

    def list_for_user(self, user_id: uuid.UUID) -> list[NetworkAccess]:
        return sorted(
            (a for a in self.t.access if a.user_id == user_id), key=lambda a: a.network_id
        )


def _matches(req: JoinRequest, flt: RequestFilter) -> bool:
    return (
        (flt.statuses is None or req.status in flt.statuses)
        and (flt.asn is None or req.asn == flt.asn)
        and (flt.network_id is None or req.network_id == flt.network_id)
        and (flt.user_id is None or req.user_id == flt.user_id)
        and (flt.node_id is None or req.node_id == flt.node_id)
        and (flt.submitted_before is None or req.requested_at < flt.submitted_before)
        and (flt.submitted_after is None or req.requested_at >= flt.submitted_after)
    )


class _Requests(_Repo):
    def add(self, request: JoinRequest) -> None:
        if request.user_id not in self.t.users:
            raise NotFound(f"user {request.user_id} not found")
        if request.network_id not in self.t.networks:
            raise NotFound(f"network {request.network_id} not found")
        if request.id in self.t.requests:
            raise DuplicateRecord(f"request {request.id} exists")
        if request.status in LIVE_STATUSES:
            live = self.find_live(request.asn, request.network_id)
            if live is not None:
                raise DuplicateLiveRequest(live.id, request.asn.value, request.network_id.value)
        self.t.requests[request.id] = request

    def get(self, request_id: uuid.UUID) -> JoinRequest | None:
        return self.t.requests.get(request_id)

    def update(self, request: JoinRequest, *, expected_status: RequestStatus) -> None:
        stored = self.t.requests.get(request.id)
        if stored is None:
            raise NotFound(f"request {request.id} not found")
        if stored.status is not expected_status:
            raise InvalidTransition(request.id, stored.status.value, request.status.value)
        if request.status in LIVE_STATUSES and stored.status not in LIVE_STATUSES:
            live = self.find_live(request.asn, request.network_id)
            if live is not None and live.id != request.id:
                raise DuplicateLiveRequest(live.id, request.asn.value, request.network_id.value)
        self.t.requests[request.id] = request

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, JoinRequest]:
        return {rid: self.t.requests[rid] for rid in request_ids if rid in self.t.requests}

    def find_live(self, asn: Asn, network_id: NetworkId) -> JoinRequest | None:
        return next(
            (
                r
                for r in self.t.requests.values()
                if r.asn == asn and r.network_id == network_id and r.status in LIVE_STATUSES
            ),
            None,
        )

    def _sorted(self, flt: RequestFilter) -> builtins.list[JoinRequest]:
        found = [r for r in self.t.requests.values() if _matches(r, flt)]
        found.sort(key=lambda r: (r.requested_at, str(r.id)), reverse=True)
        return found

    def query(self, flt: RequestFilter) -> builtins.list[JoinRequest]:
        return self._sorted(flt)[flt.offset : flt.offset + flt.limit]

    def count(self, flt: RequestFilter) -> int:
        return len(self._sorted(flt))

    def last_change(self) -> dt.datetime | None:
        return max((r.updated_at for r in self.t.requests.values()), default=None)

    def count_by_status(self, flt: RequestFilter) -> dict[RequestStatus, int]:
        counts = dict.fromkeys(RequestStatus if flt.statuses is None else flt.statuses, 0)
        for r in self.t.requests.values():
            if _matches(r, flt):
                counts[r.status] += 1
        return counts


class _Memberships(_Repo):
    def add(self, membership: Membership) -> None:
        for other in self.t.memberships.values():
            if other.request_id == membership.request_id:
                raise DuplicateRecord(f"request {membership.request_id} already has a membership")
            if (other.network_id, other.node_id) == (membership.network_id, membership.node_id):
                raise DuplicateRecord(
                    f"node {membership.node_id} is already a member of {membership.network_id}"
                )
        if membership.request_id not in self.t.requests:
            raise NotFound(f"request {membership.request_id} not found")
        self.t.memberships[membership.id] = membership

    def get_for_request(self, request_id: uuid.UUID) -> Membership | None:
        return next((m for m in self.t.memberships.values() if m.request_id == request_id), None)

    def get_for_requests(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Membership]:
        wanted = set(request_ids)
        return {m.request_id: m for m in self.t.memberships.values() if m.request_id in wanted}

    def update(self, membership: Membership) -> None:
        if membership.id not in self.t.memberships:
            raise NotFound(f"membership {membership.id} not found")
        self.t.memberships[membership.id] = membership

    def delete(self, membership_id: uuid.UUID) -> None:
        self.t.memberships.pop(membership_id, None)

    def list(self) -> builtins.list[Membership]:
        return sorted(self.t.memberships.values(), key=lambda m: (m.network_id, m.node_id))

    def asns_among(self, asns: Collection[Asn]) -> set[Asn]:
        wanted = set(asns)
        return {m.asn for m in self.t.memberships.values() if m.asn in wanted}


class _Allocations(_Repo):
    def reserve(self, allocation: IpAllocation) -> None:
        key = (allocation.network_id, allocation.address)
        if key in self.t.allocations:
            raise DuplicateRecord(
                f"{allocation.address} is already held on {allocation.network_id}",
                field="address",
            )
        if allocation.request_id not in self.t.requests:
            raise NotFound(f"request {allocation.request_id} not found")
        self.t.allocations[key] = allocation

    def for_network(self, network_id: NetworkId) -> set[IPAddress]:
        return {addr for (nid, addr) in self.t.allocations if nid == network_id}

    def held_among(self, network_id: NetworkId, addresses: Collection[IPAddress]) -> set[IPAddress]:
        return {a for a in addresses if (network_id, a) in self.t.allocations}

    def lowest_free(
        self,
        network_id: NetworkId,
        first: IPAddress,
        last: IPAddress,
        skip: Collection[IPAddress] = (),
    ) -> IPAddress | None:
        return InUse(self.for_network(network_id) | set(skip)).lowest_free(first, last)

    def for_request(self, request_id: uuid.UUID) -> list[IpAllocation]:
        return sorted(
            (a for a in self.t.allocations.values() if a.request_id == request_id),
            key=lambda a: (a.address.version, int(a.address)),
        )

    def release_for_request(self, request_id: uuid.UUID) -> int:
        keys = [k for k, a in self.t.allocations.items() if a.request_id == request_id]
        for k in keys:
            del self.t.allocations[k]
        return len(keys)


class _Audit(_Repo):
    def append(self, event: AuditEvent) -> None:
        self.t.audit.append(event)

    def for_target(self, target_type: str, target_id: str) -> list[AuditEvent]:
        return [e for e in self.t.audit if (e.target_type, e.target_id) == (target_type, target_id)]

    def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
        events = [e for e in reversed(self.t.audit) if action is None or e.action == action]
        return events[:limit]

    def latest_for_target(
        self, target_type: str, target_id: str, actions: Collection[str]
    ) -> AuditEvent | None:
        wanted = set(actions)
        for e in reversed(self.t.audit):
            if (e.target_type, e.target_id) == (target_type, target_id) and e.action in wanted:
                return e
        return None

    def count_since(self, action: str, actor: str, since: dt.datetime) -> int:
        return sum(
            1 for e in self.t.audit if e.action == action and e.actor == actor and e.at >= since
        )


class _Outbox(_Repo):
    def add(self, message: OutboxMessage) -> None:
        self.t.outbox[message.id] = message

    def claim_unsent(self, limit: int) -> list[OutboxMessage]:
        unsent = [m for m in self.t.outbox.values() if m.sent_at is None]
        unsent.sort(key=lambda m: (m.created_at, str(m.id)))
        return unsent[:limit]

    def mark_sent(self, message_id: uuid.UUID, at: dt.datetime) -> None:
        msg = self.t.outbox[message_id]
        self.t.outbox[message_id] = attrs.evolve(msg, sent_at=at)

    def record_attempt(self, message_id: uuid.UUID) -> None:
        msg = self.t.outbox[message_id]
        self.t.outbox[message_id] = attrs.evolve(msg, attempts=msg.attempts + 1)

    def pending_count(self) -> int:
        return sum(1 for m in self.t.outbox.values() if m.sent_at is None)

    def oldest_unsent_at(self) -> dt.datetime | None:
        unsent = (m.created_at for m in self.t.outbox.values() if m.sent_at is None)
        return min(unsent, default=None)

    def unsent_correlation_ids(self) -> set[str]:
        return {m.correlation_id for m in self.t.outbox.values() if m.sent_at is None}


class _RouteServers(_Repo):
    def get(self, name: str) -> RouteServerState | None:
        return self.t.route_servers.get(name)

    def put(self, state: RouteServerState) -> None:
        self.t.route_servers[state.name] = state

    def list(self) -> builtins.list[RouteServerState]:
        return sorted(self.t.route_servers.values(), key=lambda s: s.name)


class _Observations(_Repo):
    def record_route_server(
        self, observation: RouteServerObservation, sessions: Sequence[SessionObservation]
    ) -> None:
        self.t.rs_observations[observation.server] = observation
        self.t.session_observations[observation.server] = tuple(
            sorted(sessions, key=lambda s: s.protocol)
        )

    def route_servers(self) -> builtins.list[RouteServerObservation]:
        return sorted(self.t.rs_observations.values(), key=lambda o: o.server)

    def sessions_for_asn(self, asn: Asn) -> builtins.list[SessionObservation]:
        return [
            s
            for server in sorted(self.t.session_observations)
            for s in self.t.session_observations[server]
            if s.asn == asn
        ]

    def forget_route_server(self, server: str) -> None:
        self.t.rs_observations.pop(server, None)
        self.t.session_observations.pop(server, None)

    def record_controller(self, observation: ControllerObservation) -> None:
        self.t.controller_observation["controller"] = observation

    def controller(self) -> ControllerObservation | None:
        return self.t.controller_observation.get("controller")

    def looking_glass(self, asn: Asn) -> LookingGlassSnapshot | None:
        return self.t.looking_glasses.get(asn.value)

    def put_looking_glass(self, snapshot: LookingGlassSnapshot) -> None:
        self.t.looking_glasses[snapshot.asn.value] = snapshot


class _NetworkFacts(_Repo):
    def put(self, entry: CachedFacts) -> None:
        self.t.network_facts[entry.asn] = entry

    def put_many(self, entries: Sequence[CachedFacts]) -> None:
        for entry in entries:
            self.put(entry)

    def get_many(self, asns: Collection[Asn]) -> dict[Asn, CachedFacts]:
        return {a: self.t.network_facts[a] for a in set(asns) if a in self.t.network_facts}

    def list(self) -> builtins.list[CachedFacts]:
        return [self.t.network_facts[a] for a in sorted(self.t.network_facts)]

    def set_override(self, override: MaxPrefixOverride) -> None:
        self.t.max_prefix_overrides[override.asn] = override

    def clear_override(self, asn: Asn) -> bool:
        return self.t.max_prefix_overrides.pop(asn, None) is not None

    def overrides(self, asns: Collection[Asn] | None = None) -> dict[Asn, MaxPrefixOverride]:
        held = self.t.max_prefix_overrides
        wanted = sorted(held) if asns is None else sorted(a for a in set(asns) if a in held)
        return {a: held[a] for a in wanted}


class _MemberFacts(_Repo):
    def get(self, request_id: uuid.UUID) -> MemberFacts | None:
        return self.t.member_facts.get(request_id)

    def get_many(self, request_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, MemberFacts]:
        held = self.t.member_facts
        return {r: held[r] for r in set(request_ids) if r in held}

    def put(self, facts: MemberFacts) -> None:
        if facts.request_id not in self.t.requests:
            raise NotFound(f"request {facts.request_id} not found")
        self.t.member_facts[facts.request_id] = facts

    def delete(self, request_id: uuid.UUID) -> bool:
        return self.t.member_facts.pop(request_id, None) is not None


class InMemoryUnitOfWork:
    """A unit of work over an :class:`InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.tables = store.tables
        self.users = _Users(self)
        self.credentials = _Credentials(self)
        self.asn_links = _AsnLinks(self)
        self.networks = _Networks(self)
        self.network_access = _Access(self)
        self.requests = _Requests(self)
        self.memberships = _Memberships(self)
        self.allocations = _Allocations(self)
        self.audit = _Audit(self)
        self.outbox = _Outbox(self)
        self.route_servers = _RouteServers(self)
        self.observations = _Observations(self)
        self.network_facts = _NetworkFacts(self)
        self.member_facts = _MemberFacts(self)
        self.web_sessions = InMemoryWebSessions(self)
        self.oauth_states = InMemoryOAuthStates(self)
        self.totp = InMemoryTotp(self)
        self.api_tokens = InMemoryApiTokens(self)
        self.idempotency = InMemoryIdempotency(self)
        self.notifications = InMemoryNotifications(self)
        self.notify_recipients = InMemoryRecipients(self)
        self.onboarding = InMemoryOnboarding(self, self.tables.requests.values)

    def __enter__(self) -> InMemoryUnitOfWork:
        self._store.lock.acquire()
        self.tables = self._store.tables.copy()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tables = self._store.tables
        self._store.lock.release()

    def commit(self) -> None:
        self._store.tables = self.tables
        self.tables = self._store.tables.copy()

    def rollback(self) -> None:
        self.tables = self._store.tables.copy()
