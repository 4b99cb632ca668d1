"""Use cases of notifications: operators' recipients per ASN, intents expanded into
deliveries, and each delivery attempt's outcome (retry with back-off, or give up)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Iterable

import attrs

from ztix_core.errors import InvalidValue, NotEligible, NotFound
from ztix_core.notifications import (
    ADMIN_EVENTS,
    MAX_RECIPIENTS,
    OPERATOR_EVENTS,
    RetrySchedule,
    valid_email,
)
from ztix_core.notify_ports import (
    Channel,
    Delivery,
    DeliveryStatus,
    DueDelivery,
    NotificationIntent,
)
from ztix_core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, JsonDict, new_id
from ztix_core.usecases._common import audit
from ztix_core.values import Asn

NOTIFIER = Actor.system("notifier")


@attrs.frozen
class WebhookTarget:
    """A webhook endpoint by name, and the events it wants (every event when empty)."""

    name: str
    events: frozenset[str] = frozenset()

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


@attrs.frozen
class NotificationTargets:
    """Who may be told, from the settings.

    ``admin_emails`` are the admins' recipients; when empty, the email of every admin
    account that is not disabled is used instead. With ``email`` off nobody gets mail."""

    email: bool = False
    admin_emails: tuple[str, ...] = ()
    webhooks: tuple[WebhookTarget, ...] = ()


@attrs.frozen
class AsnRecipients:
    """One of an operator's ASNs and who gets its mail (``default``: the account's
    email, as no list is stored)."""

    asn: Asn
    network_name: str | None
    emails: tuple[str, ...]
    default: bool


def parse_recipients(raw: str) -> tuple[str, ...]:
    """Addresses separated by commas, semicolons, spaces or new lines, deduplicated in
    order; InvalidValue names the first bad one, or too many."""
    found: list[str] = []
    for part in re.split(r"[,;\s]+", raw.strip()):
        if not part:
            continue
        if not valid_email(part):
            raise InvalidValue("recipients", f"{part[:100]!r} is not an email address")
        if part.lower() not in {f.lower() for f in found}:
            found.append(part)
    if len(found) > MAX_RECIPIENTS:
        raise InvalidValue("recipients", f"at most {MAX_RECIPIENTS} addresses per ASN")
    return tuple(found)


class NotificationPreferences:
    """An operator's choice, per ASN, of who gets the mail about its requests."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def for_user(self, user_id: uuid.UUID) -> list[AsnRecipients]:
        """Every ASN linked to the user, with its recipients (the account's email when
        none are stored; empty when the account has no email either)."""
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            stored = uow.notify_recipients.for_user(user_id)
            links = uow.asn_links.list_for_user(user_id)
        default = (user.email,) if user.email else ()
        return [
            AsnRecipients(
                link.asn,
                link.network_name,
                stored.get(link.asn, default),
                link.asn not in stored,
            )
            for link in links
        ]

    def set_recipients(self, user_id: uuid.UUID, asn: object, raw: str) -> tuple[str, ...]:
        """Store who gets the mail for one of the user's ASNs; blank text goes back to
        the default (the account's email). Audited. InvalidValue for a bad address or too
        many, NotEligible for an ASN not linked to the user; either changes nothing."""
        parsed_asn = Asn.parse(asn)
        emails = parse_recipients(raw)
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            if parsed_asn not in {lk.asn for lk in uow.asn_links.list_for_user(user_id)}:
                raise NotEligible(
                    f"{parsed_asn} is not linked to your account", asn=parsed_asn.value
                )
            now = self.clock.now()
            if emails:
                uow.notify_recipients.set(user_id, parsed_asn, emails, now)
            else:
                uow.notify_recipients.clear(user_id, parsed_asn)
            audit(
                uow,
                now,
                Actor.user(user),
                "notification.recipients_set",
                "user",
                str(user_id),
                {"asn": parsed_asn.value, "recipients": len(emails), "default": not emails},
            )
            uow.commit()
        return emails


