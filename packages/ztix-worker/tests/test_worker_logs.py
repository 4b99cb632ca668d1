"""Structured logs carry the request id from the outbox through actor and provider calls."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence

from ztix_core.ports import IPAddress, MemberState
from ztix_core.values import NetworkId, NodeId
from ztix_worker.logs import JsonFormatter, configure_logging, request_context
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import FlakyProvider, memory_exchange, wait_for


class LoggingProvider(FlakyProvider):
    """Logs like a real provider's HTTP client would."""

    def authorize_member(
        self, network_id: NetworkId, node_id: NodeId, ip_assignments: Sequence[IPAddress], name: str
    ) -> MemberState:
        logging.getLogger("ztix_adapters_zerotier.fake").info("POST member %s", node_id)
        return super().authorize_member(network_id, node_id, ip_assignments, name)


def test_formatter_writes_json_with_context_and_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.stage = "apply"
    with request_context("r-1"):
        doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "hello you" and doc["request_id"] == "r-1"
    assert doc["stage"] == "apply" and doc["level"] == "info"
    assert json.loads(JsonFormatter().format(record))["request_id"] is None


def test_request_id_flows_from_outbox_to_provider_logs() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    ex = memory_exchange(provider=LoggingProvider())
    rt = WorkerRuntime(ex.app, WorkerSettings(relay_interval_s=0.01, worker_timeout_ms=20))
    rt.start()
    try:
        wait_for(rt.started.is_set)
        rid = ex.approved(64500)
        rt.drain()
    finally:
        rt.stop()
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = {d["logger"] for d in lines if d["request_id"] == str(rid)}
    assert {"ztix_worker.relay", "ztix_worker.actors", "ztix_adapters_zerotier.fake"} <= mine, mine


SECRET_TOKEN = "zt1-controller-token-0123456789"


class LeakyProvider(FlakyProvider):
    """Logs its credentials the way a careless HTTP client would."""

    def authorize_member(
        self, network_id: NetworkId, node_id: NodeId, ip_assignments: Sequence[IPAddress], name: str
    ) -> MemberState:
        logging.getLogger("ztix_adapters_zerotier.fake").info(
            "POST member %s headers={'X-ZT1-Auth': '%s'} via %s",
            node_id,
            SECRET_TOKEN,
            "postgresql://ztix:db-password-42@db/ztix",
        )
        return super().authorize_member(network_id, node_id, ip_assignments, name)


def test_every_job_line_carries_request_and_message_id_and_no_secret() -> None:
    from ztix_core.logs import configure_from_settings
    from ztix_core.settings import Settings

    stream = io.StringIO()
    settings = Settings(
        storage="memory",
        route_server_fleet="memory",
        zt_controller_auth_token=SECRET_TOKEN,
        database_url="postgresql://ztix:db-password-42@db/ztix",
    )
    handler = configure_from_settings(settings, "INFO", stream=stream)
    ex = memory_exchange(settings, provider=LeakyProvider())
    rt = WorkerRuntime(ex.app, WorkerSettings(relay_interval_s=0.01, worker_timeout_ms=20))
    rt.start()
    try:
        wait_for(rt.started.is_set)
        rid = ex.approved(64500)
        rt.drain()
    finally:
        rt.stop()
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert SECRET_TOKEN not in text and "db-password-42" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    in_jobs = {"ztix_worker.actors", "ztix_adapters_zerotier.fake"}
    jobs = [d for d in lines if d["logger"] in in_jobs]
    assert jobs and all(d["request_id"] == str(rid) and d.get("message_id") for d in jobs), jobs
    (leak,) = [d for d in jobs if d["logger"] == "ztix_adapters_zerotier.fake"]
    assert "[redacted]" in leak["msg"] and "postgresql://ztix:[redacted]@db/ztix" in leak["msg"]
