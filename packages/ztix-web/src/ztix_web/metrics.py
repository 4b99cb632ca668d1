"""``/metrics``: the web's Prometheus metrics.

Two kinds, read two ways:

- **Events**, counted where they happen in whichever gunicorn worker handled them: HTTP
  requests by route and status with their duration, failed and throttled sign-ins.
  Under gunicorn they live in prometheus_client's multi-process files
  (``PROMETHEUS_MULTIPROC_DIR``, see :mod:`ztix_web.multiproc`), so a scrape answered
  by any worker sums every worker's counts, including workers that have since exited.
- **The exchange's state**, read from the database at scrape time by
  :class:`VitalsCollector` (:func:`ztix_core.usecases.read_vitals`: five cheap queries,
  reused for ``cache_s``): requests per status, each route server's desired and applied
  generation, what the worker last observed of the route servers and the controller, the
  outbox backlog. Every worker reads the same database, so every scrape agrees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import falcon
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.usecases.vitals import Vitals, read_vitals
from ztix_web.multiproc import multiprocess_dir

# ``*_created`` series (a timestamp per counter) only add noise to ztix's dashboards.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

#: Every event metric of the web is registered here (never in prometheus_client's global
#: registry), so an app's ``/metrics`` says exactly what ztix counts.
EVENTS = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "ztix_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=EVENTS,
)
HTTP_DURATION = Histogram(
    "ztix_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=EVENTS,
)
LOGIN_FAILURES = Counter(
    "ztix_login_failures",
    "Local sign-ins refused for a wrong username or password.",
    registry=EVENTS,
)
LOGIN_THROTTLED = Counter(
    "ztix_login_throttled",
    "Local sign-ins refused before any password check: too many recent failures for the "
    "account or the client address.",
    registry=EVENTS,
)


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered HTTP request."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


class VitalsCollector(Collector):
    """The exchange's state as gauges, read from storage at scrape time; one reading is
    reused for ``cache_s`` seconds (scrapes closer together cost no query). A reading that
    fails yields ``ztix_vitals_up 0`` and nothing else, so the scrape itself never fails."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, cache_s: float) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._cached: tuple[float, Vitals] | None = None

    def read(self) -> Vitals:
        """The current reading (from the cache while it is fresh)."""
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            vitals = read_vitals(self.uow_factory, self.clock)
            self._cached = (now, vitals)
            return vitals

    def collect(self) -> Iterable[Any]:
        """The gauges of one reading."""
        up = GaugeMetricFamily(
            "ztix_vitals_up", "1 when the exchange's state could be read from storage."
        )
        try:
            vitals = self.read()
        except Exception:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *_families(vitals)]


def _families(v: Vitals) -> Iterator[GaugeMetricFamily]:
    requests = GaugeMetricFamily("ztix_requests", "Join requests by status.", labels=["status"])
    for status, count in sorted(v.requests.items(), key=lambda item: item[0].value):
        requests.add_metric([status.value], count)
    yield requests
    desired = GaugeMetricFamily(
        "ztix_route_server_desired_generation",
        "The member set's generation each route server should run.",
        labels=["server"],
    )
    applied = GaugeMetricFamily(
        "ztix_route_server_applied_generation",
        "The newest generation each route server applied.",
        labels=["server"],
    )
    failing = GaugeMetricFamily(
        "ztix_route_server_last_apply_failed",
        "1 when the route server's last apply failed (its error is on the route servers page).",
        labels=["server"],
    )
    for state in v.route_servers:
        desired.add_metric([state.name], state.desired_generation)
        applied.add_metric([state.name], state.applied_generation)
        failing.add_metric([state.name], 1 if state.last_error else 0)
    yield from (desired, applied, failing)
    reachable = GaugeMetricFamily(
        "ztix_route_server_reachable",
        "1 when the worker reached the route server at its last observation.",
        labels=["server"],
    )
    sessions = GaugeMetricFamily(
        "ztix_route_server_sessions",
        "Member BGP sessions on each route server at the last observation, by state "
        "(established, or total).",
        labels=["server", "state"],
    )
    for seen in v.observed_servers:
        reachable.add_metric([seen.server], 1 if seen.reachable else 0)
        sessions.add_metric([seen.server, "established"], seen.sessions_established)
        sessions.add_metric([seen.server, "total"], seen.sessions_total)
    yield from (reachable, sessions)
    ready = GaugeMetricFamily(
        "ztix_controller_ready",
        "1 when the controller passed every readiness check at the worker's last look, 0 "
        "when one failed (absent before the first look).",
    )
    age = GaugeMetricFamily(
        "ztix_controller_observed_age_seconds",
        "Seconds since the worker last checked the controller's readiness.",
    )
    if v.controller is not None:
        ready.add_metric([], 1 if v.controller.ready else 0)
        age.add_metric([], max((v.at - v.controller.observed_at).total_seconds(), 0.0))
    yield from (ready, age)
    yield GaugeMetricFamily(
        "ztix_outbox_pending",
        "Outbox messages not yet handed to the queue.",
        value=v.outbox_pending,
    )
    yield GaugeMetricFamily(
        "ztix_outbox_oldest_age_seconds",
        "Age of the oldest outbox message not yet handed to the queue (0 when none waits).",
        value=v.outbox_oldest_age_s,
    )


class _Registry(Collector):
    """Another registry's metrics, as one collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()


def scrape_registry(vitals: Collector | None) -> CollectorRegistry:
    """What ``/metrics`` serves: the event metrics (every process's, from the
    multi-process files when there are some; this process's otherwise) and ``vitals``."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Registry(EVENTS))
    if vitals is not None:
        registry.register(vitals)
    return registry


class MetricsResource:
    """``GET /metrics``: the Prometheus text format (no session, never cached)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render every metric now."""
        resp.cache_control = ["no-store"]
        resp.content_type = prometheus_client.CONTENT_TYPE_LATEST
        resp.data = prometheus_client.generate_latest(self.registry)
