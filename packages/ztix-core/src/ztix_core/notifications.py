"""Notifications: which events are told to whom, the intent written with each change,
and the retry schedule of a delivery.

The core decides everything here and performs no I/O: a use case calls :func:`notify`
inside its unit of work; :class:`~ztix_core.usecases.notify.NotificationDeliveries`
expands intents into deliveries and records each attempt's outcome; the worker only
sends (SMTP, HTTP).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from ztix_core.notify_ports import Delivery, NotificationIntent
from ztix_core.ports import UnitOfWork
from ztix_core.records import JsonDict, new_id

#: An operator's request was filed (told to the admins).
REQUEST_SUBMITTED = "request.submitted"
#: Told to the request's operator.
REQUEST_APPROVED = "request.approved"
REQUEST_REJECTED = "request.rejected"
REQUEST_ACTIVE = "request.active"
REQUEST_FAILED = "request.failed"
#: A route server's apply failed after it last succeeded (told to the admins).
ROUTE_SERVER_APPLY_FAILED = "route_server.apply_failed"
#: The worker's controller readiness gate closed (told to the admins).
CONTROLLER_NOT_READY = "controller.not_ready"

ADMIN_EVENTS = frozenset({REQUEST_SUBMITTED, ROUTE_SERVER_APPLY_FAILED, CONTROLLER_NOT_READY})
OPERATOR_EVENTS = frozenset({REQUEST_APPROVED, REQUEST_REJECTED, REQUEST_ACTIVE, REQUEST_FAILED})
EVENTS = ADMIN_EVENTS | OPERATOR_EVENTS

#: At most this many recipients per ASN.
MAX_RECIPIENTS = 10
#: A deliberately plain address check: one @, no spaces or control characters, a dotted
#: domain. The mail server is the judge of the rest.
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$")


def valid_email(address: str) -> bool:
    """True when ``address`` looks like one deliverable address (``local@domain.tld``)."""
    return len(address) <= 254 and _EMAIL.match(address) is not None


def notify(uow: UnitOfWork, at: dt.datetime, event: str, payload: JsonDict) -> None:
    """Write a notification intent in ``uow``, committed with the change it reports.

    ``event`` must be one of :data:`EVENTS`; ``payload`` carries the facts a message
    needs (never a secret)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    uow.notifications.add(NotificationIntent(new_id(), event, dict(payload), at))


@attrs.frozen
class RetrySchedule:
    """Exponential back-off with a cap, and when to give up.

    Attempt ``n`` (1-based) that fails is retried after ``min(first_delay_s * 2**(n-1),
    max_delay_s)``; a delivery is given up after ``max_attempts`` attempts or once the
    intent is older than ``max_age_s``, whichever comes first."""

    first_delay_s: float = 30.0
    max_delay_s: float = 1800.0
    max_attempts: int = 60
    max_age_s: float = 86400.0

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        exponent = min(max(attempts - 1, 0), 60)
        return dt.timedelta(seconds=min(self.first_delay_s * 2**exponent, self.max_delay_s))

    def next_attempt(self, delivery: Delivery, now: dt.datetime) -> dt.datetime | None:
        """When a delivery that just failed (``delivery.attempts`` counts that attempt)
        is tried again, or None when it is given up."""
        if delivery.attempts >= self.max_attempts:
            return None
        at = now + self.delay(delivery.attempts)
        if at - delivery.created_at > dt.timedelta(seconds=self.max_age_s):
            return None
        return at


def describe(intent: NotificationIntent) -> tuple[str, str]:
    """The subject and plain-text body of an intent's email."""
    p = intent.payload
    asn = f"AS{p['asn']}" if "asn" in p else ""
    where = f"{asn} on network {p.get('network_id', '?')} (node {p.get('node_id', '?')})"
    request = f"Request {p.get('request_id', '?')}"
    event = intent.event
    if event == REQUEST_SUBMITTED:
        subject = f"[ztix] New join request: {asn}"
        body = f"{request}: {where} asks to join and waits for review."
        if p.get("notes"):
            body += f"\n\nNotes from the operator: {p['notes']}"
    elif event == REQUEST_APPROVED:
        subject = f"[ztix] Approved: {asn}"
        body = f"{request}: {where} was approved; provisioning follows."
    elif event == REQUEST_REJECTED:
        subject = f"[ztix] Rejected: {asn}"
        body = f"{request}: {where} was rejected.\n\nReason: {p.get('reason', '')}"
    elif event == REQUEST_ACTIVE:
        subject = f"[ztix] Active: {asn}"
        body = f"{request}: {where} is active: every route server is configured."
    elif event == REQUEST_FAILED:
        subject = f"[ztix] Provisioning failed: {asn}"
        body = f"{request}: {where} failed.\n\nError: {p.get('error', '')}"
    elif event == ROUTE_SERVER_APPLY_FAILED:
        subject = f"[ztix] Route server {p.get('server', '?')}: apply failed"
        body = (
            f"Applying generation {p.get('generation', '?')} to route server "
            f"{p.get('server', '?')} failed at stage {p.get('stage', '?')}: "
            f"{p.get('message', '')}"
        )
    elif event == CONTROLLER_NOT_READY:
        subject = "[ztix] Controller not ready"
        body = (
            f"The ZeroTier controller failed its readiness check {p.get('check', '?')}: "
            f"{p.get('message', '')}\n\nRemediation: {p.get('remediation', '')}\n\n"
            "Provisioning waits until it passes."
        )
    else:
        subject, body = f"[ztix] {event}", str(p)
    return subject, f"{body}\n\n-- \nztix ({event}, {intent.created_at.isoformat()})\n"