class NotificationDeliveries:
    """Turns intents into deliveries and records what each attempt did.

    The caller (the worker) claims due deliveries, sends them outside any unit of work
    and reports each outcome with :meth:`delivered` or :meth:`failed`."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        targets: NotificationTargets,
        schedule: RetrySchedule | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.targets = targets
        self.schedule = schedule or RetrySchedule()

    def expand(self, limit: int = 100) -> int:
        """Expand up to ``limit`` waiting intents into deliveries (one per email address
        and one per webhook endpoint that wants the event), in one unit of work; how many
        intents were expanded."""
        with self.uow_factory() as uow:
            intents = uow.notifications.claim_unexpanded(limit)
            now = self.clock.now()
            for intent in intents:
                uow.notifications.expand(intent.id, self._plan(uow, intent, now), now)
            uow.commit()
        return len(intents)

    def _plan(
        self, uow: UnitOfWork, intent: NotificationIntent, now: dt.datetime
    ) -> list[Delivery]:
        pairs: list[tuple[Channel, str]] = []
        if self.targets.email:
            pairs += [(Channel.EMAIL, a) for a in self._emails(uow, intent)]
        pairs += [(Channel.WEBHOOK, w.name) for w in self.targets.webhooks if w.wants(intent.event)]
        return [
            Delivery(new_id(), intent.id, channel, target, now, now) for channel, target in pairs
        ]

    def _emails(self, uow: UnitOfWork, intent: NotificationIntent) -> list[str]:
        if intent.event in ADMIN_EVENTS:
            if self.targets.admin_emails:
                return list(self.targets.admin_emails)
            admins = [u for u in uow.users.list() if u.is_admin and not u.disabled and u.email]
            return _unique(u.email for u in admins if u.email)
        if intent.event in OPERATOR_EVENTS:
            try:
                user_id = uuid.UUID(str(intent.payload.get("user_id")))
                asn = Asn.parse(intent.payload.get("asn"))
            except (ValueError, InvalidValue):
                return []
            stored = uow.notify_recipients.for_user(user_id).get(asn)
            if stored is not None:
                return list(stored)
            user = uow.users.get(user_id)
            return [user.email] if user is not None and user.email and not user.disabled else []
        return []

    def claim(
        self, limit: int, lease_s: float, busy: Collection[tuple[Channel, str]] = ()
    ) -> list[DueDelivery]:
        """Take up to ``limit`` due deliveries for ``lease_s`` seconds (longer than one
        attempt may take), leaving out the (channel, target) pairs in ``busy``."""
        with self.uow_factory() as uow:
            now = self.clock.now()
            due = uow.notifications.claim_due(
                now, limit, now + dt.timedelta(seconds=lease_s), skip_targets=busy
            )
            uow.commit()
        return due

    def delivered(self, due: DueDelivery) -> Delivery:
        """The attempt succeeded."""
        now = self.clock.now()
        done = attrs.evolve(
            due.delivery,
            status=DeliveryStatus.DELIVERED,
            attempts=due.delivery.attempts + 1,
            lease_until=None,
            last_error="",
            finished_at=now,
        )
        with self.uow_factory() as uow:
            uow.notifications.save(done)
            uow.commit()
        return done

    def failed(self, due: DueDelivery, error: str) -> Delivery:
        """The attempt failed with ``error`` (which must hold no secret): schedule the
        next attempt, or give up — audited as ``notification.gave_up``."""
        now = self.clock.now()
        tried = attrs.evolve(
            due.delivery, attempts=due.delivery.attempts + 1, last_error=error[:1000]
        )
        at = self.schedule.next_attempt(tried, now)
        if at is None:
            tried = attrs.evolve(
                tried, status=DeliveryStatus.GAVE_UP, lease_until=None, finished_at=now
            )
        else:
            tried = attrs.evolve(tried, next_attempt_at=at, lease_until=None)
        with self.uow_factory() as uow:
            uow.notifications.save(tried)
            if at is None:
                meta: JsonDict = {
                    "event": due.intent.event,
                    "notification_id": str(due.intent.id),
                    "channel": tried.channel.value,
                    "target": tried.target,
                    "attempts": tried.attempts,
                    "error": tried.last_error,
                }
                audit(
                    uow, now, NOTIFIER, "notification.gave_up", "notification", str(tried.id), meta
                )
            uow.commit()
        return tried

    def postpone(self, due: DueDelivery, until: dt.datetime) -> Delivery:
        """Put a claimed delivery back, untried, due at ``until`` (its attempts unchanged):
        for the ones queued behind a failed attempt to the same recipient."""
        later = attrs.evolve(due.delivery, next_attempt_at=until, lease_until=None)
        with self.uow_factory() as uow:
            uow.notifications.save(later)
            uow.commit()
        return later

    def counts(self) -> dict[DeliveryStatus, int]:
        """Deliveries per status (given up ones included: the count ops watch)."""
        with self.uow_factory() as uow:
            return uow.notifications.counts()


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.lower() not in {o.lower() for o in out}:
            out.append(item)
    return out
