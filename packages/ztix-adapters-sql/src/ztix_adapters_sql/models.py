"""SQLAlchemy 2 models (typed, ``Mapped[]``): one table per repository of the core, plus
OAuth transient state and server-side web sessions.

Rules live in the database too, not only in Python: hex-id and ASN CHECKs, one live join
request per (asn, network) as a partial unique index, memberships unique per request and per
(network, node), addresses unique per (network, address), usernames unique lowercase.
The Alembic migrations in :mod:`ztix_adapters_sql.migrations` must produce exactly this
schema (a test compares them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ztix_adapters_sql.types import UtcDateTime, json_type
from ztix_core.status import LIVE_STATUSES, RequestStatus

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: ``WHERE`` of the partial unique index: the statuses that hold an (asn, network) slot.
LIVE_WHERE = "status IN ({})".format(
    ", ".join(f"'{s.value}'" for s in sorted(LIVE_STATUSES, key=lambda s: s.value))
)
_ALL_STATUSES = ", ".join(f"'{s.value}'" for s in RequestStatus)
_HEX = "0123456789abcdef"
ASN_MAX = 4_294_967_294

# SQLite autoincrements only an INTEGER PRIMARY KEY.
_BigSerial = BigInteger().with_variant(Integer(), "sqlite")


def _hex_check(column: str, length: int) -> str:
    """Portable (PostgreSQL and SQLite) test that ``column`` is ``length`` lowercase hex."""
    return f"length({column}) = {length} AND ltrim({column}, '{_HEX}') = ''"


def _asn_check(column: str) -> str:
    return f"{column} BETWEEN 1 AND {ASN_MAX}"


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names."""

    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    """A person who signs in. ``username_key`` is the lowercased username, unique."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    username: Mapped[str | None] = mapped_column(String(150))
    username_key: Mapped[str | None] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_user: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    peeringdb_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint(
            "(username IS NULL) = (username_key IS NULL)",
            name="username_key",
        ),
        CheckConstraint(
            "username_key IS NULL OR username_key = lower(username_key)",
            name="username_key_lower",
        ),
    )


class CredentialRow(Base):
    """A local password hash, one per user."""

    __tablename__ = "credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(Text)


class AsnLinkRow(Base):
    """An ASN a user may request for."""

    __tablename__ = "asn_links"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    can_manage_sessions: Mapped[bool] = mapped_column(Boolean, default=False)
    network_name: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(_asn_check("asn"), name="asn_range"),
        CheckConstraint("source IN ('peeringdb', 'local')", name="source"),
    )


class NetworkRow(Base):
    """A ZeroTier network carrying a peering LAN."""

    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ipv4_prefix: Mapped[str] = mapped_column(String(18))
    ipv6_prefix: Mapped[str] = mapped_column(String(43))
    description: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (CheckConstraint(_hex_check("id", 16), name="id_hex16"),)


class NetworkAccessRow(Base):
    """A user restricted to a network."""

    __tablename__ = "network_access"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    network_id: Mapped[str] = mapped_column(String(16), ForeignKey("networks.id"), primary_key=True)


class JoinRequestRow(Base):
    """A join request. The partial unique index keeps one live request per (asn, network)."""

    __tablename__ = "join_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    asn: Mapped[int] = mapped_column(BigInteger)
    network_id: Mapped[str] = mapped_column(String(16), ForeignKey("networks.id"))
    node_id: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    reject_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    provisioned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(_asn_check("asn"), name="asn_range"),
        CheckConstraint(_hex_check("node_id", 10), name="node_id_hex10"),
        CheckConstraint(f"status IN ({_ALL_STATUSES})", name="status"),
        CheckConstraint("retry_count >= 0", name="retry_count"),
        Index(
            "uq_join_requests_live",
            "asn",
            "network_id",
            unique=True,
            postgresql_where=text(LIVE_WHERE),
            sqlite_where=text(LIVE_WHERE),
        ),
        # The admin queue: status + network, newest first.
        Index("ix_join_requests_queue", "network_id", "status", "requested_at", "id"),
        # Newest first without a status filter, and with only a status filter.
        Index("ix_join_requests_status_time", "status", "requested_at", "id"),
        # The admin queue's counts: small, as PostgreSQL deduplicates its equal keys.
        Index("ix_join_requests_status_network", "status", "network_id"),
        Index("ix_join_requests_requested_at", "requested_at", "id"),
        # An operator's dashboard.
        Index("ix_join_requests_user_time", "user_id", "requested_at", "id"),
        Index("ix_join_requests_asn_time", "asn", "requested_at", "id"),
        Index("ix_join_requests_node", "network_id", "node_id"),
        # The IX-F export's cache check: the newest change of any request.
        Index("ix_join_requests_updated_at", "updated_at"),
    )


class MembershipRow(Base):
    """The provisioned side of a request."""

    __tablename__ = "memberships"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("join_requests.id"), unique=True)
    network_id: Mapped[str] = mapped_column(String(16), ForeignKey("networks.id"))
    node_id: Mapped[str] = mapped_column(String(10))
    asn: Mapped[int] = mapped_column(BigInteger)
    ipv4: Mapped[str] = mapped_column(String(15))
    ipv6: Mapped[str] = mapped_column(String(39))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    authorized: Mapped[bool] = mapped_column(Boolean, default=False)
    config_generation: Mapped[int | None] = mapped_column(BigInteger)
    removal_generation: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(_asn_check("asn"), name="asn_range"),
        CheckConstraint(_hex_check("node_id", 10), name="node_id_hex10"),
        Index("uq_memberships_network_node", "network_id", "node_id", unique=True),
    )


class IpAllocationRow(Base):
    """A peering-LAN address held by a request; the primary key makes it unique per network."""

    __tablename__ = "ip_allocations"

    network_id: Mapped[str] = mapped_column(String(16), ForeignKey("networks.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(39), primary_key=True)
    version: Mapped[int] = mapped_column(SmallInteger)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("join_requests.id"), index=True)
    #: The address's low 64 bits as a signed 64-bit integer (value - 2**63): consecutive
    #: addresses inside one /64 (or an IPv4 prefix) have consecutive keys, so the lowest
    #: free address is found by an index walk in the database (see ``addresses.py``).
    #: NULL only for rows a release before 0013 wrote while the upgrade ran; filled in
    #: when met.
    low64: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("version IN (4, 6)", name="version"),
        Index("ix_ip_allocations_low64", "network_id", "version", "low64"),
    )


class AuditEventRow(Base):
    """An audit event. ``seq`` keeps insertion order; rows are never updated or deleted."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(_BigSerial, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(200))
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", json_type())

    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id", "seq"),
        Index("ix_audit_events_action", "action", "seq"),
        Index("ix_audit_events_action_actor_at", "action", "actor", "at"),
    )


