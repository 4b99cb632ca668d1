"""Notification intents, deliveries and operators' recipients: the core's notification
ports (:mod:`ztix_core.notify_ports`) on SQL.

``claim_unexpanded`` and ``claim_due`` lock with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so workers in several processes never take one row twice; SQLite's single writer lock
serialises them there. A claimed delivery is leased (``lease_until``) and the unit of work
commits before anything is sent: no transaction stays open across SMTP or HTTP.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import attrs
from sqlalchemy import delete, func, insert, or_, select, tuple_, update

from ztix_adapters_sql.models import (
    NotificationDeliveryRow,
    NotificationRow,
    NotifyRecipientRow,
    UserRow,
)
from ztix_adapters_sql.repositories._base import (
    SqlRepository,
    require_json,
    upsert,
    violation_error,
)
from ztix_core.errors import InvalidValue, NotFound
from ztix_core.notify_ports import (
    Channel,
    Delivery,
    DeliveryStatus,
    DueDelivery,
    NotificationIntent,
)
from ztix_core.values import Asn


def notification_values(intent: NotificationIntent) -> dict[str, Any]:
    """An intent as the ``notifications`` row's values."""
    return {
        "id": intent.id,
        "event": intent.event,
        "payload": intent.payload,
        "created_at": intent.created_at,
        "expanded_at": intent.expanded_at,
    }


def _intent(row: NotificationRow) -> NotificationIntent:
    return NotificationIntent(
        id=row.id,
        event=row.event,
        payload=dict(row.payload or {}),
        created_at=row.created_at,
        expanded_at=row.expanded_at,
    )


def _delivery(row: NotificationDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        notification_id=row.notification_id,
        channel=Channel(row.channel),
        target=row.target,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        lease_until=row.lease_until,
        last_error=row.last_error,
        finished_at=row.finished_at,
    )


def _delivery_values(d: Delivery) -> dict[str, object]:
    return {
        "id": d.id,
        "notification_id": d.notification_id,
        "channel": d.channel.value,
        "target": d.target,
        "status": d.status.value,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "lease_until": d.lease_until,
        "last_error": d.last_error,
        "finished_at": d.finished_at,
    }


class SqlNotificationRepository(SqlRepository):
    """Intents (``notifications``) and deliveries (``notification_deliveries``)."""

    def add(self, intent: NotificationIntent) -> None:
        require_json(intent.payload, "payload")
        what = f"notification {intent.id}"
        violation = self._insert(
            NotificationRow, notification_values(intent), what, savepoint=False
        )
        if violation is not None:
            raise violation_error(violation, what)

    def claim_unexpanded(self, limit: int) -> builtins.list[NotificationIntent]:
        stmt = (
            select(NotificationRow)
            .where(NotificationRow.expanded_at.is_(None))
            .order_by(NotificationRow.created_at, NotificationRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_intent(r) for r in self._all(stmt)]

    def expand(self, intent_id: uuid.UUID, deliveries: Sequence[Delivery], at: dt.datetime) -> None:
        result = self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.id == intent_id)
            .values(expanded_at=at)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"notification {intent_id} not found")
        if deliveries:
            for d in deliveries:
                if len(d.target) > 254:
                    raise InvalidValue("target", "at most 254 characters")
            self.session.execute(
                insert(NotificationDeliveryRow), [_delivery_values(d) for d in deliveries]
            )

    def claim_due(
        self,
        now: dt.datetime,
        limit: int,
        lease_until: dt.datetime,
        *,
        skip_targets: Collection[tuple[Channel, str]] = (),
    ) -> builtins.list[DueDelivery]:
        stmt = (
            select(NotificationDeliveryRow)
            .where(
                NotificationDeliveryRow.status == DeliveryStatus.PENDING.value,
                NotificationDeliveryRow.next_attempt_at <= now,
                or_(
                    NotificationDeliveryRow.lease_until.is_(None),
                    NotificationDeliveryRow.lease_until <= now,
                ),
            )
            .order_by(NotificationDeliveryRow.next_attempt_at, NotificationDeliveryRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if skip_targets:
            pairs = [(c.value, t) for c, t in skip_targets]
            stmt = stmt.where(
                tuple_(NotificationDeliveryRow.channel, NotificationDeliveryRow.target).not_in(
                    pairs
                )
            )
        rows = self._all(stmt)
        if not rows:
            return []
        ids = [r.id for r in rows]
        self.session.execute(
            update(NotificationDeliveryRow)
            .where(NotificationDeliveryRow.id.in_(ids))
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        intents = {
            r.id: _intent(r)
            for r in self._all(
                select(NotificationRow).where(
                    NotificationRow.id.in_({r.notification_id for r in rows})
                )
            )
        }
        return [
            DueDelivery(
                attrs.evolve(_delivery(r), lease_until=lease_until), intents[r.notification_id]
            )
            for r in rows
        ]

    def save(self, delivery: Delivery) -> None:
        values = _delivery_values(delivery)
        values.pop("id")
        result = self.session.execute(
            update(NotificationDeliveryRow)
            .where(NotificationDeliveryRow.id == delivery.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"delivery {delivery.id} not found")

    def deliveries_for(self, intent_id: uuid.UUID) -> builtins.list[Delivery]:
        rows = self._all(
            select(NotificationDeliveryRow)
            .where(NotificationDeliveryRow.notification_id == intent_id)
            .order_by(NotificationDeliveryRow.channel, NotificationDeliveryRow.target)
        )
        return [_delivery(r) for r in rows]

    def intents(
        self, event: str | None = None, limit: int = 100
    ) -> builtins.list[NotificationIntent]:
        stmt = (
            select(NotificationRow)
            .order_by(NotificationRow.created_at.desc(), NotificationRow.id.desc())
            .limit(limit)
        )
        if event is not None:
            stmt = stmt.where(NotificationRow.event == event)
        return [_intent(r) for r in self._all(stmt)]

    def counts(self) -> dict[DeliveryStatus, int]:
        out = dict.fromkeys(DeliveryStatus, 0)
        rows = self.session.execute(
            select(NotificationDeliveryRow.status, func.count()).group_by(
                NotificationDeliveryRow.status
            )
        )
        for status, count in rows:
            out[DeliveryStatus(status)] = int(count)
        return out


class SqlRecipientRepository(SqlRepository):
    """Operators' recipients per (user, ASN): a JSON list of addresses."""

    def set(self, user_id: uuid.UUID, asn: Asn, emails: Sequence[str], at: dt.datetime) -> None:
        if not emails:
            raise InvalidValue("recipients", "must not be empty (clear the row instead)")
        if self.session.scalar(select(UserRow.id).where(UserRow.id == user_id)) is None:
            raise NotFound(f"user {user_id} not found")
        values = {"user_id": user_id, "asn": asn.value, "emails": list(emails), "updated_at": at}
        self.session.execute(upsert(self.dialect, NotifyRecipientRow, values, ["user_id", "asn"]))

    def clear(self, user_id: uuid.UUID, asn: Asn) -> bool:
        result = self.session.execute(
            delete(NotifyRecipientRow).where(
                NotifyRecipientRow.user_id == user_id, NotifyRecipientRow.asn == asn.value
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def for_user(self, user_id: uuid.UUID) -> dict[Asn, tuple[str, ...]]:
        rows = self._all(
            select(NotifyRecipientRow)
            .where(NotifyRecipientRow.user_id == user_id)
            .order_by(NotifyRecipientRow.asn)
        )
        return {Asn(r.asn): tuple(r.emails) for r in rows}
