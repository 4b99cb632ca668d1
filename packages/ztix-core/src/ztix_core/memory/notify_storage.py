"""In-memory notification storage: intents, deliveries, recipients (see
:mod:`ztix_core.notify_ports`)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import attrs

from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.notify_ports import (
    Channel,
    Delivery,
    DeliveryStatus,
    DueDelivery,
    NotificationIntent,
)
from ztix_core.values import Asn


class _NotifyTables(Protocol):
    users: dict[uuid.UUID, Any]
    notifications: dict[uuid.UUID, NotificationIntent]
    deliveries: dict[uuid.UUID, Delivery]
    notify_recipients: dict[tuple[uuid.UUID, Asn], tuple[str, ...]]


class _HasTables(Protocol):
    @property
    def tables(self) -> _NotifyTables: ...


class InMemoryNotifications:
    """Intents and deliveries of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def add(self, intent: NotificationIntent) -> None:
        try:
            json.dumps(intent.payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValue("payload", f"must be JSON-serialisable: {exc}") from None
        table = self._uow.tables.notifications
        if intent.id in table:
            raise DuplicateRecord(f"notification {intent.id} exists")
        table[intent.id] = intent

    def claim_unexpanded(self, limit: int) -> list[NotificationIntent]:
        waiting = [i for i in self._uow.tables.notifications.values() if i.expanded_at is None]
        return sorted(waiting, key=lambda i: (i.created_at, str(i.id)))[:limit]

    def expand(self, intent_id: uuid.UUID, deliveries: Sequence[Delivery], at: dt.datetime) -> None:
        tables = self._uow.tables
        intent = tables.notifications.get(intent_id)
        if intent is None:
            raise NotFound(f"notification {intent_id} not found")
        for d in deliveries:
            if d.id in tables.deliveries:
                raise DuplicateRecord(f"delivery {d.id} exists")
            tables.deliveries[d.id] = d
        tables.notifications[intent_id] = attrs.evolve(intent, expanded_at=at)

    def claim_due(
        self,
        now: dt.datetime,
        limit: int,
        lease_until: dt.datetime,
        *,
        skip_targets: Collection[tuple[Channel, str]] = (),
    ) -> list[DueDelivery]:
        tables = self._uow.tables
        skip = set(skip_targets)
        due = sorted(
            (
                d
                for d in tables.deliveries.values()
                if d.status is DeliveryStatus.PENDING
                and d.next_attempt_at <= now
                and (d.lease_until is None or d.lease_until <= now)
                and (d.channel, d.target) not in skip
            ),
            key=lambda d: (d.next_attempt_at, str(d.id)),
        )[:limit]
        out = []
        for d in due:
            leased = attrs.evolve(d, lease_until=lease_until)
            tables.deliveries[d.id] = leased
            out.append(DueDelivery(leased, tables.notifications[d.notification_id]))
        return out

    def save(self, delivery: Delivery) -> None:
        table = self._uow.tables.deliveries
        if delivery.id not in table:
            raise NotFound(f"delivery {delivery.id} not found")
        table[delivery.id] = delivery

    def deliveries_for(self, intent_id: uuid.UUID) -> list[Delivery]:
        found = [d for d in self._uow.tables.deliveries.values() if d.notification_id == intent_id]
        return sorted(found, key=lambda d: (d.channel.value, d.target))

    def intents(self, event: str | None = None, limit: int = 100) -> list[NotificationIntent]:
        found = [
            i for i in self._uow.tables.notifications.values() if event is None or i.event == event
        ]
        return sorted(found, key=lambda i: (i.created_at, str(i.id)), reverse=True)[:limit]

    def counts(self) -> dict[DeliveryStatus, int]:
        out = dict.fromkeys(DeliveryStatus, 0)
        for d in self._uow.tables.deliveries.values():
            out[d.status] += 1
        return out


class InMemoryRecipients:
    """Operators' recipients of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def set(self, user_id: uuid.UUID, asn: Asn, emails: Sequence[str], at: dt.datetime) -> None:
        if not emails:
            raise InvalidValue("recipients", "must not be empty (clear the row instead)")
        if user_id not in self._uow.tables.users:
            raise NotFound(f"user {user_id} not found")
        self._uow.tables.notify_recipients[(user_id, asn)] = tuple(emails)

    def clear(self, user_id: uuid.UUID, asn: Asn) -> bool:
        return self._uow.tables.notify_recipients.pop((user_id, asn), None) is not None

    def for_user(self, user_id: uuid.UUID) -> dict[Asn, tuple[str, ...]]:
        table = self._uow.tables.notify_recipients
        return {asn: table[(uid, asn)] for uid, asn in sorted(table) if uid == user_id}