class OutboxRow(Base):
    """A message on its way to the task queue."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    correlation_id: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "ix_outbox_unsent",
            "created_at",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )


class RouteServerStateRow(Base):
    """Apply state of one route server."""

    __tablename__ = "route_server_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    desired_generation: Mapped[int] = mapped_column(BigInteger, default=0)
    applied_generation: Mapped[int] = mapped_column(BigInteger, default=0)
    desired_digest: Mapped[str] = mapped_column(String(128), default="")
    applied_digest: Mapped[str] = mapped_column(String(128), default="")
    attempted_generation: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_applied_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    drift: Mapped[str | None] = mapped_column(Text)
    drift_checked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RouteServerObservationRow(Base):
    """What the worker last saw of one route server (reachable or why not; session counts)."""

    __tablename__ = "route_server_observations"

    server: Mapped[str] = mapped_column(String(100), primary_key=True)
    reachable: Mapped[bool] = mapped_column(Boolean)
    observed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    message: Mapped[str] = mapped_column(Text, default="")
    sessions_total: Mapped[int] = mapped_column(Integer, default=0)
    sessions_established: Mapped[int] = mapped_column(Integer, default=0)


class SessionObservationRow(Base):
    """One member BGP session on one route server, as the worker last read it."""

    __tablename__ = "session_observations"
    __table_args__ = (Index("ix_session_observations_asn", "asn"),)

    server: Mapped[str] = mapped_column(String(100), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(100), primary_key=True)
    asn: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    since: Mapped[str] = mapped_column(String(40), default="")
    info: Mapped[str] = mapped_column(Text, default="")
    imported: Mapped[int] = mapped_column(Integer, default=0)
    filtered: Mapped[int] = mapped_column(Integer, default=0)
    exported: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class ControllerObservationRow(Base):
    """The controller's last readiness reading (a single row, ``name = 'controller'``)."""

    __tablename__ = "controller_observations"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    observed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    checks: Mapped[Any] = mapped_column(json_type())


class LookingGlassRow(Base):
    """A member's looking glass: its last reading (every server's answer, as JSON) and
    when a fresh one was last asked for."""

    __tablename__ = "looking_glass"
    __table_args__ = (CheckConstraint(_asn_check("asn"), name="asn_range"),)

    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    observed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    servers: Mapped[Any] = mapped_column(json_type())


