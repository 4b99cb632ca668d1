"""Domain records (attrs, frozen). Change them with ``attrs.evolve``; persist via the ports."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import uuid
from typing import Any

import attrs

from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId

JsonDict = dict[str, Any]


def new_id() -> uuid.UUID:
    """A fresh random id for a record."""
    return uuid.uuid4()


@attrs.frozen
class Actor:
    """Who does something: a signed-in user or a named part of the system."""

    kind: str  # "user" | "system"
    id: str
    is_admin: bool = False

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name, is_admin=True)

    @classmethod
    def user(cls, user: User) -> Actor:
        return cls("user", str(user.id), is_admin=user.is_admin)

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@attrs.frozen
class User:
    """A person who signs in (PeeringDB or a local account)."""

    id: uuid.UUID
    username: str | None
    display_name: str
    email: str | None = None
    email_verified: bool = False
    verified_user: bool = False
    is_admin: bool = False
    peeringdb_id: int | None = None
    created_at: dt.datetime | None = None
    #: A disabled account cannot sign in; its requests and audit history stay.
    disabled: bool = False


class LinkSource(enum.Enum):
    """Where an ASN link came from."""

    PEERINGDB = "peeringdb"
    LOCAL = "local"


@attrs.frozen
class AsnLink:
    """An ASN a user may request for. ``can_manage_sessions`` is PeeringDB's write bit."""

    user_id: uuid.UUID
    asn: Asn
    source: LinkSource
    can_manage_sessions: bool = False
    network_name: str | None = None
    created_at: dt.datetime | None = None


@attrs.frozen
class ZtNetwork:
    """A ZeroTier network that carries a peering LAN."""

    id: NetworkId
    name: str
    ipv4_prefix: ipaddress.IPv4Network
    ipv6_prefix: ipaddress.IPv6Network
    description: str = ""
    #: Taken out of the settings: kept for its history, closed to new requests.
    retired: bool = False


@attrs.frozen
class NetworkAccess:
    """A local user restricted to this network (no rows for a user = unrestricted)."""

    user_id: uuid.UUID
    network_id: NetworkId


@attrs.frozen
class JoinRequest:
    """An operator's request to join a peering LAN with one ZeroTier node."""

    id: uuid.UUID
    user_id: uuid.UUID
    asn: Asn
    network_id: NetworkId
    node_id: NodeId
    status: RequestStatus
    requested_at: dt.datetime
    updated_at: dt.datetime
    notes: str = ""
    reject_reason: str | None = None
    last_error: str | None = None
    retry_count: int = 0
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    provisioned_at: dt.datetime | None = None


@attrs.frozen
class Membership:
    """The provisioned side of a request: node, pinned addresses, route-server generation.

    ``config_generation`` is the first route-server desired-state generation that includes
    this member; the request is active once every server has applied at least that one.
    ``removal_generation`` is the first generation without it, once it is leaving.
    """

    id: uuid.UUID
    request_id: uuid.UUID
    network_id: NetworkId
    node_id: NodeId
    asn: Asn
    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address
    created_at: dt.datetime
    updated_at: dt.datetime
    authorized: bool = False
    config_generation: int | None = None
    removal_generation: int | None = None


@attrs.frozen
class IpAllocation:
    """One peering-LAN address held by one request on one network."""

    network_id: NetworkId
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    request_id: uuid.UUID


@attrs.frozen
class RouteServer:
    """A configured route server as the core sees it (adapters hold the rest)."""

    name: str
    asn: Asn
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None


@attrs.frozen
class RouteServerState:
    """Persisted apply state of one route server."""

    name: str
    desired_generation: int = 0
    applied_generation: int = 0
    desired_digest: str = ""
    applied_digest: str = ""
    attempted_generation: int = 0
    last_error: str | None = None
    last_attempt_at: dt.datetime | None = None
    last_applied_at: dt.datetime | None = None
    #: What the last drift check found differing on the server (file names, protocol
    #: names; never file contents), or None when it matched the desired state.
    drift: str | None = None
    #: When the server was last checked for drift (None: never).
    drift_checked_at: dt.datetime | None = None

    @property
    def behind(self) -> bool:
        return self.applied_generation < self.desired_generation


@attrs.frozen
class AuditEvent:
    """An append-only record of something that happened. Never updated or deleted."""

    id: uuid.UUID
    at: dt.datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    metadata: JsonDict = attrs.field(factory=dict)


@attrs.frozen
class OutboxMessage:
    """A message to publish to the task queue, written in the same unit of work as its cause."""

    id: uuid.UUID
    topic: str
    payload: JsonDict
    created_at: dt.datetime
    correlation_id: str = ""
    sent_at: dt.datetime | None = None
    attempts: int = 0


# --------------------------------------------------------------------------- observations
# What the worker last saw of the live systems, for the pages: the web never talks to a
# route server or the controller itself (it holds neither the SSH key nor the API token).


@attrs.frozen
class SessionObservation:
    """One member's BGP session on one route server, as the worker last read it."""

    server: str
    asn: Asn
    protocol: str
    state: str
    observed_at: dt.datetime
    since: str = ""
    info: str = ""
    imported: int = 0
    filtered: int = 0
    exported: int = 0
    last_error: str = ""

    @property
    def established(self) -> bool:
        """BIRD says ``up`` / ``Established`` for a session that exchanges routes."""
        return self.state in ("up", "Established") or self.info.startswith("Established")


@attrs.frozen
class RouteServerObservation:
    """One route server as the worker last read it: reachable or why not, and how many of
    its member sessions were established then."""

    server: str
    reachable: bool
    observed_at: dt.datetime
    message: str = ""
    sessions_total: int = 0
    sessions_established: int = 0


@attrs.frozen
class ObservedCheck:
    """One readiness check of the controller, with what to do when it fails."""

    name: str
    ok: bool
    message: str = ""
    remediation: str = ""


@attrs.frozen
class ControllerObservation:
    """The controller's readiness as the worker last checked it."""

    observed_at: dt.datetime
    checks: tuple[ObservedCheck, ...] = ()

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


@attrs.frozen
class MemberFacts:
    """What an admin set for one member (one request): a display name for the route
    servers' descriptions, max-prefix limits that win over every other source, and fixed
    peering-LAN addresses chosen at approval. None means "not set" (the usual source
    holds). Validated by :mod:`ztix_core.member_facts` before it is stored."""

    request_id: uuid.UUID
    display_name: str | None = None
    max_prefix_v4: int | None = None
    max_prefix_v6: int | None = None
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None
    updated_at: dt.datetime | None = None
    updated_by: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing is set."""
        return (
            self.display_name,
            self.max_prefix_v4,
            self.max_prefix_v6,
            self.ipv4,
            self.ipv6,
        ) == (None,) * 5
