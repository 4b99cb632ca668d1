"""Conversions between the core's attrs records and column values of the models."""

from __future__ import annotations

import ipaddress
from typing import Any

from ztix_adapters_sql.models import (
    AsnLinkRow,
    AuditEventRow,
    IpAllocationRow,
    JoinRequestRow,
    MembershipRow,
    NetworkRow,
    OutboxRow,
    RouteServerStateRow,
    UserRow,
)
from ztix_core.records import (
    AsnLink,
    AuditEvent,
    IpAllocation,
    JoinRequest,
    LinkSource,
    MemberFacts,
    Membership,
    OutboxMessage,
    RouteServerState,
    User,
    ZtNetwork,
)
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId

Values = dict[str, Any]


def username_key(username: str | None) -> str | None:
    """The unique, case-insensitive form of a username (Python's ``lower``, as the core)."""
    return username.lower() if username is not None else None


def user_values(user: User) -> Values:
    return {
        "id": user.id,
        "username": user.username,
        "username_key": username_key(user.username),
        "display_name": user.display_name,
        "email": user.email,
        "email_verified": user.email_verified,
        "verified_user": user.verified_user,
        "is_admin": user.is_admin,
        "peeringdb_id": user.peeringdb_id,
        "created_at": user.created_at,
        "disabled": user.disabled,
    }


def user_record(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        email_verified=row.email_verified,
        verified_user=row.verified_user,
        is_admin=row.is_admin,
        peeringdb_id=row.peeringdb_id,
        created_at=row.created_at,
        disabled=row.disabled,
    )


def asn_link_values(link: AsnLink) -> Values:
    return {
        "user_id": link.user_id,
        "asn": link.asn.value,
        "source": link.source.value,
        "can_manage_sessions": link.can_manage_sessions,
        "network_name": link.network_name,
        "created_at": link.created_at,
    }


def asn_link_record(row: AsnLinkRow) -> AsnLink:
    return AsnLink(
        user_id=row.user_id,
        asn=Asn(row.asn),
        source=LinkSource(row.source),
        can_manage_sessions=row.can_manage_sessions,
        network_name=row.network_name,
        created_at=row.created_at,
    )


def network_values(network: ZtNetwork) -> Values:
    return {
        "id": network.id.value,
        "name": network.name,
        "ipv4_prefix": str(network.ipv4_prefix),
        "ipv6_prefix": str(network.ipv6_prefix),
        "description": network.description,
        "retired": network.retired,
    }


def network_record(row: NetworkRow) -> ZtNetwork:
    return ZtNetwork(
        id=NetworkId(row.id),
        name=row.name,
        ipv4_prefix=ipaddress.IPv4Network(row.ipv4_prefix),
        ipv6_prefix=ipaddress.IPv6Network(row.ipv6_prefix),
        description=row.description,
        retired=row.retired,
    )


def request_values(request: JoinRequest) -> Values:
    return {
        "id": request.id,
        "user_id": request.user_id,
        "asn": request.asn.value,
        "network_id": request.network_id.value,
        "node_id": request.node_id.value,
        "status": request.status.value,
        "requested_at": request.requested_at,
        "updated_at": request.updated_at,
        "notes": request.notes,
        "reject_reason": request.reject_reason,
        "last_error": request.last_error,
        "retry_count": request.retry_count,
        "decided_at": request.decided_at,
        "decided_by": request.decided_by,
        "provisioned_at": request.provisioned_at,
    }


def request_record(row: JoinRequestRow) -> JoinRequest:
    return JoinRequest(
        id=row.id,
        user_id=row.user_id,
        asn=Asn(row.asn),
        network_id=NetworkId(row.network_id),
        node_id=NodeId(row.node_id),
        status=RequestStatus(row.status),
        requested_at=row.requested_at,
        updated_at=row.updated_at,
        notes=row.notes,
        reject_reason=row.reject_reason,
        last_error=row.last_error,
        retry_count=row.retry_count,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        provisioned_at=row.provisioned_at,
    )


