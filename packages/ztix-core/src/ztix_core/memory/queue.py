"""Task queues that need no broker."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ztix_core.records import JsonDict

Handler = Callable[[JsonDict, str], None]


class RecordingQueue:
    """Keeps what was dispatched; can be told to fail like a broker outage."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, JsonDict, str]] = []
        self.down = False

    def dispatch(self, topic: str, payload: JsonDict, correlation_id: str) -> None:
        if self.down:
            raise ConnectionError("queue is down")
        self.sent.append((topic, dict(payload), correlation_id))


class InProcessQueue:
    """Runs handlers in the calling process (embedded mode). Unknown topics are refused."""

    def __init__(self, handlers: dict[str, Handler] | None = None) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._lock = threading.Lock()

    def register(self, topic: str, handler: Handler) -> None:
        self.handlers[topic] = handler

    def dispatch(self, topic: str, payload: JsonDict, correlation_id: str) -> None:
        handler = self.handlers.get(topic)
        if handler is None:
            raise LookupError(f"no handler for topic {topic!r}")
        with self._lock:
            handler(payload, correlation_id)
