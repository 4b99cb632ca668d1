"""The worker's ``/metrics``: scraped over HTTP from a real endpoint while a real runtime
provisions, and the queue depth read from Redis."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ztix_core.errors import ProviderError, SettingsError
from ztix_core.settings import Settings
from ztix_worker.metrics import MetricsServer, PrometheusEvents, parse_bind, queue_depths
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import (
    REDIS_URL,
    FlakyProvider,
    MemoryExchange,
    memory_exchange,
    wait_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample of the endpoint, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def running() -> Iterator[tuple[WorkerRuntime, MetricsServer, FlakyProvider, MemoryExchange]]:
    """An embedded runtime counting its events, with its endpoint on a free port."""
    provider = FlakyProvider()
    ex = memory_exchange(provider=provider)
    ws = WorkerSettings(relay_interval_s=0.01, worker_timeout_ms=20, max_retries=0)
    rt = WorkerRuntime(ex.app, ws, events=PrometheusEvents(["rs1", "rs2"]))
    server = MetricsServer("127.0.0.1:0", rt)
    rt.start()
    try:
        wait_for(rt.started.is_set)
        yield rt, server, provider, ex
    finally:
        server.stop()
        rt.stop()


def test_an_activation_and_a_failure_move_the_worker_metrics(
    running: tuple[WorkerRuntime, MetricsServer, FlakyProvider, MemoryExchange],
) -> None:
    rt, server, provider, ex = running
    before = scrape(server.port)
    # every stage and every server's outcomes exist before the first event
    assert ("ztix_provisioning_failures_total", (("stage", "authorize"),)) in before
    assert ("ztix_route_server_applies_total", (("outcome", "failed"), ("server", "rs2"))) in before
    ex.approved(64500)
    rt.drain()
    after = scrape(server.port)
    count = "ztix_approval_to_active_seconds_count"
    assert value(after, count) == value(before, count) + 1
    assert value(after, "ztix_approval_to_active_seconds_sum") > value(
        before, "ztix_approval_to_active_seconds_sum"
    )
    for rs in ("rs1", "rs2"):
        applied = value(after, "ztix_route_server_applies_total", server=rs, outcome="applied")
        assert (
            applied
            == value(before, "ztix_route_server_applies_total", server=rs, outcome="applied") + 1
        )
        durations = value(after, "ztix_route_server_apply_duration_seconds_count", server=rs)
        assert durations >= 1
    assert value(after, "ztix_worker_gate_open") == 1
    assert ("ztix_queue_depth", (("queue", "ztix"),)) in after
    # a permanent controller error fails the request at the authorize stage
    provider.failures = 1
    provider.error = ProviderError("forbidden", kind="unauthorized", transient=False)
    ex.approved(64501)
    rt.drain()
    failed = scrape(server.port)
    stage = {"stage": "authorize"}
    assert value(failed, "ztix_provisioning_failures_total", **stage) == (
        value(after, "ztix_provisioning_failures_total", **stage) + 1
    )
    assert value(failed, count) == value(after, count)


def test_queue_depth_reads_redis(redis_ns: str) -> None:
    settings = Settings(storage="memory", route_server_fleet="memory", redis_url=REDIS_URL)
    ex = memory_exchange(settings)
    rt = WorkerRuntime(ex.app, WorkerSettings(redis_namespace=redis_ns, queue="q"))
    try:
        for i in range(3):
            rt.actors.provision.send_with_options(kwargs={"request_id": f"r{i}"})
        rt.actors.sync.send_with_options(kwargs={}, delay=60_000)
        depths = queue_depths(rt)
        assert depths["q"] == 3 and depths["q_sync"] == 0 and depths["q_sync.DQ"] == 1
    finally:
        rt.broker.close()


def test_a_bad_or_busy_bind_is_refused_clearly() -> None:
    for bad in ("9464", "host:port", "127.0.0.1:99999"):
        with pytest.raises(SettingsError, match=r"worker\.metrics_bind"):
            WorkerSettings(metrics_bind=bad)
        with pytest.raises(SettingsError, match=r"worker\.metrics_bind"):
            parse_bind(bad)
    assert parse_bind("[::1]:9464") == ("::1", 9464)
    assert parse_bind(":9464") == ("0.0.0.0", 9464)
    ex = memory_exchange()
    rt = WorkerRuntime(ex.app, WorkerSettings())
    first = MetricsServer("127.0.0.1:0", rt)
    try:
        with pytest.raises(SettingsError, match="cannot listen on"):
            MetricsServer(f"127.0.0.1:{first.port}", rt)
    finally:
        first.stop()
