"""The outbox relay: outbox rows → task queue, then marked sent, in one unit of work.

Rows are claimed with ``claim_unsent`` (SKIP LOCKED in SQL), so several relays never
publish the same row at once. A row is marked sent only after the broker accepted it; a
broker outage leaves the rest unsent (with an attempt counted) and the relay backs off.
Delivery is therefore at least once; the actors are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import attrs

from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.records import JsonDict, OutboxMessage
from ztix_worker.audit import audit
from ztix_worker.logs import request_context

log = logging.getLogger(__name__)

Publish = Callable[[str, JsonDict, str], None]


class UnknownTopic(LookupError):
    """No actor handles this outbox topic."""


@attrs.frozen
class RelayPass:
    """What one pass did."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0


class OutboxRelay:
    """Publishes waiting outbox rows through ``publish(topic, payload, correlation_id)``.

    ``publish`` raises UnknownTopic for a topic no actor handles (the row is dropped with
    an audit event, so it cannot block the rows behind it) and anything else for a broker
    outage (the row waits).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        publish: Publish,
        *,
        batch: int = 200,
        interval_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.publish = publish
        self.batch = batch
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self._failing = False

    def run_once(self) -> RelayPass:
        """Claim up to ``batch`` rows, publish them in order, mark the published ones sent;
        stop at the first broker failure."""
        sent = dropped = failed = 0
        with self.uow_factory() as uow:
            for message in uow.outbox.claim_unsent(self.batch):
                outcome = self._publish(message)
                if outcome == "sent":
                    uow.outbox.mark_sent(message.id, self.clock.now())
                    sent += 1
                elif outcome == "dropped":
                    uow.outbox.mark_sent(message.id, self.clock.now())
                    audit(
                        uow,
                        self.clock.now(),
                        "outbox.undeliverable",
                        "outbox",
                        str(message.id),
                        {"topic": message.topic, "correlation_id": message.correlation_id},
                    )
                    dropped += 1
                else:
                    uow.outbox.record_attempt(message.id)
                    failed += 1
                    break
            uow.commit()
        return RelayPass(sent, failed, dropped)

    def _publish(self, message: OutboxMessage) -> str:
        with request_context(message.correlation_id):
            try:
                self.publish(message.topic, dict(message.payload), message.correlation_id)
            except UnknownTopic:
                log.error(
                    "outbox message %s has unknown topic %r; dropped", message.id, message.topic
                )
                return "dropped"
            except Exception as exc:
                # once per outage: the health monitor reports the broker itself
                log.log(
                    logging.DEBUG if self._failing else logging.WARNING,
                    "broker refused outbox message %s (%s): %s; it waits",
                    message.id,
                    message.topic,
                    exc,
                )
                self._failing = True
                return "failed"
            self._failing = False
            log.info("relayed outbox message %s (%s)", message.id, message.topic)
            return "sent"

    def run_forever(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; a busy pass is followed at once by the
        next, a failing one by an exponential back-off."""
        backoff = self.interval_s
        storage_failing = False
        while not stop.is_set():
            try:
                result = self.run_once()
                if storage_failing:
                    log.info("outbox relay: storage reachable again")
                storage_failing = False
            except Exception:
                # once per outage (the traceback at debug level); the back-off grows
                log.log(
                    logging.DEBUG if storage_failing else logging.WARNING,
                    "outbox relay pass failed (storage?); retrying with back-off up to %.0f s",
                    self.max_backoff_s,
                    exc_info=True,
                )
                storage_failing = True
                result = RelayPass(failed=1)
            if result.failed:
                backoff = min(backoff * 2, self.max_backoff_s)
                stop.wait(backoff)
                continue
            backoff = self.interval_s
            if result.sent + result.dropped < self.batch:
                stop.wait(self.interval_s)
