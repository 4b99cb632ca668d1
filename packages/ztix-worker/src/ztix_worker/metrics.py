"""The worker's Prometheus metrics, served on ``[worker] metrics_bind``.

- **Events**, counted where they happen (the consumer processes' actors) through the
  core's :class:`~ztix_core.ports.ProvisioningEvents`: every route-server apply by server
  and outcome with its duration, every provisioning failure by stage, and the time from
  approval to active. With several consumer processes they live in prometheus_client's
  multi-process files (:mod:`ztix_worker.multiproc`) and the scrape sums them.
- **This worker's state**, read at scrape time by :class:`WorkerCollector`: messages
  waiting in each queue (Redis, or the embedded broker) and whether its readiness gate
  is open. The exchange's state (requests per status, generations, outbox, the
  controller's readiness as observed) is the web's ``/metrics``: it comes from the
  database, and any web process serves it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ztix_core.errors import SettingsError
from ztix_core.ports import ApplyOutcome
from ztix_core.records import JoinRequest
from ztix_worker.multiproc import multiprocess_dir

if TYPE_CHECKING:
    from ztix_worker.runtime import WorkerRuntime

log = logging.getLogger(__name__)

# ``*_created`` series (a timestamp per counter) only add noise to ztix's dashboards.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

#: Every event metric of the worker is registered here (never in the library's global
#: registry), so ``/metrics`` says exactly what ztix counts.
EVENTS = CollectorRegistry(auto_describe=True)

APPLIES = Counter(
    "ztix_route_server_applies",
    "Route-server applies by server and outcome (applied, unchanged, failed).",
    ["server", "outcome"],
    registry=EVENTS,
)
APPLY_DURATION = Histogram(
    "ztix_route_server_apply_duration_seconds",
    "Time one route server's apply took (upload, check, configure, health check), by server.",
    ["server"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
    registry=EVENTS,
)
FAILURES = Counter(
    "ztix_provisioning_failures",
    "Requests that failed provisioning, by stage (readiness, ipam, membership, authorize, "
    "route_server_config, route_server).",
    ["stage"],
    registry=EVENTS,
)
APPROVAL_TO_ACTIVE = Histogram(
    "ztix_approval_to_active_seconds",
    "Time from a request's approval to active (retries included).",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600),
    registry=EVENTS,
)


#: The stages a provisioning failure can have (``ProvisioningEvents.request_failed``).
STAGES = (
    "readiness",
    "ipam",
    "membership",
    "authorize",
    "route_server_config",
    "route_server",
)
OUTCOMES = ("applied", "unchanged", "failed")


class PrometheusEvents:
    """The core's provisioning events, counted. Never raises: a metric must not fail the
    provisioning step that reported it. Every stage, and every outcome of each of
    ``servers``, starts at 0, so the series exist (and alerts can compare them) before the
    first event."""

    def __init__(self, servers: Iterable[str] = ()) -> None:
        for stage in STAGES:
            FAILURES.labels(stage)
        for server in servers:
            APPLY_DURATION.labels(server)
            for outcome in OUTCOMES:
                APPLIES.labels(server, outcome)

    def request_activated(self, request: JoinRequest, at: dt.datetime) -> None:
        """Observe the time since approval."""
        try:
            if request.decided_at is not None:
                APPROVAL_TO_ACTIVE.observe(max((at - request.decided_at).total_seconds(), 0.0))
        except Exception:
            log.exception("could not count an activation")

    def request_failed(self, request: JoinRequest, stage: str) -> None:
        """Count a failure at ``stage``."""
        try:
            FAILURES.labels(stage or "unknown").inc()
        except Exception:
            log.exception("could not count a failure")

    def route_server_applied(self, outcome: ApplyOutcome) -> None:
        """Count an apply and observe its duration."""
        try:
            APPLIES.labels(outcome.server, outcome.result).inc()
            APPLY_DURATION.labels(outcome.server).observe(outcome.duration_s)
        except Exception:
            log.exception("could not count an apply")


def queue_depths(runtime: WorkerRuntime) -> dict[str, int]:
    """Messages waiting in each of the broker's queues (delay queues, where retries wait
    for their back-off, included), by queue name."""
    broker: Any = runtime.broker
    names = sorted(set(broker.get_declared_queues()) | set(broker.get_declared_delay_queues()))
    if runtime.redis is None:
        return {name: broker.queues[name].qsize() for name in names if name in broker.queues}
    namespace = runtime.worker_settings.redis_namespace
    pipe = runtime.redis.pipeline()
    for name in names:
        pipe.llen(f"{namespace}:{name}")
    return {name: int(depth) for name, depth in zip(names, pipe.execute(), strict=True)}


class WorkerCollector(Collector):
    """The worker's own state at scrape time: queue depths and the readiness gate. A
    broker that cannot be read yields no depth (the scrape itself never fails)."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Any]:
        """The gauges, now."""
        depth = GaugeMetricFamily(
            "ztix_queue_depth", "Messages waiting in each task queue.", labels=["queue"]
        )
        try:
            for name, count in queue_depths(self.runtime).items():
                depth.add_metric([name], count)
        except Exception as exc:
            log.warning("queue depth unreadable: %s: %s", type(exc).__name__, exc)
        gate = GaugeMetricFamily(
            "ztix_worker_gate_open",
            "1 when this worker's controller readiness gate lets messages through, 0 when it "
            "holds them (absent before its first check).",
        )
        state = self.runtime.gate.last_open
        if state is not None:
            gate.add_metric([], 1 if state else 0)
        return [depth, gate]


class _Registry(Collector):
    """Another registry's metrics, as one collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()


def scrape_registry(runtime: WorkerRuntime) -> CollectorRegistry:
    """What the endpoint serves: the event metrics (every consumer process's, from the
    multi-process files when there are some) and this worker's state."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Registry(EVENTS))
    registry.register(WorkerCollector(runtime))
    return registry


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); SettingsError otherwise."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError("worker.metrics_bind", f"{bind!r} must be HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsServer:
    """The HTTP endpoint (``GET /metrics``) in a daemon thread; ``port`` is the real port
    (useful with port 0)."""

    def __init__(self, bind: str, runtime: WorkerRuntime) -> None:
        host, port = parse_bind(bind)
        try:
            server, thread = prometheus_client.start_http_server(
                port, host, registry=scrape_registry(runtime)
            )
        except OSError as exc:
            raise SettingsError(
                "worker.metrics_bind", f"cannot listen on {bind}: {exc.strerror or exc}"
            ) from None
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        self.host = host
        self.port: int = server.server_address[1]
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