def membership_values(m: Membership) -> Values:
    return {
        "id": m.id,
        "request_id": m.request_id,
        "network_id": m.network_id.value,
        "node_id": m.node_id.value,
        "asn": m.asn.value,
        "ipv4": str(m.ipv4),
        "ipv6": str(m.ipv6),
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "authorized": m.authorized,
        "config_generation": m.config_generation,
        "removal_generation": m.removal_generation,
    }


def membership_record(row: MembershipRow) -> Membership:
    return Membership(
        id=row.id,
        request_id=row.request_id,
        network_id=NetworkId(row.network_id),
        node_id=NodeId(row.node_id),
        asn=Asn(row.asn),
        ipv4=ipaddress.IPv4Address(row.ipv4),
        ipv6=ipaddress.IPv6Address(row.ipv6),
        created_at=row.created_at,
        updated_at=row.updated_at,
        authorized=row.authorized,
        config_generation=row.config_generation,
        removal_generation=row.removal_generation,
    )


_LOW64 = (1 << 64) - 1
_BIAS = 1 << 63


def member_facts_values(facts: MemberFacts) -> Values:
    return {
        "request_id": facts.request_id,
        "display_name": facts.display_name,
        "max_prefix_v4": facts.max_prefix_v4,
        "max_prefix_v6": facts.max_prefix_v6,
        "ipv4": str(facts.ipv4) if facts.ipv4 is not None else None,
        "ipv6": str(facts.ipv6) if facts.ipv6 is not None else None,
        "updated_at": facts.updated_at,
        "updated_by": facts.updated_by,
    }


def low64(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """The ``ip_allocations.low64`` key of ``address``."""
    return (int(address) & _LOW64) - _BIAS


def from_low64(
    key: int, like: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address with key ``key`` in the same /64 as ``like`` (IPv4: the address)."""
    value = (int(like) & ~_LOW64) | (key + _BIAS)
    return ipaddress.IPv4Address(value) if like.version == 4 else ipaddress.IPv6Address(value)


def allocation_values(a: IpAllocation) -> Values:
    return {
        "network_id": a.network_id.value,
        "address": str(a.address),
        "version": a.address.version,
        "request_id": a.request_id,
        "low64": low64(a.address),
    }


def allocation_record(row: IpAllocationRow) -> IpAllocation:
    return IpAllocation(
        network_id=NetworkId(row.network_id),
        address=ipaddress.ip_address(row.address),
        request_id=row.request_id,
    )


def audit_values(event: AuditEvent) -> Values:
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "event_metadata": event.metadata,
    }


def audit_record(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        metadata=dict(row.event_metadata or {}),
    )


def outbox_values(m: OutboxMessage) -> Values:
    return {
        "id": m.id,
        "topic": m.topic,
        "payload": m.payload,
        "created_at": m.created_at,
        "correlation_id": m.correlation_id,
        "sent_at": m.sent_at,
        "attempts": m.attempts,
    }


def outbox_record(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        topic=row.topic,
        payload=dict(row.payload or {}),
        created_at=row.created_at,
        correlation_id=row.correlation_id,
        sent_at=row.sent_at,
        attempts=row.attempts,
    )


def route_server_values(s: RouteServerState) -> Values:
    return {
        "name": s.name,
        "desired_generation": s.desired_generation,
        "applied_generation": s.applied_generation,
        "desired_digest": s.desired_digest,
        "applied_digest": s.applied_digest,
        "attempted_generation": s.attempted_generation,
        "last_error": s.last_error,
        "last_attempt_at": s.last_attempt_at,
        "last_applied_at": s.last_applied_at,
        "drift": s.drift,
        "drift_checked_at": s.drift_checked_at,
    }


def route_server_record(row: RouteServerStateRow) -> RouteServerState:
    return RouteServerState(
        name=row.name,
        desired_generation=row.desired_generation,
        applied_generation=row.applied_generation,
        desired_digest=row.desired_digest,
        applied_digest=row.applied_digest,
        attempted_generation=row.attempted_generation,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        last_applied_at=row.last_applied_at,
        drift=row.drift,
        drift_checked_at=row.drift_checked_at,
    )
