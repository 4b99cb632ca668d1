"""Notifications delivered by the worker's own loop to real receivers: an SMTP server with
STARTTLS and a login (aiosmtpd, a certificate made in the test), an HTTP receiver that
checks every signature and timestamp, and dead endpoints (connection refused, HTTP 500,
no answer) retried with back-off while provisioning goes on."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from ztix_core.errors import SettingsError
from ztix_core.notify_ports import (
    Channel,
    Delivery,
    DeliveryStatus,
    DueDelivery,
    NotificationIntent,
)
from ztix_core.settings import Settings, settings_errors
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.usecases.notify import NotificationPreferences
from ztix_worker.notify.senders import SendFailed, SmtpSender, sign
from ztix_worker.notify.settings import NotificationSettings, load_notification_settings
from ztix_worker.notify.testing import MailServer, SilentServer, WebhookReceiver, self_signed
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import MemoryExchange, free_port, memory_exchange, wait_for

SMTP_USER = "ztix-mailer"
SMTP_PASSWORD = "smtp-pw-7d41c0a9e2f8"  # checked absent from logs
HOOK_SECRET = "hook-secret-5b9e27c4d1a6f083"
OTHER_SECRET = "other-secret-0e8c6d4b2a917f35"
FAST = WorkerSettings(
    min_backoff_ms=10,
    max_backoff_ms=40,
    relay_interval_s=0.01,
    gate_poll_s=0.05,
    worker_timeout_ms=20,
    threads=4,
)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mail(cert: tuple[Path, Path]) -> Iterator[MailServer]:
    server = MailServer(cert, SMTP_USER, SMTP_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(HOOK_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _settings(tables: dict[str, Any]) -> Settings:
    return Settings(storage="memory", route_server_fleet="memory", sections=tables)


def _notify_table(
    mail: MailServer | None,
    cert: tuple[Path, Path],
    webhooks: list[dict[str, Any]],
    **schedule: Any,
) -> dict[str, Any]:
    table: dict[str, Any] = {
        "first_delay_s": 0.2,
        "max_delay_s": 0.4,
        "max_attempts": 1000,
        "max_age_s": 3600,
        "interval_s": 0.05,
        "concurrency": 3,
        "webhooks": webhooks,
        **schedule,
    }
    if mail is not None:
        table["email"] = {
            "host": "127.0.0.1",
            "port": mail.port,
            "sender": "ztix@ix.example.net",
            "user": SMTP_USER,
            "ca_file": str(cert[0]),
            "timeout_s": 5,
        }
    return table


def _env(tmp_path: Path, names: list[str]) -> dict[str, str]:
    password = tmp_path / "smtp-password"
    password.write_text(SMTP_PASSWORD + "\n")
    env = {"ZTIX_SMTP_PASSWORD_FILE": str(password)}
    for name in names:
        env[f"ZTIX_WEBHOOK_{name.upper()}_SECRET"] = (
            HOOK_SECRET if name in ("ops", "broken") else OTHER_SECRET
        )
    return env


def _start(ex: MemoryExchange, ns: NotificationSettings) -> WorkerRuntime:
    runtime = WorkerRuntime(ex.app, FAST, ns)
    runtime.start()
    wait_for(runtime.started.is_set, what="worker start")
    return runtime


def _deliveries(ex: MemoryExchange) -> list[Delivery]:
    with ex.store() as uow:
        return list(uow.tables.deliveries.values())


def _people(ex: MemoryExchange) -> None:
    with ex.store() as uow:
        uow.users.update(attrs.evolve(ex.user, email="alice@example.net"))
        uow.users.add(b.user("root", is_admin=True, email="root@ix.example.net"))
        for asn in (64500, 64501):
            uow.asn_links.add(b.link(ex.user.id, asn))
        uow.commit()


def test_mail_and_webhooks_reach_real_receivers_while_dead_endpoints_back_off(
    mail: MailServer,
    receiver: WebhookReceiver,
    silent: SilentServer,
    cert: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = f"http://127.0.0.1:{free_port()}/hook"
    webhooks: list[dict[str, Any]] = [
        {"name": "ops", "url": receiver.url("/ok")},
        {"name": "dead", "url": refused},
        {"name": "broken", "url": receiver.url("/fail")},
        {"name": "slow", "url": silent.url(), "timeout_s": 0.5},
    ]
    tables = {"notifications": _notify_table(mail, cert, webhooks)}
    ns = load_notification_settings(
        _settings(tables), _env(tmp_path, ["ops", "dead", "broken", "slow"])
    )
    ex = memory_exchange(_settings(tables))
    _people(ex)
    NotificationPreferences(ex.app.uow_factory, ex.app.clock).set_recipients(
        ex.user.id, 64501, "noc@example.net peering@example.net"
    )
    runtime = _start(ex, ns)
    try:
        first, second = ex.approved(64500), ex.approved(64501)
        # provisioning goes on: both requests become active whatever the endpoints do
        wait_for(
            lambda: ex.status(first) is S.ACTIVE and ex.status(second) is S.ACTIVE,
            timeout=60,
            what="both requests active",
        )
        # submitted → root; approved + active → alice (64500), noc + peering (64501)
        wait_for(lambda: len(mail.received()) == 8, timeout=60, what="eight mails")
        wait_for(lambda: len(receiver.hooks()) == 6, timeout=60, what="six signed webhooks")

        def retried() -> bool:
            by_target: dict[str, list[Delivery]] = {}
            for d in _deliveries(ex):
                by_target.setdefault(d.target, []).append(d)
            return all(
                any(d.attempts >= 3 for d in by_target.get(name, []))
                for name in ("dead", "broken", "slow")
            )

        wait_for(retried, timeout=60, what="three attempts at each dead endpoint")
    finally:
        runtime.stop()

    mails = mail.received()
    assert all(m.tls and m.login == SMTP_USER for m in mails)
    by_rcpt: dict[str, list[str]] = {}
    for m in mails:
        assert m.sender == "ztix@ix.example.net" and m.message["From"] == "ztix@ix.example.net"
        for rcpt in m.recipients:
            by_rcpt.setdefault(rcpt, []).append(str(m.message["Subject"]))
    assert sorted(by_rcpt) == [
        "alice@example.net",
        "noc@example.net",
        "peering@example.net",
        "root@ix.example.net",
    ]
    assert sorted(by_rcpt["root@ix.example.net"]) == [
        "[ztix] New join request: AS64500",
        "[ztix] New join request: AS64501",
    ]
    assert sorted(by_rcpt["alice@example.net"]) == [
        "[ztix] Active: AS64500",
        "[ztix] Approved: AS64500",
    ]
    assert sorted(by_rcpt["noc@example.net"]) == [
        "[ztix] Active: AS64501",
        "[ztix] Approved: AS64501",
    ]
    body = next(m for m in mails if "Active: AS64500" in str(m.message["Subject"]))
    assert str(first) in str(body.message.get_payload())

    hooks = receiver.hooks()
    assert receiver.refused == []
    assert sorted(h.event for h in hooks) == sorted(
        ["request.submitted", "request.approved", "request.active"] * 2
    )
    assert {h.body["data"]["request_id"] for h in hooks} == {str(first), str(second)}
    assert receiver.calls["/fail"] >= 3
    # back-off: each delivery's attempts are spaced by at least 0.2 s, then 0.4 s (the cap)
    spaced = [t for k, t in receiver.attempts.items() if k.startswith("/fail ") and len(t) >= 3]
    assert spaced
    for times in spaced:
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps[0] >= 0.2 - 0.02 and all(g >= 0.4 - 0.02 for g in gaps[1:]), gaps

    # each dead endpoint backs off on its own schedule and is still pending
    for d in _deliveries(ex):
        if d.target in ("dead", "broken", "slow"):
            assert d.status is DeliveryStatus.PENDING
    errors = {d.target: d.last_error for d in _deliveries(ex) if d.attempts >= 3}
    assert errors["dead"] == "webhook dead: connection refused"
    assert errors["broken"] == "webhook broken: HTTP 500"
    assert errors["slow"] == "webhook slow: no answer within 0.5 s"
    delivered = [d for d in _deliveries(ex) if d.status is DeliveryStatus.DELIVERED]
    assert len(delivered) == 8 + 6
    assert all(d.attempts == 1 for d in delivered)

    logs = caplog.text
    assert "webhook dead: connection refused" in logs
    for secret in (SMTP_PASSWORD, HOOK_SECRET, OTHER_SECRET):
        assert secret not in logs
        assert secret not in repr(ns)
    with ex.store() as uow:
        trail = repr(uow.tables.audit) + repr(uow.tables.deliveries)
    assert all(s not in trail for s in (SMTP_PASSWORD, HOOK_SECRET, OTHER_SECRET))


def test_a_dead_endpoint_is_given_up_visibly(
    tmp_path: Path, cert: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    webhooks = [{"name": "dead", "url": f"http://127.0.0.1:{free_port()}/hook"}]
    tables = {
        "notifications": _notify_table(
            None, cert, webhooks, first_delay_s=0.05, max_delay_s=0.1, max_attempts=3
        )
    }
    ns = load_notification_settings(_settings(tables), _env(tmp_path, ["dead"]))
    ex = memory_exchange(_settings(tables))
    runtime = _start(ex, ns)
    try:
        rid = ex.approved(64500)
        wait_for(lambda: ex.status(rid) is S.ACTIVE, timeout=60, what="active")
        wait_for(
            lambda: runtime.notifications.deliveries.counts()[DeliveryStatus.GAVE_UP] == 3,
            timeout=60,
            what="three deliveries given up",
        )
    finally:
        runtime.stop()
    with ex.store() as uow:
        gave_up = uow.audit.recent(action="notification.gave_up")
    assert sorted(e.metadata["event"] for e in gave_up) == [
        "request.active",
        "request.approved",
        "request.submitted",
    ]
    assert all(
        e.metadata["attempts"] == 3 and e.metadata["error"] == "webhook dead: connection refused"
        for e in gave_up
    )
    assert runtime.notifications.stats.gave_up == 3
    assert "given up after 3 attempts" in caplog.text


def test_the_controller_not_ready_is_told_to_admins(
    tmp_path: Path, cert: tuple[Path, Path], receiver: WebhookReceiver
) -> None:
    tables = {
        "notifications": _notify_table(None, cert, [{"name": "ops", "url": receiver.url("/ok")}])
    }
    ns = load_notification_settings(_settings(tables), _env(tmp_path, ["ops"]))
    ex = memory_exchange(_settings(tables))
    ex.provider.ready = False
    runtime = WorkerRuntime(ex.app, FAST, ns)
    runtime.start()
    try:
        hooks = wait_for(
            lambda: [h for h in receiver.hooks() if h.event == "controller.not_ready"],
            timeout=60,
            what="controller.not_ready webhook",
        )
    finally:
        runtime.stop()
    assert hooks[0].body["data"]["check"] == "controller_reachable"
    assert hooks[0].body["data"]["remediation"] == "start the controller"


def _due(event: str = "request.active") -> DueDelivery:
    now = dt.datetime.now(dt.UTC)
    intent = NotificationIntent(uuid.uuid4(), event, {"asn": 64500, "request_id": "r"}, now)
    return DueDelivery(
        Delivery(uuid.uuid4(), intent.id, Channel.EMAIL, "a@example.net", now, now), intent
    )


def test_smtp_refuses_a_server_without_starttls_and_an_unknown_certificate(
    tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    plain = MailServer(None).start()
    try:
        sender = SmtpSender(
            load_notification_settings(
                _settings(
                    {
                        "notifications": {
                            "email": {
                                "host": "127.0.0.1",
                                "port": plain.port,
                                "sender": "ztix@ix.example.net",
                                "ca_file": str(cert[0]),
                            }
                        }
                    }
                ),
                {},
            ).email  # type: ignore[arg-type]
        )
        with pytest.raises(SendFailed, match="does not offer STARTTLS"):
            sender.send("a@example.net", _due())
        assert plain.received() == []
    finally:
        plain.stop()
    other = self_signed(tmp_path)  # a certificate the client does not trust
    server = MailServer(other).start()
    try:
        email = load_notification_settings(
            _settings(
                {
                    "notifications": {
                        "email": {
                            "host": "127.0.0.1",
                            "port": server.port,
                            "sender": "ztix@ix.example.net",
                            "ca_file": str(cert[0]),
                        }
                    }
                }
            ),
            {},
        ).email
        assert email is not None
        with pytest.raises(SendFailed, match="TLS: CERTIFICATE_VERIFY_FAILED"):
            SmtpSender(email).send("a@example.net", _due())
        assert server.received() == []
    finally:
        server.stop()


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k
    assert sign("k", "1700000000", b'{"a":1}') == (
        "sha256=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3"
    )
    receiver = WebhookReceiver("k")
    try:
        stamp = str(int(time.time()))
        good = {"X-Ztix-Timestamp": stamp, "X-Ztix-Signature": sign("k", stamp, b"{}")}
        assert receiver.verify(good, b"{}") == ""
        assert receiver.verify(good, b'{"x":1}') == "bad signature"
        old = str(int(time.time()) - 3600)
        stale = {"X-Ztix-Timestamp": old, "X-Ztix-Signature": sign("k", old, b"{}")}
        assert receiver.verify(stale, b"{}").startswith("bad timestamp")
    finally:
        receiver.server.server_close()


@pytest.mark.parametrize(
    ("table", "env", "expected"),
    [
        (
            {"email": {"host": "smtp.example.net", "sender": "x@example.net", "password": "p"}},
            {},
            "notifications.email.password: secrets are read from the environment or a file",
        ),
        ({"email": {"sender": "x@example.net"}}, {}, "notifications.email.host: missing"),
        (
            {"email": {"host": "smtp.example.net", "sender": "nobody"}},
            {},
            "notifications.email.sender: must be an email address",
        ),
        (
            {"email": {"host": "smtp.example.net", "sender": "x@example.net", "port": 70000}},
            {},
            "notifications.email.port: must be 1 to 65535",
        ),
        (
            {"email": {"host": "smtp.example.net", "sender": "x@example.net", "user": "u"}},
            {},
            "ZTIX_SMTP_PASSWORD: notifications.email.user is set: give its password",
        ),
        (
            {"email": {"host": "smtp.example.net", "sender": "x@example.net", "security": "none"}},
            {},
            "'none' sends mail (and any password) in clear",
        ),
        (
            {"email": {"host": "smtp.example.net", "sender": "x@example.net", "security": "ssl"}},
            {},
            "notifications.email.security: must be one of starttls, tls, none",
        ),
        (
            {
                "email": {
                    "host": "smtp.example.net",
                    "sender": "x@example.net",
                    "password_file": "/nonexistent/pw",
                }
            },
            {},
            "notifications.email.password_file: cannot read /nonexistent/pw",
        ),
        (
            {
                "email": {
                    "host": "h.example.net",
                    "sender": "x@example.net",
                    "user": "u",
                    "password_file": "/etc/hostname",
                }
            },
            {"ZTIX_SMTP_PASSWORD": "p"},
            "set one of ZTIX_SMTP_PASSWORD, notifications.email.password_file, not several",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "https://hooks.example.net/x"}]},
            {},
            "ZTIX_WEBHOOK_OPS_SECRET: webhook 'ops' needs a signing secret",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "https://hooks.example.net/x"}]},
            {"ZTIX_WEBHOOK_OPS_SECRET": "short"},
            "ZTIX_WEBHOOK_OPS_SECRET: must be at least 16",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "https://h.example.net/x", "secret": "s"}]},
            {},
            "notifications.webhooks[0].secret: secrets are read from the environment",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "http://hooks.example.net/x"}]},
            {"ZTIX_WEBHOOK_OPS_SECRET": HOOK_SECRET},
            "must be https (plain http only to this",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "ftp://h.example.net/x"}]},
            {"ZTIX_WEBHOOK_OPS_SECRET": HOOK_SECRET},
            "must be an http(s) URL",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "https://h.example.net", "events": ["nope"]}]},
            {"ZTIX_WEBHOOK_OPS_SECRET": HOOK_SECRET},
            "unknown event(s) ['nope']",
        ),
        (
            {
                "webhooks": [
                    {"name": "ops", "url": "https://a.example.net"},
                    {"name": "ops", "url": "https://b.example.net"},
                ]
            },
            {"ZTIX_WEBHOOK_OPS_SECRET": HOOK_SECRET},
            "name 'ops' is used twice",
        ),
        (
            {"admin_emails": ["root@example.net", "oops"]},
            {},
            "notifications.admin_emails: must be a list of email addresses",
        ),
        ({"first_delay_s": 60, "max_delay_s": 10}, {}, "max_delay_s: must be at least"),
        ({"max_attempts": 0}, {}, "notifications.max_attempts: must be a positive whole number"),
        ({"colour": "blue"}, {}, "notifications: unknown key(s): colour"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    table: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_notification_settings(_settings({"notifications": table}), env)
    messages = [str(e) for e in settings_errors(caught.value)]
    assert any(expected in m for m in messages), messages
    assert all(HOOK_SECRET not in m and "=p" not in m for m in messages)


def test_every_bad_key_is_reported_at_once() -> None:
    table = {
        "max_attempts": -1,
        "email": {"host": "", "sender": "x@example.net"},
        "webhooks": [{"name": "Bad Name", "url": "https://h.example.net"}],
    }
    with pytest.raises(SettingsError) as caught:
        load_notification_settings(_settings({"notifications": table}), {})
    settings = sorted(e.setting for e in settings_errors(caught.value))
    assert settings == [
        "notifications.email.host",
        "notifications.max_attempts",
        "notifications.webhooks[0].name",
    ]


def test_nothing_configured_delivers_nothing() -> None:
    ns = load_notification_settings(_settings({}), {})
    assert not ns.enabled and ns.targets().webhooks == () and not ns.targets().email


def test_notifications_queued_behind_a_failed_attempt_wait_untried() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ztix_core.usecases.notify import (
        NotificationDeliveries,
        NotificationTargets,
        WebhookTarget,
    )
    from ztix_worker.notify.loop import NotificationLoop

    ex = memory_exchange()
    for asn in (64500, 64501, 64502):
        ex.approved(asn)  # submitted + approved: six intents
    deliveries = NotificationDeliveries(
        ex.app.uow_factory, ex.app.clock, NotificationTargets(webhooks=(WebhookTarget("dead"),))
    )
    calls: list[str] = []

    def send(due: DueDelivery) -> None:
        calls.append(due.intent.event)
        raise SendFailed("webhook dead: connection refused")

    loop = NotificationLoop(deliveries, send, concurrency=6)
    with ThreadPoolExecutor(6) as pool:
        assert loop.run_once(pool) == 6  # all due at once: one chain for the one endpoint
    assert len(calls) == 1
    found = _deliveries(ex)
    (tried,) = [d for d in found if d.attempts == 1]
    waiting = [d for d in found if d.attempts == 0]
    assert len(waiting) == 5
    assert all(
        d.next_attempt_at == tried.next_attempt_at and d.lease_until is None for d in waiting
    )
    assert all(d.status is DeliveryStatus.PENDING for d in found)
