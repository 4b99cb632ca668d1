"""Records and ports of notifications: intents, their deliveries, operators' recipients.

A use case that changes state writes a :class:`NotificationIntent` through
``uow.notifications`` in the same unit of work as the change (see
:func:`ztix_core.notifications.notify`): the intent is committed with the change, or not
at all. The worker then expands each intent into one :class:`Delivery` per recipient
(an email address, or a webhook endpoint by name) and delivers each on its own retry
schedule, so a dead endpoint never holds up another delivery or any provisioning.

Both repositories are part of every :class:`~ztix_core.ports.UnitOfWork`
(``notifications``, ``notify_recipients``). The in-memory backend implements them in
:mod:`ztix_core.memory.notify_storage`; :mod:`ztix_core.testing.notify_storage_contract`
holds the suite every backend passes.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Collection, Sequence
from typing import Protocol

import attrs

from ztix_core.records import JsonDict
from ztix_core.values import Asn


class Channel(enum.Enum):
    """How a delivery travels."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.Enum):
    """``pending`` until delivered, or given up (too many attempts, or too old)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


@attrs.frozen
class NotificationIntent:
    """Something happened that people should hear about: ``event`` (one of
    :data:`ztix_core.notifications.EVENTS`) and its facts (request id, ASN, reason, ...).
    ``expanded_at`` is when the worker turned it into deliveries (None until then)."""

    id: uuid.UUID
    event: str
    payload: JsonDict
    created_at: dt.datetime
    expanded_at: dt.datetime | None = None


@attrs.frozen
class Delivery:
    """One intent to one recipient: an email ``target`` (an address) or a webhook
    ``target`` (the endpoint's name in the settings).

    ``next_attempt_at`` is when it is due; ``lease_until`` marks it taken by a worker
    until then (a worker that dies leaves it due again once the lease passes).
    ``last_error`` never holds a secret."""

    id: uuid.UUID
    notification_id: uuid.UUID
    channel: Channel
    target: str
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    lease_until: dt.datetime | None = None
    last_error: str = ""
    finished_at: dt.datetime | None = None


@attrs.frozen
class DueDelivery:
    """A claimed delivery with its intent."""

    delivery: Delivery
    intent: NotificationIntent


class NotificationRepository(Protocol):
    """Notification intents and their deliveries."""

    def add(self, intent: NotificationIntent) -> None:
        """Insert an intent (in the unit of work of the change it reports);
        InvalidValue when the payload is not JSON, DuplicateRecord for a taken id."""

    def claim_unexpanded(self, limit: int) -> list[NotificationIntent]:
        """Intents not yet expanded, oldest first, locked for this unit of work so that
        two workers never expand one intent (SKIP LOCKED or equal)."""

    def expand(self, intent_id: uuid.UUID, deliveries: Sequence[Delivery], at: dt.datetime) -> None:
        """Insert the intent's deliveries and mark it expanded at ``at`` (no deliveries
        is fine: nobody is to be told). NotFound for an unknown intent."""

    def claim_due(
        self,
        now: dt.datetime,
        limit: int,
        lease_until: dt.datetime,
        *,
        skip_targets: Collection[tuple[Channel, str]] = (),
    ) -> list[DueDelivery]:
        """Pending deliveries due at ``now`` (``next_attempt_at <= now``) and not leased
        (no lease, or one that passed), oldest due first, leased until ``lease_until``
        in this unit of work. ``skip_targets`` leaves out the (channel, target) pairs the
        caller is still delivering to, so one slow endpoint holds one slot at most."""

    def save(self, delivery: Delivery) -> None:
        """Replace the stored delivery of the same id (attempts, status, schedule,
        error); NotFound when there is none."""

    def deliveries_for(self, intent_id: uuid.UUID) -> list[Delivery]:
        """The intent's deliveries, by channel then target."""

    def intents(self, event: str | None = None, limit: int = 100) -> list[NotificationIntent]:
        """The newest intents first (optionally of one event)."""

    def counts(self) -> dict[DeliveryStatus, int]:
        """How many deliveries are in each status (every status a key)."""


class RecipientRepository(Protocol):
    """Who gets an operator's mail, per (account, ASN). No row: the account's email."""

    def set(self, user_id: uuid.UUID, asn: Asn, emails: Sequence[str], at: dt.datetime) -> None:
        """Insert or replace the list (non-empty, already validated); NotFound for an
        unknown user."""

    def clear(self, user_id: uuid.UUID, asn: Asn) -> bool:
        """Back to the default; False when there was no row."""

    def for_user(self, user_id: uuid.UUID) -> dict[Asn, tuple[str, ...]]:
        """The user's stored lists, by ASN."""
