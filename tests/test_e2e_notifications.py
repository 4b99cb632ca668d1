"""End to end: a ``ztix worker`` process on PostgreSQL delivers the notifications of a
request's life to a real SMTP server (STARTTLS, a login) and a signed webhook, while a
dead endpoint is retried with back-off, then given up visibly, and the request still
becomes active."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_core.notify_ports import DeliveryStatus
from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ExchangeLab
from ztix_worker.notify.testing import MailServer, WebhookReceiver, self_signed
from ztix_worker.testing import free_port, wait_for

SMTP_PASSWORD = "e2e-smtp-pw-41f0c8a2"
HOOK_SECRET = "e2e-hook-secret-9c2d7e15b3"
DEAD_SECRET = "e2e-dead-secret-0a6f3b28c4"


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def mail(cert: tuple[Path, Path]) -> Iterator[MailServer]:
    server = MailServer(cert, "ztix", SMTP_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(HOOK_SECRET).start()
    yield server
    server.stop()


def test_a_request_is_told_by_mail_and_webhook_while_a_dead_endpoint_is_given_up(
    lab: ExchangeLab,
    mail: MailServer,
    receiver: WebhookReceiver,
    cert: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    password = tmp_path / "smtp-password"
    password.write_text(SMTP_PASSWORD)
    config = tmp_path / "ztix.toml"
    config.write_text(
        lab.config.read_text()
        + f"""
[notifications]
admin_emails = ["noc@ix.example.net"]
first_delay_s = 0.3
max_delay_s = 0.6
max_attempts = 3
interval_s = 0.1

[notifications.email]
host = "127.0.0.1"
port = {mail.port}
sender = "ztix@ix.example.net"
user = "ztix"
password_file = "{password}"
ca_file = "{cert[0]}"

[[notifications.webhooks]]
name = "ops"
url = "{receiver.url("/ok")}"

[[notifications.webhooks]]
name = "dead"
url = "http://127.0.0.1:{free_port()}/hook"
"""
    )
    env = {
        "ZTIX_CONFIG": str(config),
        "ZTIX_WEBHOOK_OPS_SECRET": HOOK_SECRET,
        "ZTIX_WEBHOOK_DEAD_SECRET": DEAD_SECRET,
    }
    worker = lab.worker(env=env)
    rid = lab.submit(21000)
    lab.approve(rid)
    lab.wait_status([rid], S.ACTIVE, timeout=90)
    wait_for(lambda: len(mail.received()) == 3, timeout=60, what="three mails")
    wait_for(lambda: len(receiver.hooks()) == 3, timeout=60, what="three webhooks")

    def dead_given_up() -> bool:
        with lab.app.uow_factory() as uow:
            return uow.notifications.counts()[DeliveryStatus.GAVE_UP] == 3

    # the dead endpoint: three attempts each, with back-off, then given up visibly
    wait_for(dead_given_up, timeout=90, what="the dead endpoint's deliveries given up")
    with lab.app.uow_factory() as uow:
        gave_up = uow.audit.recent(action="notification.gave_up")
    assert len(gave_up) == 3
    assert all(e.metadata["target"] == "dead" and e.metadata["attempts"] == 3 for e in gave_up)

    by_rcpt = {r: str(m.message["Subject"]) for m in mail.received() for r in m.recipients}
    assert by_rcpt == {
        "noc@ix.example.net": "[ztix] New join request: AS21000",
        "op@example.net": by_rcpt["op@example.net"],
    }
    assert sorted(str(m.message["Subject"]) for m in mail.received()) == [
        "[ztix] Active: AS21000",
        "[ztix] Approved: AS21000",
        "[ztix] New join request: AS21000",
    ]
    assert all(m.tls and m.login == "ztix" for m in mail.received())
    assert receiver.refused == []
    assert sorted(h.event for h in receiver.hooks()) == [
        "request.active",
        "request.approved",
        "request.submitted",
    ]
    with lab.app.uow_factory() as uow:
        counts = uow.notifications.counts()
    assert counts[DeliveryStatus.DELIVERED] == 6 and counts[DeliveryStatus.PENDING] == 0

    status = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "notifications"],
        env={**os.environ, **lab.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 1, status.stderr  # deliveries were given up today
    assert "email: 127.0.0.1" in status.stdout and "webhook dead:" in status.stdout
    assert "pending 0, delivered 6, gave_up 3" in status.stdout
    assert status.stdout.count("after 3 attempts: webhook dead: connection refused") == 3
    logs = worker.logs()
    assert "webhook dead: connection refused" in logs
    for secret in (SMTP_PASSWORD, HOOK_SECRET, DEAD_SECRET):
        assert secret not in logs and secret not in status.stdout + status.stderr
