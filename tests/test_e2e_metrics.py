"""End to end: the whole exchange with a real ``ztix worker`` (two consumer processes, its
``/metrics`` on ``[worker] metrics_bind``) and a real ``ztix web`` (gunicorn, two
workers). A join request goes to active and a sign-in fails; both endpoints show it, and
every metric the alert rules and the Grafana dashboard name is in a real scrape.
Prometheus's own ``promtool`` checks and unit-tests the rules (Debian package
``prometheus``; missing, the test fails)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ExchangeLab

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "ztix-alerts.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "ztix-alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ztix.json"
METRIC = re.compile(r"\bztix_[a-z0-9_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(done: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _get(port: int, path: str, **kw: str) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(kw.pop("method", "GET"), path, body=kw.pop("body", None), headers=kw)
        answer = conn.getresponse()
        return answer.status, answer.headers, answer.read().decode()
    finally:
        conn.close()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, _, text = _get(port, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def referenced_metrics() -> set[str]:
    """Every ztix metric an alert rule or a dashboard panel names."""
    names: set[str] = set()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            names |= set(METRIC.findall(rule["expr"]))
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            names |= set(METRIC.findall(target["expr"]))
    return names


@pytest.fixture
def web(lab: ExchangeLab) -> Iterator[int]:
    """``ztix web`` on the lab's database: gunicorn with two workers; its port."""
    port = _free_port()
    log = lab.workdir / "web.log"
    prom = lab.workdir / "web-prom"
    prom.mkdir()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ztix_core.cli", "web", "--dev", "--bind", f"127.0.0.1:{port}"],
            env={**os.environ, **lab.env, "PROMETHEUS_MULTIPROC_DIR": str(prom)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(lambda: log.read_text().count("Booting worker") >= 2, "ztix web to boot")
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus"
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES_TEST)]):
        done = subprocess.run(
            [promtool, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "ztix-overview"


def test_both_endpoints_move_and_carry_every_referenced_metric(lab: ExchangeLab, web: int) -> None:
    worker_port = _free_port()
    (lab.workdir / "worker-prom").mkdir()
    worker = lab.worker(
        "--processes",
        "2",
        env={
            "ZTIX_WORKER_METRICS_BIND": f"127.0.0.1:{worker_port}",
            "PROMETHEUS_MULTIPROC_DIR": str(lab.workdir / "worker-prom"),
        },
    )
    _wait(lambda: "metrics on http://127.0.0.1" in worker.logs(), "the worker's endpoint")
    rid = lab.submit(21000)
    lab.approve(rid)
    lab.wait_status([rid], S.ACTIVE, timeout=120)
    _wait(
        lambda: total(scrape(worker_port), "ztix_approval_to_active_seconds_count") == 1,
        "the activation in the worker's metrics",
    )
    seen = scrape(worker_port)
    for rs in ("rs1", "rs2"):
        key = ("ztix_route_server_applies_total", (("outcome", "applied"), ("server", rs)))
        assert seen[key] >= 1, rs
    assert total(seen, "ztix_provisioning_failures_total") == 0
    assert seen[("ztix_worker_gate_open", ())] == 1
    # a failed sign-in on the web
    status, headers, page = _get(web, "/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert status == 200 and match is not None
    before = scrape(web)
    body = urllib.parse.urlencode(
        {"username": "nobody", "password": "wrong!", "csrf_token": match.group(1)}
    )
    status, _, _ = _get(
        web,
        "/login",
        method="POST",
        body=body,
        Cookie=headers["Set-Cookie"].split(";", 1)[0],
        Origin=f"http://127.0.0.1:{web}",
        **{"Content-Type": "application/x-www-form-urlencoded", "X-Request-ID": "e2e-login-1"},
    )
    assert status == 401
    state = scrape(web)
    failures = ("ztix_login_failures_total", ())
    assert state[failures] == before[failures] + 1
    assert state[("ztix_requests", (("status", "active"),))] == 1
    for rs in ("rs1", "rs2"):
        desired = state[("ztix_route_server_desired_generation", (("server", rs),))]
        assert desired >= 1
        assert state[("ztix_route_server_applied_generation", (("server", rs),))] == desired
    _wait(lambda: ("ztix_controller_ready", ()) in scrape(web), "the controller observed")
    assert scrape(web)[("ztix_controller_ready", ())] == 1
    names = {n for n, _ in scrape(web)} | {n for n, _ in scrape(worker_port)}
    bare = {n.removesuffix(s) for n in names for s in SUFFIXES if n.endswith(s)}
    missing = referenced_metrics() - names - bare
    assert not missing, f"named in the rules or the dashboard, absent from real scrapes: {missing}"
    # every line of the job carries the request id and the Dramatiq message id
    jobs = [
        json.loads(line)
        for line in worker.logs().splitlines()
        if line.startswith("{") and '"logger": "ztix_worker.actors"' in line
    ]
    assert any(j["request_id"] == str(rid) and j.get("message_id") for j in jobs), jobs