class NetworkFactsRow(Base):
    """The PeeringDB cache: one row per ASN asked about. ``facts`` is the record (NULL when
    PeeringDB has no network, or never answered: then ``fetched_at`` is NULL too)."""

    __tablename__ = "network_facts"
    __table_args__ = (CheckConstraint(_asn_check("asn"), name="asn_range"),)

    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    facts: Mapped[Any | None] = mapped_column(json_type())
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    checked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    error: Mapped[str] = mapped_column(Text, default="")


class MaxPrefixOverrideRow(Base):
    """An admin's max-prefix for one ASN (either family may be NULL: PeeringDB's holds)."""

    __tablename__ = "max_prefix_overrides"
    __table_args__ = (
        CheckConstraint(_asn_check("asn"), name="asn_range"),
        CheckConstraint(
            "max_prefix_v4 IS NOT NULL OR max_prefix_v6 IS NOT NULL", name="one_family"
        ),
        CheckConstraint(
            "(max_prefix_v4 IS NULL OR max_prefix_v4 >= 1) "
            "AND (max_prefix_v6 IS NULL OR max_prefix_v6 >= 1)",
            name="positive",
        ),
    )

    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    max_prefix_v4: Mapped[int | None] = mapped_column(Integer)
    max_prefix_v6: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class MemberFactsRow(Base):
    """What an admin set for one member (one request); NULL: not set."""

    __tablename__ = "member_facts"
    __table_args__ = (
        CheckConstraint(
            "(max_prefix_v4 IS NULL OR max_prefix_v4 BETWEEN 1 AND 10000000) "
            "AND (max_prefix_v6 IS NULL OR max_prefix_v6 BETWEEN 1 AND 10000000)",
            name="max_prefix_range",
        ),
    )

    request_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("join_requests.id", ondelete="CASCADE"), primary_key=True
    )
    display_name: Mapped[str | None] = mapped_column(String(120))
    max_prefix_v4: Mapped[int | None] = mapped_column(Integer)
    max_prefix_v6: Mapped[int | None] = mapped_column(Integer)
    ipv4: Mapped[str | None] = mapped_column(String(15))
    ipv6: Mapped[str | None] = mapped_column(String(39))
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class OAuthStateRow(Base):
    """A sign-in in flight: the OAuth ``state``, OIDC nonce and PKCE verifier, until expiry."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    nonce: Mapped[str] = mapped_column(String(200))
    code_verifier: Mapped[str] = mapped_column(String(200))
    redirect_to: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class WebSessionRow(Base):
    """A server-side web session, keyed by a hash of the cookie's token."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class TotpCredentialRow(Base):
    """A user's TOTP secret; ``confirmed_at`` null while enrolment waits for the first
    code, ``last_step`` the newest accepted time step (replays are refused)."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("length(secret) > 0", name="secret_not_empty"),)


class TotpRecoveryCodeRow(Base):
    """A single-use recovery code: its hash, and when it was used."""

    __tablename__ = "totp_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("totp_credentials.user_id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    code_hash: Mapped[str] = mapped_column(Text)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("length(code_hash) > 0", name="code_hash_not_empty"),)


class ApiTokenRow(Base):
    """An API token: the SHA-256 of its secret (unique), never the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("scope IN ('operator', 'admin')", name="scope"),
        CheckConstraint("length(secret_hash) = 64", name="secret_hash_len"),
    )


class IdempotencyKeyRow(Base):
    """A join request filed under a user's ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("join_requests.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class NotificationRow(Base):
    """A notification intent, written with the change it reports."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expanded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "ix_notifications_unexpanded",
            "created_at",
            "id",
            postgresql_where=text("expanded_at IS NULL"),
            sqlite_where=text("expanded_at IS NULL"),
        ),
        Index("ix_notifications_event_created_at", "event", "created_at"),
    )


class NotificationDeliveryRow(Base):
    """One notification to one recipient, with its retry schedule."""

    __tablename__ = "notification_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
        CheckConstraint("status IN ('pending', 'delivered', 'gave_up')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "ix_notification_deliveries_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class NotifyRecipientRow(Base):
    """Who gets an operator's mail for one of their ASNs."""

    __tablename__ = "notify_recipients"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    emails: Mapped[list[str]] = mapped_column(json_type())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


#: Every table, children before parents (the order to empty them in).
TABLES_CHILD_FIRST = [t.name for t in reversed(Base.metadata.sorted_tables)]
