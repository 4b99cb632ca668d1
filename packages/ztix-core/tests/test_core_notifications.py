"""Notifications in the core: the intents each change writes in its own unit of work,
their expansion into deliveries (per-ASN recipients, admins, webhooks), the retry
schedule and giving up, and the operators' recipient preferences."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest

from ztix_core.errors import InvalidValue, NotEligible
from ztix_core.notifications import RetrySchedule, describe, valid_email
from ztix_core.notify_ports import DeliveryStatus, NotificationIntent
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases.notify import (
    NotificationDeliveries,
    NotificationPreferences,
    NotificationTargets,
    WebhookTarget,
)
from ztix_core.values import Asn

NODE = "abcdef0123"


def _events(world: World) -> list[str]:
    """The intents' events, sorted (the fixed clock gives them one timestamp)."""
    with world.store() as uow:
        return sorted(i.event for i in uow.notifications.intents())


def _with_email(world: World, email: str = "alice@example.net") -> None:
    with world.store() as uow:
        uow.users.update(attrs.evolve(world.user, email=email))
        uow.commit()


def test_each_change_writes_its_intent_with_the_change(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    world.workflow.approve(ADMIN, req.id)
    world.fleet.down.add("rs2")
    assert world.provisioner.provision(req.id) is S.FAILED
    world.fleet.down.clear()
    world.workflow.retry(ADMIN, req.id)  # a retry is not told to the operator again
    assert world.provisioner.provision(req.id) is S.ACTIVE
    other = world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0124")
    world.workflow.reject(ADMIN, other.id, "no peering policy on PeeringDB")
    assert _events(world) == sorted(
        [
            "request.submitted",
            "request.approved",
            "route_server.apply_failed",
            "request.failed",
            "request.active",
            "request.submitted",
            "request.rejected",
        ]
    )
    with world.store() as uow:
        by_event = {i.event: i.payload for i in uow.notifications.intents()}
    assert by_event["request.rejected"]["reason"] == "no peering policy on PeeringDB"
    assert "rs2" in by_event["request.failed"]["error"]
    assert by_event["route_server.apply_failed"]["server"] == "rs2"
    assert by_event["request.approved"]["asn"] == 64500
    assert by_event["request.approved"]["user_id"] == str(world.user.id)


def test_a_second_failure_of_a_failing_server_is_not_told_again(world: World) -> None:
    world.fleet.down.add("rs2")
    for node in ("abcdef0123", "abcdef0124"):
        req = world.workflow.submit(
            world.user.id, 64500 + int(node[-1]) - 3, world.network.id, node
        )
        world.workflow.approve(ADMIN, req.id)
        world.provisioner.provision(req.id)
    assert _events(world).count("route_server.apply_failed") == 1


def test_a_refused_change_writes_no_intent(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    with pytest.raises(InvalidValue):
        world.workflow.reject(ADMIN, req.id, "   ")
    assert _events(world) == ["request.submitted"]


def _deliveries(world: World, targets: NotificationTargets) -> NotificationDeliveries:
    return NotificationDeliveries(world.store, world.clock, targets)


def test_expansion_per_asn_recipients_admins_and_webhooks(world: World) -> None:
    _with_email(world)
    admin = b.user("root", is_admin=True, email="root@example.net")
    gone = b.user("old", is_admin=True, email="old@example.net", disabled=True)
    with world.store() as uow:
        uow.users.add(admin)
        uow.users.add(gone)
        uow.commit()
    prefs = NotificationPreferences(world.store, world.clock)
    prefs.set_recipients(world.user.id, "AS64501", "noc@example.net, peering@example.net")
    first = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    second = world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0124")
    world.workflow.approve(ADMIN, first.id)
    world.workflow.approve(ADMIN, second.id)
    targets = NotificationTargets(
        email=True,
        webhooks=(WebhookTarget("ops"), WebhookTarget("admins", frozenset({"request.submitted"}))),
    )
    assert _deliveries(world, targets).expand() == 4
    with world.store() as uow:
        plan = {
            (i.event, i.payload["asn"]): sorted(
                (d.channel.value, d.target) for d in uow.notifications.deliveries_for(i.id)
            )
            for i in uow.notifications.intents()
        }
    assert plan[("request.submitted", 64500)] == [
        ("email", "root@example.net"),  # admins from their accounts (the disabled one not)
        ("webhook", "admins"),
        ("webhook", "ops"),
    ]
    assert plan[("request.approved", 64500)] == [
        ("email", "alice@example.net"),  # the default: the account's email
        ("webhook", "ops"),
    ]
    assert plan[("request.approved", 64501)] == [
        ("email", "noc@example.net"),
        ("email", "peering@example.net"),
        ("webhook", "ops"),
    ]
    assert _deliveries(world, targets).expand() == 0  # each intent is expanded once


def test_admin_recipients_from_settings(world: World) -> None:
    with world.store() as uow:
        uow.users.add(b.user("root", is_admin=True, email="root@example.net"))
        uow.commit()
    world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    targets = NotificationTargets(email=True, admin_emails=("noc@ix.example",))
    _deliveries(world, targets).expand()
    with world.store() as uow:
        (intent,) = uow.notifications.intents()
        assert [d.target for d in uow.notifications.deliveries_for(intent.id)] == ["noc@ix.example"]


def test_retry_schedule_backs_off_with_a_cap_and_gives_up_visibly(world: World) -> None:
    schedule = RetrySchedule(first_delay_s=10, max_delay_s=40, max_attempts=5, max_age_s=3600)
    assert [schedule.delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 40, 40]
    world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    notifier = NotificationDeliveries(
        world.store, world.clock, NotificationTargets(webhooks=(WebhookTarget("dead"),)), schedule
    )
    notifier.expand()
    waits = []
    for _ in range(5):
        (due,) = notifier.claim(10, 30)
        assert notifier.claim(10, 30) == []  # leased
        after = notifier.failed(due, "connection refused")
        if after.status is DeliveryStatus.GAVE_UP:
            break
        waits.append((after.next_attempt_at - world.clock.now()).total_seconds())
        world.clock._now = after.next_attempt_at
    assert waits == [10, 20, 40, 40]
    assert after.status is DeliveryStatus.GAVE_UP and after.attempts == 5
    assert notifier.claim(10, 30) == []
    assert notifier.counts()[DeliveryStatus.GAVE_UP] == 1
    with world.store() as uow:
        (event,) = uow.audit.recent(action="notification.gave_up")
    assert event.metadata["target"] == "dead" and event.metadata["attempts"] == 5
    assert event.metadata["error"] == "connection refused"


def test_max_age_gives_up_before_max_attempts(world: World) -> None:
    schedule = RetrySchedule(first_delay_s=600, max_delay_s=600, max_attempts=100, max_age_s=1000)
    world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    notifier = NotificationDeliveries(
        world.store, world.clock, NotificationTargets(webhooks=(WebhookTarget("dead"),)), schedule
    )
    notifier.expand()
    (due,) = notifier.claim(1, 30)
    assert notifier.failed(due, "HTTP 500").status is DeliveryStatus.PENDING
    world.clock.advance(seconds=600)
    (due,) = notifier.claim(1, 30)
    assert notifier.failed(due, "HTTP 500").status is DeliveryStatus.GAVE_UP


def test_delivered_is_final(world: World) -> None:
    world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    notifier = _deliveries(world, NotificationTargets(webhooks=(WebhookTarget("ops"),)))
    notifier.expand()
    (due,) = notifier.claim(1, 30)
    done = notifier.delivered(due)
    assert done.status is DeliveryStatus.DELIVERED and done.attempts == 1
    world.clock.advance(seconds=3600)
    assert notifier.claim(1, 30) == []


def test_preferences_validated_stored_and_reset(world: World) -> None:
    _with_email(world)
    prefs = NotificationPreferences(world.store, world.clock)
    rows = {r.asn: r for r in prefs.for_user(world.user.id)}
    assert rows[Asn(64500)].emails == ("alice@example.net",) and rows[Asn(64500)].default
    assert prefs.set_recipients(world.user.id, 64500, "a@example.net\nA@example.net b@x.org") == (
        "a@example.net",
        "b@x.org",
    )
    rows = {r.asn: r for r in prefs.for_user(world.user.id)}
    assert rows[Asn(64500)].emails == ("a@example.net", "b@x.org") and not rows[Asn(64500)].default
    for bad, error in [
        ("not-an-address", InvalidValue),
        ("a@example.net, evil@example.net\r\nBcc: x@y.z", InvalidValue),
        (", ".join(f"u{i}@example.net" for i in range(11)), InvalidValue),
    ]:
        with pytest.raises(error):
            prefs.set_recipients(world.user.id, 64500, bad)
    with pytest.raises(NotEligible):
        prefs.set_recipients(world.user.id, 64502, "a@example.net")
    rows = {r.asn: r for r in prefs.for_user(world.user.id)}
    assert rows[Asn(64500)].emails == ("a@example.net", "b@x.org")  # nothing changed
    prefs.set_recipients(world.user.id, 64500, "  ")
    rows = {r.asn: r for r in prefs.for_user(world.user.id)}
    assert rows[Asn(64500)].emails == ("alice@example.net",) and rows[Asn(64500)].default
    with world.store() as uow:
        actions = [e.action for e in uow.audit.for_target("user", str(world.user.id))]
    assert actions == ["notification.recipients_set", "notification.recipients_set"]


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("noc@example.net", True),
        ("a.b+c@sub.example.co.uk", True),
        ("no-at-sign", False),
        ("two@@example.net", False),
        ("sp ace@example.net", False),
        ("x@localhost", False),
        ("x@example.net\nBcc: y@z.org", False),
    ],
)
def test_valid_email(address: str, ok: bool) -> None:
    assert valid_email(address) is ok


def test_describe_names_the_request_and_the_reason() -> None:
    intent = NotificationIntent(
        uuid.uuid4(),
        "request.rejected",
        {
            "asn": 64500,
            "network_id": "a1b2c3d4e5000001",
            "node_id": NODE,
            "request_id": "r1",
            "reason": "no route objects",
        },
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    subject, body = describe(intent)
    assert subject == "[ztix] Rejected: AS64500"
    assert "Reason: no route objects" in body and "r1" in body


def test_unknown_event_is_a_programming_error(world: World) -> None:
    from ztix_core.notifications import notify

    with world.store() as uow, pytest.raises(ValueError, match="unknown notification event"):
        notify(uow, world.clock.now(), "request.nonsense", {})


def test_describe_a_submission_carries_the_operators_notes() -> None:
    intent = NotificationIntent(
        uuid.uuid4(),
        "request.submitted",
        {"asn": 64500, "request_id": "r1", "notes": "second router"},
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    subject, body = describe(intent)
    assert subject == "[ztix] New join request: AS64500"
    assert "Notes from the operator: second router" in body
