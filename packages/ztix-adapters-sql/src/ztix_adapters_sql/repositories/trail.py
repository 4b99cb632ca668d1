"""The append-only audit trail and the outbox."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Collection

from sqlalchemy import Select, bindparam, func, select, update

from ztix_adapters_sql.mapping import audit_record, audit_values, outbox_record, outbox_values
from ztix_adapters_sql.models import AuditEventRow, OutboxRow
from ztix_adapters_sql.repositories._base import SqlRepository, require_json, violation_error
from ztix_core.errors import NotFound
from ztix_core.records import AuditEvent, OutboxMessage

_COUNT_SINCE = (
    select(func.count())
    .select_from(AuditEventRow)
    .where(
        AuditEventRow.action == bindparam("action"),
        AuditEventRow.actor == bindparam("actor"),
        AuditEventRow.at >= bindparam("since"),
    )
)


class SqlAuditRepository(SqlRepository):
    """Audit events: insert and read only (PostgreSQL refuses UPDATE/DELETE by trigger)."""

    def append(self, event: AuditEvent) -> None:
        require_json(event.metadata, "metadata")
        what = f"audit event {event.id}"
        violation = self._insert(AuditEventRow, audit_values(event), what, savepoint=False)
        if violation is not None:
            raise violation_error(violation, what)

    def for_target(self, target_type: str, target_id: str) -> builtins.list[AuditEvent]:
        rows = self._all(
            select(AuditEventRow)
            .where(AuditEventRow.target_type == target_type, AuditEventRow.target_id == target_id)
            .order_by(AuditEventRow.seq)
        )
        return [audit_record(r) for r in rows]

    def recent(self, limit: int = 100, action: str | None = None) -> builtins.list[AuditEvent]:
        stmt = select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(limit)
        if action is not None:
            stmt = stmt.where(AuditEventRow.action == action)
        return [audit_record(r) for r in self._all(stmt)]

    def latest_statement(
        self, target_type: str, target_id: str, actions: Collection[str]
    ) -> Select[AuditEventRow]:
        """The SELECT behind :meth:`latest_for_target` (a test explains it).

        ``target_id`` is a one-value range, ordered like the target index: with an equality
        PostgreSQL drops the fixed columns from the ORDER BY and walks the primary key
        backwards through every newer event of any target (~150 ms past 250 000 events for
        a server whose last apply is old); this way it reads the target index backwards
        from the target's newest event (under 1 ms)."""
        return (
            select(AuditEventRow)
            .where(
                AuditEventRow.target_type == target_type,
                AuditEventRow.target_id >= target_id,
                AuditEventRow.target_id <= target_id,
                AuditEventRow.action.in_(sorted(actions)),
            )
            .order_by(
                AuditEventRow.target_type.desc(),
                AuditEventRow.target_id.desc(),
                AuditEventRow.seq.desc(),
            )
            .limit(1)
        )

    def latest_for_target(
        self, target_type: str, target_id: str, actions: Collection[str]
    ) -> AuditEvent | None:
        if not actions:
            return None
        row = self._first(self.latest_statement(target_type, target_id, actions))
        return audit_record(row) if row is not None else None

    def count_since(self, action: str, actor: str, since: dt.datetime) -> int:
        total = self.session.scalar(
            _COUNT_SINCE, {"action": action, "actor": actor, "since": since}
        )
        return int(total or 0)


class SqlOutboxRepository(SqlRepository):
    """Outbox rows. ``claim_unsent`` locks with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
    relays in several processes never claim one message twice; SQLite's single writer lock
    (units begin ``IMMEDIATE``) serialises relays there."""

    def add(self, message: OutboxMessage) -> None:
        require_json(message.payload, "payload")
        what = f"outbox message {message.id}"
        violation = self._insert(OutboxRow, outbox_values(message), what, savepoint=False)
        if violation is not None:
            raise violation_error(violation, what)

    def claim_unsent(self, limit: int) -> builtins.list[OutboxMessage]:
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.sent_at.is_(None))
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [outbox_record(r) for r in self._all(stmt)]

    def _change(self, message_id: uuid.UUID, **values: object) -> None:
        result = self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"outbox message {message_id} not found")

    def mark_sent(self, message_id: uuid.UUID, at: dt.datetime) -> None:
        self._change(message_id, sent_at=at)

    def record_attempt(self, message_id: uuid.UUID) -> None:
        self._change(message_id, attempts=OutboxRow.attempts + 1)

    def unsent_correlation_ids(self) -> set[str]:
        stmt = select(OutboxRow.correlation_id).where(OutboxRow.sent_at.is_(None)).distinct()
        return set(self.session.scalars(stmt))

    def pending_count(self) -> int:
        total = self.session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))
        )
        return int(total or 0)

    def oldest_unsent_at(self) -> dt.datetime | None:
        # the partial index ix_outbox_unsent (created_at, id) answers this alone
        stmt = (
            select(OutboxRow.created_at)
            .where(OutboxRow.sent_at.is_(None))
            .order_by(OutboxRow.created_at)
            .limit(1)
        )
        return self.session.scalar(stmt)
