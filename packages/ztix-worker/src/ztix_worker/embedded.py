"""Embedded mode for other processes (the demo, a single-box web process).

``start_embedded(app)`` runs the outbox relay, the actors (on a StubBroker, in-process) and
the reconciler inside the calling process; stop it with ``runtime.stop()``.
"""

from __future__ import annotations

import attrs

from ztix_core.bootstrap import App
from ztix_core.records import JsonDict
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings, load_worker_settings


class DramatiqTaskQueue:
    """The core's TaskQueue port over a runtime's actors (what the relay publishes to)."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime

    def dispatch(self, topic: str, payload: JsonDict, correlation_id: str) -> None:
        """Send to the topic's actor; raises on a broker outage or an unknown topic."""
        self.runtime.publish(topic, payload, correlation_id)


def start_embedded(app: App, worker_settings: WorkerSettings | None = None) -> WorkerRuntime:
    """Start the worker inside this process, whatever ``REDIS_URL`` says (embedded mode
    never uses Redis); returns the running runtime."""
    if app.settings.redis_url:
        app = attrs.evolve(app, settings=attrs.evolve(app.settings, redis_url=None))
    runtime = WorkerRuntime(app, worker_settings or load_worker_settings(app.settings))
    runtime.start()
    return runtime
