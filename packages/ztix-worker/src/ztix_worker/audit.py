"""Audit events the worker itself writes (relay, reconciler)."""

from __future__ import annotations

import datetime as dt

from ztix_core.ports import UnitOfWork
from ztix_core.records import Actor, AuditEvent, JsonDict, new_id

WORKER = Actor.system("worker")
RECONCILER = Actor.system("reconciler")


def audit(
    uow: UnitOfWork,
    at: dt.datetime,
    action: str,
    target_type: str,
    target_id: str,
    metadata: JsonDict | None = None,
    actor: Actor = WORKER,
) -> None:
    """Append one event in ``uow`` (committed with the rest of the unit)."""
    uow.audit.append(
        AuditEvent(new_id(), at, str(actor), action, target_type, target_id, metadata or {})
    )
