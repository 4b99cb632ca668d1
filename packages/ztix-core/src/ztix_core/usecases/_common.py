"""Helpers every use case shares: the one place a status changes, and audit/outbox writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ztix_core.errors import InvalidTransition
from ztix_core.ports import Clock, UnitOfWork
from ztix_core.records import Actor, AuditEvent, JoinRequest, JsonDict, OutboxMessage, new_id
from ztix_core.status import RequestStatus, can_move

TOPIC_PROVISION = "provision_request"
TOPIC_DEPROVISION = "deprovision_request"
TOPIC_SYNC = "sync_route_servers"


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
    request by compare-and-set on its current status and writes exactly one audit event.
    """
    if not can_move(request.status, target):
        raise InvalidTransition(request.id, request.status.value, target.value)
    now = clock.now()
    updated = attrs.evolve(request, status=target, updated_at=now, **changes)
    uow.requests.update(updated, expected_status=request.status)
    meta: JsonDict = {"from": request.status.value, "to": target.value}
    meta.update(metadata or {})
    audit(uow, now, actor, f"request.{target.value}", "request", str(request.id), meta)
    return updated


#: A member's peering-LAN addresses changed: re-authorize it on the controller with the
#: new ones, then sync the route servers (:meth:`Provisioner.update_member`).
TOPIC_MEMBER_UPDATE = "update_member"
