"""The notification storage contract: intents, deliveries (claim, lease, skip, save,
counts) and operators' recipients, as every storage backend keeps them.

Use it from an adapter's test module::

    from ztix_core.testing.notify_storage_contract import *  # noqa: F403

with a ``uow_factory`` fixture over an EMPTY store, as for the repository contract.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest

from ztix_core.errors import InvalidValue, NotFound
from ztix_core.notify_ports import (
    Channel,
    Delivery,
    DeliveryStatus,
    NotificationIntent,
)
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.testing import builders as b
from ztix_core.values import Asn

__all__ = [
    "test_notification_bad_input_is_refused",
    "test_notification_deliveries",
    "test_notification_intents",
    "test_notify_recipients",
]

T0 = b.T0
S = dt.timedelta(seconds=1)


def _intent(at: dt.datetime = T0, event: str = "request.submitted") -> NotificationIntent:
    return NotificationIntent(uuid.uuid4(), event, {"asn": 64500, "why": "x"}, at)


def _delivery(intent: NotificationIntent, target: str, due: dt.datetime, **kw: object) -> Delivery:
    channel = kw.pop("channel", Channel.EMAIL)
    return Delivery(uuid.uuid4(), intent.id, channel, target, T0, due, **kw)  # type: ignore[arg-type]


def test_notification_intents(uow_factory: UnitOfWorkFactory) -> None:
    first, second = _intent(T0), _intent(T0 + S, "request.active")
    with uow_factory() as uow:
        uow.notifications.add(second)
        uow.notifications.add(first)
        uow.commit()
    with uow_factory() as uow:
        assert uow.notifications.claim_unexpanded(10) == [first, second]
        assert uow.notifications.claim_unexpanded(1) == [first]
        uow.notifications.expand(first.id, [], T0 + 2 * S)
        uow.commit()
    with uow_factory() as uow:
        assert uow.notifications.claim_unexpanded(10) == [second]
        assert uow.notifications.intents() == [second, attrs.evolve(first, expanded_at=T0 + 2 * S)]
        assert uow.notifications.intents("request.active") == [second]
        with pytest.raises(NotFound):
            uow.notifications.expand(uuid.uuid4(), [], T0)


def test_notification_deliveries(uow_factory: UnitOfWorkFactory) -> None:
    intent = _intent()
    early = _delivery(intent, "a@example.net", T0)
    late = _delivery(intent, "b@example.net", T0 + 60 * S)
    hook = _delivery(intent, "ops", T0 + S, channel=Channel.WEBHOOK)
    with uow_factory() as uow:
        uow.notifications.add(intent)
        uow.notifications.expand(intent.id, [late, early, hook], T0)
        uow.commit()
    lease = T0 + 30 * S
    with uow_factory() as uow:
        due = uow.notifications.claim_due(
            T0 + S, 10, lease, skip_targets=[(Channel.WEBHOOK, "ops")]
        )
        uow.commit()
    assert [d.delivery.id for d in due] == [early.id]
    assert due[0].delivery.lease_until == lease
    assert due[0].intent.id == intent.id and due[0].intent.payload == intent.payload
    with uow_factory() as uow:
        # the early one is leased: only the webhook is due now
        again = uow.notifications.claim_due(T0 + 2 * S, 10, lease)
        assert [d.delivery.id for d in again] == [hook.id]
        # once the lease passes it is due again
        after = uow.notifications.claim_due(lease, 10, lease + 30 * S)
        assert {d.delivery.id for d in after} == {early.id, hook.id}
    done = attrs.evolve(early, status=DeliveryStatus.DELIVERED, attempts=1, finished_at=T0 + 2 * S)
    failed = attrs.evolve(hook, attempts=3, last_error="HTTP 500", next_attempt_at=T0 + 90 * S)
    with uow_factory() as uow:
        uow.notifications.save(done)
        uow.notifications.save(failed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.notifications.deliveries_for(intent.id) == [done, late, failed]
        assert uow.notifications.counts() == {
            DeliveryStatus.PENDING: 2,
            DeliveryStatus.DELIVERED: 1,
            DeliveryStatus.GAVE_UP: 0,
        }
        assert uow.notifications.claim_due(T0 + 80 * S, 10, lease) != []
        with pytest.raises(NotFound):
            uow.notifications.save(attrs.evolve(done, id=uuid.uuid4()))


def test_notification_bad_input_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    bad = NotificationIntent(uuid.uuid4(), "request.active", {"x": object()}, T0)
    with uow_factory() as uow:
        with pytest.raises(InvalidValue):
            uow.notifications.add(bad)
        with pytest.raises(NotFound):
            uow.notify_recipients.set(uuid.uuid4(), Asn(64500), ["a@example.net"], T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.notifications.intents() == []


def test_notify_recipients(uow_factory: UnitOfWorkFactory) -> None:
    user, other = b.user(), b.user("bob")
    with uow_factory() as uow:
        uow.users.add(user)
        uow.users.add(other)
        uow.notify_recipients.set(user.id, Asn(64501), ["noc@example.net"], T0)
        uow.notify_recipients.set(user.id, Asn(64500), ["a@example.net", "b@example.net"], T0)
        uow.notify_recipients.set(other.id, Asn(64500), ["x@example.org"], T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.notify_recipients.for_user(user.id) == {
            Asn(64500): ("a@example.net", "b@example.net"),
            Asn(64501): ("noc@example.net",),
        }
        uow.notify_recipients.set(user.id, Asn(64500), ["c@example.net"], T0 + S)
        assert uow.notify_recipients.clear(user.id, Asn(64501)) is True
        assert uow.notify_recipients.clear(user.id, Asn(64501)) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.notify_recipients.for_user(user.id) == {Asn(64500): ("c@example.net",)}
        assert uow.notify_recipients.for_user(other.id) == {Asn(64500): ("x@example.org",)}
