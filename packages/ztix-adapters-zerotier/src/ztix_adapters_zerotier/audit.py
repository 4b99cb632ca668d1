"""Lifecycle audit: every controller lifecycle action becomes an AuditEvent (actor
``system:controller-lifecycle``, target ``controller``) when a UnitOfWorkFactory is
given. Metadata is built by the ``*_metadata`` functions of each module and checked here
so a secret can never slip in."""

from __future__ import annotations

from collections.abc import Iterable

from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.records import Actor, AuditEvent, JsonDict
from ztix_core.usecases._common import audit

ACTOR = Actor.system("controller-lifecycle")
TARGET_TYPE = "controller"

READINESS_OK = "controller.readiness_passed"
READINESS_FAILED = "controller.readiness_failed"
RECONCILED = "controller.networks_reconciled"
RECONCILE_FAILED = "controller.reconcile_failed"
TOKEN_RELOADED = "controller.token_reloaded"
TOKEN_RELOAD_FAILED = "controller.token_reload_failed"
TOKEN_RELOAD_SIGNALLED = "controller.token_reload_signalled"
TOKEN_RELOAD_SIGNAL_REFUSED = "controller.token_reload_signal_refused"
BACKUP_CREATED = "controller.backup_created"
BACKUP_FAILED = "controller.backup_failed"
RESTORED = "controller.restored"
RESTORE_REFUSED = "controller.restore_refused"
DRILL_PASSED = "controller.drill_passed"
DRILL_FAILED = "controller.drill_failed"


def scrub(metadata: JsonDict, secrets: Iterable[str | None]) -> JsonDict:
    """``metadata`` with every occurrence of a secret replaced by ``***`` (a last line of
    defence: the builders never put secrets in)."""
    values = [s for s in secrets if s]

    def clean(value: object) -> object:
        if isinstance(value, str):
            for secret in values:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {str(clean(k)): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    out = clean(metadata)
    assert isinstance(out, dict)
    return out


def record(
    uow_factory: UnitOfWorkFactory | None,
    clock: Clock,
    action: str,
    target_id: str,
    metadata: JsonDict,
    *,
    secrets: Iterable[str | None] = (),
) -> AuditEvent | None:
    """Append one lifecycle event (in its own unit of work) when storage is given; returns
    it, or None without storage."""
    if uow_factory is None:
        return None
    with uow_factory() as uow:
        event = audit(
            uow, clock.now(), ACTOR, action, TARGET_TYPE, target_id, scrub(metadata, secrets)
        )
        uow.commit()
    return event
