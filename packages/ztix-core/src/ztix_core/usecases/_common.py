"""Helpers every use case shares: the one place a status changes, and audit/outbox writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ztix_core.errors import InvalidTransition
from ztix_core.notifications import notify
from ztix_core.ports import Clock, UnitOfWork
from ztix_core.records import Actor, AuditEvent, JoinRequest, JsonDict, OutboxMessage, new_id
from ztix_core.status import RequestStatus, can_move

TOPIC_PROVISION = "provision_request"
TOPIC_DEPROVISION = "deprovision_request"
TOPIC_SYNC = "sync_route_servers"
TOPIC_LOOKING_GLASS = "looking_glass"


def audit(
    uow: UnitOfWork,
    at: dt.datetime,
    actor: Actor | str,
    action: str,
    target_type: str,
    target_id: str,
    metadata: JsonDict | None = None,
) -> AuditEvent:
    """Append one audit event in ``uow``."""
    event = AuditEvent(new_id(), at, str(actor), action, target_type, target_id, metadata or {})
    uow.audit.append(event)
    return event


def enqueue(uow: UnitOfWork, at: dt.datetime, topic: str, request: JoinRequest) -> None:
    """Write an outbox message about ``request`` in ``uow``."""
    uow.outbox.add(
        OutboxMessage(
            new_id(), topic, {"request_id": str(request.id)}, at, correlation_id=str(request.id)
        )
    )


def move(
    uow: UnitOfWork,
    clock: Clock,
    request: JoinRequest,
    target: RequestStatus,
    actor: Actor | str,
    metadata: JsonDict | None = None,
    **changes: Any,
) -> JoinRequest:
    """Change a request's status: the state machine's only door.

    Refuses a forbidden move with InvalidTransition (nothing written); otherwise stores the
    request by compare-and-set on its current status and writes exactly one audit event,
    and, for a move its operator is told about (approved from pending, rejected, active,
    failed), a notification intent in the same unit of work.
    """
    if not can_move(request.status, target):
        raise InvalidTransition(request.id, request.status.value, target.value)
    now = clock.now()
    updated = attrs.evolve(request, status=target, updated_at=now, **changes)
    uow.requests.update(updated, expected_status=request.status)
    meta: JsonDict = {"from": request.status.value, "to": target.value}
    meta.update(metadata or {})
    audit(uow, now, actor, f"request.{target.value}", "request", str(request.id), meta)
    if target in _TOLD or (target is RequestStatus.APPROVED and request.status is _PENDING):
        extra: JsonDict = {}
        if updated.reject_reason and target is RequestStatus.REJECTED:
            extra["reason"] = updated.reject_reason
        if updated.last_error and target is RequestStatus.FAILED:
            extra["error"] = updated.last_error
        notify(uow, now, f"request.{target.value}", {**request_facts(updated), **extra})
    return updated


_PENDING = RequestStatus.PENDING
#: Moves the request's operator is told about (approved only from pending: a retry is
#: the admins' business).
_TOLD = frozenset({RequestStatus.REJECTED, RequestStatus.ACTIVE, RequestStatus.FAILED})


def request_facts(request: JoinRequest) -> JsonDict:
    """What a notification says about a request."""
    return {
        "request_id": str(request.id),
        "user_id": str(request.user_id),
        "asn": request.asn.value,
        "network_id": request.network_id.value,
        "node_id": request.node_id.value,
        "status": request.status.value,
    }


#: A member's peering-LAN addresses changed: re-authorize it on the controller with the
#: new ones, then sync the route servers (:meth:`Provisioner.update_member`).
TOPIC_MEMBER_UPDATE = "update_member"
