"""Which requests still have a message on its way: the reconciler's evidence.

A request in approved / provisioning / deprovisioning is *stuck* only when nothing will
move it: no unsent outbox row names it, and the broker holds no message for it — not
queued, not being processed, not waiting for a retry's back-off. Age proves nothing: under
load a message can wait in a queue for a minute and still be taken.

The relay records, per request, the last message it handed to the broker; a tracker then
answers whether the broker still holds that message:

* :class:`RedisDeliveryTracker` asks Redis itself: Dramatiq keeps every enqueued message in
  the hash ``<namespace>:<queue>.msgs`` (``<queue>.DQ.msgs`` while a retry waits) until it
  is acknowledged, including while a worker holds it and after a dead worker's messages
  are requeued. The records live in Redis too, so every worker instance sees them.
* :class:`LocalDeliveryTracker` is for embedded mode (one process): a middleware counts a
  message's enqueues against its acks. A restarted process starts empty, which is right:
  its in-memory queue died with it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection
from typing import Any, Protocol

import dramatiq
import redis


class DeliveryTracker(Protocol):
    """Remembers the last message sent per request and whether the broker still has it."""

    def record(self, key: str, message: dramatiq.Message[Any]) -> None:
        """``message`` was handed to the broker for request ``key``."""

    def alive(self, keys: Collection[str]) -> set[str]:
        """The keys whose last recorded message is still held by the broker."""


class LocalDeliveryTracker(dramatiq.Middleware):
    """Embedded mode: a message is alive from its first enqueue until as many acks (a
    retry's delayed copy and its move back to the queue are enqueues too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()
        self._last: dict[str, str] = {}

    def record(self, key: str, message: dramatiq.Message[Any]) -> None:
        with self._lock:
            self._last[key] = message.message_id

    def alive(self, keys: Collection[str]) -> set[str]:
        with self._lock:
            return {k for k in keys if self._open.get(self._last.get(k, ""), 0) > 0}

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        with self._lock:
            self._open[message.message_id] += 1

    def _done(self, message: Any) -> None:
        with self._lock:
            left = self._open[message.message_id] - 1
            if left > 0:
                self._open[message.message_id] = left
            else:
                del self._open[message.message_id]

    def after_ack(self, broker: dramatiq.Broker, message: Any) -> None:
        self._done(message)

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        self._done(message)


class RedisDeliveryTracker(dramatiq.Middleware):
    """Several processes on one Redis: every record lives in Redis (with a week's TTL).

    Dramatiq's Redis broker stores each enqueue under a fresh ``redis_message_id`` (a retry
    or a delayed message's move back to its queue is a new enqueue of the same message), so
    this middleware — installed on the broker of every worker process — remembers per
    message its latest queue and Redis id; liveness is then one ``HEXISTS`` on that queue's
    message hash.
    """

    ttl_s = 7 * 24 * 3600

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _request_key(self, key: str) -> str:
        return f"{self.namespace}:delivery:request:{key}"

    def _message_key(self, message_id: str) -> str:
        return f"{self.namespace}:delivery:message:{message_id}"

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        redis_id = message.options.get("redis_message_id")
        if redis_id:
            self.client.set(
                self._message_key(message.message_id),
                f"{message.queue_name}\n{redis_id}",
                ex=self.ttl_s,
            )

    def record(self, key: str, message: dramatiq.Message[Any]) -> None:
        self.client.set(self._request_key(key), message.message_id, ex=self.ttl_s)

    def alive(self, keys: Collection[str]) -> set[str]:
        wanted = list(keys)
        if not wanted:
            return set()
        message_ids = self.client.mget([self._request_key(k) for k in wanted])
        known = [(k, _text(m)) for k, m in zip(wanted, message_ids, strict=True) if m]
        if not known:
            return set()
        places = self.client.mget([self._message_key(m) for _, m in known])
        pipe = self.client.pipeline(transaction=False)
        asked: list[str] = []
        for (key, _), place in zip(known, places, strict=True):
            if not place:
                continue
            queue, redis_id = _text(place).split("\n", 1)
            pipe.hexists(f"{self.namespace}:{queue}.msgs", redis_id)
            asked.append(key)
        found = pipe.execute() if asked else []
        return {key for key, hit in zip(asked, found, strict=True) if hit}


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
