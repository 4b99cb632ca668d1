"""The two ways a notification leaves: SMTP (STARTTLS by default) and signed webhooks.

A sender raises :class:`SendFailed` with a message safe to log and store: it names the
server or endpoint and what went wrong, never a password, secret or signature.

Webhook signature: ``X-Ztix-Signature: sha256=<hex>``, the HMAC-SHA256 under the
endpoint's secret of ``<X-Ztix-Timestamp> + "." + <raw body>``; the timestamp is Unix
seconds. A receiver recomputes it over the bytes it got, compares in constant time and
refuses a timestamp far from its clock (a replay). ``X-Ztix-Delivery`` is the same on
every retry of one delivery, so a receiver can drop duplicates (delivery is at least
once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from ztix_core.notifications import describe
from ztix_core.notify_ports import Channel, DueDelivery
from ztix_worker.notify.settings import EmailSettings, NotificationSettings, WebhookSettings

TIMESTAMP_HEADER = "X-Ztix-Timestamp"
SIGNATURE_HEADER = "X-Ztix-Signature"
EVENT_HEADER = "X-Ztix-Event"
DELIVERY_HEADER = "X-Ztix-Delivery"


class SendFailed(Exception):
    """One attempt failed; the message holds no secret."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_body(due: DueDelivery) -> bytes:
    """The JSON a webhook receives: the intent's id, event, time and facts."""
    intent = due.intent
    document = {
        "id": str(intent.id),
        "event": intent.event,
        "created_at": intent.created_at.isoformat(),
        "data": intent.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class WebhookSender:
    """POSTs signed JSON; any 2xx answer is delivered, anything else a failed attempt."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(follow_redirects=False)

    def send(self, endpoint: WebhookSettings, due: DueDelivery) -> None:
        body = webhook_body(due)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ztix-notifier",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(endpoint.secret, stamp, body),
            EVENT_HEADER: due.intent.event,
            DELIVERY_HEADER: str(due.delivery.id),
        }
        try:
            answer = self.client.post(
                endpoint.url, content=body, headers=headers, timeout=endpoint.timeout_s
            )
        except httpx.TimeoutException:
            raise SendFailed(
                f"webhook {endpoint.name}: no answer within {endpoint.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook {endpoint.name}: {_reason(exc)}") from None
        if not 200 <= answer.status_code < 300:
            raise SendFailed(f"webhook {endpoint.name}: HTTP {answer.status_code}")

    def close(self) -> None:
        self.client.close()


def _reason(exc: BaseException) -> str:
    """Why a connection failed, without the URL (it may carry a token)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {cause.reason or type(cause).__name__}"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


class SmtpSender:
    """One SMTP session per message: connect, STARTTLS (verifying the server's
    certificate and name), log in when a user is set, send."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.context = ssl.create_default_context()
        if settings.ca_file:
            self.context.load_verify_locations(settings.ca_file)

    def message(self, to: str, due: DueDelivery) -> EmailMessage:
        subject, body = describe(due.intent)
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2])
        msg["X-Ztix-Event"] = due.intent.event
        msg.set_content(body)
        return msg

    def send(self, to: str, due: DueDelivery) -> None:
        s = self.settings
        where = f"SMTP {s.host}:{s.port}"
        try:
            smtp: smtplib.SMTP
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self.context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                if s.user:
                    smtp.login(s.user, s.password or "")
                smtp.send_message(self.message(to, due))
        except smtplib.SMTPNotSupportedError:
            raise SendFailed(f"{where}: the server does not offer STARTTLS") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(f"{where}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = ", ".join(f"{code}" for code, _ in exc.recipients.values())
            raise SendFailed(f"{where}: recipient refused ({codes})") from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except TimeoutError:
            raise SendFailed(f"{where}: no answer within {s.timeout_s:g} s") from None
        except ssl.SSLError as exc:
            raise SendFailed(f"{where}: TLS: {exc.reason or type(exc).__name__}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"{where}: {_reason(exc)}") from None


def _text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())[:200]


class Senders:
    """Sends a claimed delivery by its channel."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.smtp = SmtpSender(settings.email) if settings.email is not None else None
        self.webhooks = WebhookSender() if settings.webhooks else None

    def __call__(self, due: DueDelivery) -> None:
        d = due.delivery
        if d.channel is Channel.EMAIL:
            if self.smtp is None:
                raise SendFailed("email is not configured ([notifications.email])")
            self.smtp.send(d.target, due)
            return
        endpoint = self.settings.webhook(d.target)
        if endpoint is None or self.webhooks is None:
            raise SendFailed(f"webhook {d.target} is no longer configured")
        self.webhooks.send(endpoint, due)

    def close(self) -> None:
        if self.webhooks is not None:
            self.webhooks.close()
