"""The notification loop: expand intents into deliveries, send what is due, record each
outcome — one delivery's failure never holds up another, nor provisioning.

It runs on threads of its own in the worker process (provisioning runs on Dramatiq's);
sending happens outside any unit of work. Each (channel, target) has at most one attempt
in flight in this process: a dead endpoint that times out occupies one of the
``concurrency`` slots, never all of them, and its deliveries wait out their own back-off
(:class:`~ztix_core.notifications.RetrySchedule`) while the rest go on.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from ztix_core.notify_ports import Channel, Delivery, DeliveryStatus, DueDelivery
from ztix_core.usecases.notify import NotificationDeliveries
from ztix_worker.notify.senders import SendFailed

log = logging.getLogger(__name__)

Send = Callable[[DueDelivery], None]


@attrs.define
class NotifyStats:
    """What this process did (the database's counts cover every process)."""

    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0


class NotificationLoop:
    """Runs :class:`NotificationDeliveries` with ``send`` on ``concurrency`` threads."""

    def __init__(
        self,
        deliveries: NotificationDeliveries,
        send: Send,
        *,
        concurrency: int = 4,
        interval_s: float = 1.0,
        attempt_timeout_s: float = 10.0,
    ) -> None:
        self.deliveries = deliveries
        self.send = send
        self.concurrency = concurrency
        self.interval_s = interval_s
        # the lease outlives the slowest chain of attempts one claim can start
        self.lease_s = 4 * attempt_timeout_s * (concurrency + 1) + 30
        self.stats = NotifyStats()
        self._busy: dict[tuple[Channel, str], Future[None]] = {}
        self._lock = threading.Lock()

    def run_once(self, pool: ThreadPoolExecutor) -> int:
        """Expand waiting intents, then start sending what is due into free slots; how
        many deliveries were started."""
        self.deliveries.expand()
        with self._lock:
            self._busy = {k: f for k, f in self._busy.items() if not f.done()}
            free = self.concurrency - len(self._busy)
            busy = set(self._busy)
        if free <= 0:
            return 0
        due = self.deliveries.claim(free, self.lease_s, busy)
        chains: dict[tuple[Channel, str], list[DueDelivery]] = defaultdict(list)
        for item in due:
            chains[(item.delivery.channel, item.delivery.target)].append(item)
        with self._lock:
            for key, items in chains.items():
                self._busy[key] = pool.submit(self._chain, items)
        return len(due)

    def _chain(self, items: list[DueDelivery]) -> None:
        """One recipient's due deliveries, in turn. After a failed attempt the rest wait
        for that attempt's back-off untried: a dead endpoint costs one timeout per
        back-off, not one per waiting notification."""
        for i, item in enumerate(items):
            after = self._attempt(item)
            if after is not None and after.status is DeliveryStatus.PENDING:
                for rest in items[i + 1 :]:
                    try:
                        self.deliveries.postpone(rest, after.next_attempt_at)
                    except Exception:
                        log.exception("could not put a notification back (its lease ends it)")
                return

    def _attempt(self, due: DueDelivery) -> Delivery | None:
        """Send one; the delivery as recorded after a failed attempt, None otherwise."""
        d = due.delivery
        name = f"{due.intent.event} via {d.channel.value} to {d.target}"
        try:
            self.send(due)
        except SendFailed as exc:
            return self._failed(due, name, str(exc))
        except Exception as exc:  # a bug or an unforeseen library error: still retried
            log.exception("notification %s: unexpected error", name)
            return self._failed(due, name, f"unexpected {type(exc).__name__}")
        try:
            self.deliveries.delivered(due)
        except Exception:
            log.exception("notification %s sent, but recording it failed (may be re-sent)", name)
            return None
        with self._lock:
            self.stats.delivered += 1
        log.info("notification %s delivered (attempt %d)", name, d.attempts + 1)
        return None

    def _failed(self, due: DueDelivery, name: str, error: str) -> Delivery | None:
        try:
            after = self.deliveries.failed(due, error)
        except Exception:
            log.exception("notification %s failed and recording it failed too", name)
            return None
        gave_up = after.status is DeliveryStatus.GAVE_UP
        with self._lock:
            self.stats.failed_attempts += 1
            self.stats.gave_up += gave_up
        if gave_up:
            log.error("notification %s given up after %d attempts: %s", name, after.attempts, error)
        else:
            log.warning(
                "notification %s failed (attempt %d): %s; next attempt at %s",
                name,
                after.attempts,
                error,
                after.next_attempt_at.isoformat(),
            )
        return after

    def run_forever(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; storage trouble is logged once per
        outage and retried."""
        failing = False
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="notify")
        try:
            while not stop.is_set():
                try:
                    self.run_once(pool)
                    if failing:
                        log.info("notifications: storage reachable again")
                    failing = False
                except Exception:
                    log.log(
                        logging.DEBUG if failing else logging.WARNING,
                        "notification pass failed (storage?); retrying",
                        exc_info=True,
                    )
                    failing = True
                stop.wait(self.interval_s)
        finally:
            # an attempt in flight ends by its own timeout; its lease makes it due again
            # for another worker if this process exits first
            pool.shutdown(wait=False, cancel_futures=True)
