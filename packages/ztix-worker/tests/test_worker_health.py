"""Health that does not lie: with Redis unreachable the worker does not consume, says so
once naming REDIS_URL, and its health file (``ztix worker-health``) reports it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ztix_core.settings import Settings
from ztix_core.status import RequestStatus as S
from ztix_worker.health import read_health, safe_url
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import RedisServer, memory_exchange, wait_for

pytestmark = pytest.mark.redis


def _health(path: Path) -> dict:  # type: ignore[type-arg]
    try:
        data: dict = json.loads(path.read_text())  # type: ignore[type-arg]
    except (FileNotFoundError, ValueError):
        return {}
    return data


def test_worker_waits_quietly_for_redis_and_reports_unhealthy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer()  # a port with nothing listening yet
    ex = memory_exchange(
        Settings(storage="memory", route_server_fleet="memory", redis_url=server.url)
    )
    health = tmp_path / "worker.health"
    ws = WorkerSettings(
        redis_namespace="health-test",
        queue="health-test-q",
        relay_interval_s=0.01,
        worker_timeout_ms=20,
        threads=2,
        health_file=str(health),
        health_interval_s=0.1,
    )
    caplog.set_level(logging.DEBUG)
    rt = WorkerRuntime(ex.app, ws)
    rt.start()
    try:
        rid = ex.approved(64500)
        wait_for(lambda: _health(health).get("checks"), what="a health report")
        down = _health(health)["checks"]
        assert not down["broker"]["ok"] and "REDIS_URL=" + server.url in down["broker"]["detail"]
        code, text = read_health(health, 5)
        assert code == 1 and text.startswith("unhealthy") and "REDIS_URL" in text
        # let it retry a while (evidence: several health reports written)
        first = _health(health)["checked_at"]
        wait_for(lambda: _health(health).get("checked_at", 0) > first + 0.5, what="more checks")
        assert not rt.started.is_set()
        messages = [r.getMessage() for r in caplog.records]
        assert not any("consuming" in m and "not consuming" not in m for m in messages)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        outage = [m for m in messages if "unreachable" in m and "REDIS_URL" in m]
        assert len(outage) == 1, outage  # said once, not every retry
        server.start()
        try:
            wait_for(rt.started.is_set, timeout=60, what="consuming after Redis is back")
            wait_for(lambda: _health(health).get("healthy"), what="a healthy report")
            assert read_health(health, 5)[0] == 0
            wait_for(lambda: ex.status(rid) is S.ACTIVE, timeout=60, what="the request")
            assert any("broker is back" in r.getMessage() for r in caplog.records)
        finally:
            rt.stop()
            server.stop()
        assert not health.exists()  # a stopped worker leaves no healthy report behind
    finally:
        rt.stop()


def test_health_command_answers(tmp_path: Path) -> None:
    assert read_health(tmp_path / "none", 5)[0] == 2
    stale = tmp_path / "stale"
    stale.write_text(json.dumps({"healthy": True, "checked_at": 0, "pid": 1, "checks": {}}))
    code, text = read_health(stale, 5)
    assert code == 1 and "last check" in text
    assert safe_url("redis://u:secret@h:1/0") == "redis://u:***@h:1/0"
    assert safe_url("redis://:secret@h:1/0") == "redis://***@h:1/0"


def test_worker_health_is_a_ztix_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ztix_core.cli import main

    path = tmp_path / "h"
    assert main(["worker-health", "--file", str(path)]) == 2
    assert "no health file" in capsys.readouterr().out
    now = __import__("time").time()
    ok = {"ok": True, "detail": "fine"}
    path.write_text(
        json.dumps({"healthy": True, "checked_at": now, "pid": 7, "checks": {"broker": ok}})
    )
    assert main(["worker-health", "--file", str(path)]) == 0
    assert "healthy (pid 7): broker: ok" in capsys.readouterr().out
