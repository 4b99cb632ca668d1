"""Builders of valid records for tests (adapters' and the core's)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid

from ztix_core.records import (
    AsnLink,
    AuditEvent,
    JoinRequest,
    LinkSource,
    Membership,
    OutboxMessage,
    User,
    ZtNetwork,
    new_id,
)
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def user(username: str | None = "alice", **kw: object) -> User:
    fields: dict[str, object] = {
        "id": new_id(),
        "username": username,
        "display_name": (username or "anonymous").title(),
        "created_at": T0,
    }
    fields.update(kw)
    return User(**fields)  # type: ignore[arg-type]


def network(suffix: int = 1, **kw: object) -> ZtNetwork:
    fields: dict[str, object] = {
        "id": NetworkId(f"a1b2c3d4e5{suffix:06x}"),
        "name": f"lan{suffix}",
        "ipv4_prefix": ipaddress.IPv4Network(f"10.{suffix % 256}.0.0/24"),
        "ipv6_prefix": ipaddress.IPv6Network(f"fd00:{suffix:x}::/64"),
    }
    fields.update(kw)
    return ZtNetwork(**fields)  # type: ignore[arg-type]


def link(user_id: uuid.UUID, asn: int = 64500, **kw: object) -> AsnLink:
    fields: dict[str, object] = {
        "user_id": user_id,
        "asn": Asn(asn),
        "source": LinkSource.LOCAL,
        "created_at": T0,
    }
    fields.update(kw)
    return AsnLink(**fields)  # type: ignore[arg-type]


def request(
    user_id: uuid.UUID,
    network_id: NetworkId,
    asn: int = 64500,
    node: str = "abcdef0001",
    status: RequestStatus = RequestStatus.PENDING,
    at: dt.datetime = T0,
    **kw: object,
) -> JoinRequest:
    fields: dict[str, object] = {
        "id": new_id(),
        "user_id": user_id,
        "asn": Asn(asn),
        "network_id": network_id,
        "node_id": NodeId(node),
        "status": status,
        "requested_at": at,
        "updated_at": at,
    }
    fields.update(kw)
    return JoinRequest(**fields)  # type: ignore[arg-type]


def membership(
    req: JoinRequest, v4: str = "10.1.0.2", v6: str = "fd00:1::2", **kw: object
) -> Membership:
    fields: dict[str, object] = {
        "id": new_id(),
        "request_id": req.id,
        "network_id": req.network_id,
        "node_id": req.node_id,
        "asn": req.asn,
        "ipv4": ipaddress.IPv4Address(v4),
        "ipv6": ipaddress.IPv6Address(v6),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(kw)
    return Membership(**fields)  # type: ignore[arg-type]


def audit_event(
    target_id: str,
    action: str = "request.submitted",
    at: dt.datetime = T0,
    actor: str = "system:test",
    **metadata: object,
) -> AuditEvent:
    return AuditEvent(new_id(), at, actor, action, "request", target_id, dict(metadata))


def outbox(topic: str = "provision_request", at: dt.datetime = T0) -> OutboxMessage:
    return OutboxMessage(new_id(), topic, {"request_id": str(new_id())}, at, "corr")
