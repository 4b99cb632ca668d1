"""``ztix web`` under a real gunicorn with two workers: ``/metrics`` adds up what every
worker counted, whichever worker answers the scrape, also after a worker was killed; every
line on stderr is JSON (gunicorn's own too) and no password reaches it."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

WRONG = "not the password, never logged"


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
        time.sleep(0.05)


class Server:
    """A ``ztix web`` process whose output goes to a file."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "ztix.db"
        self.log = tmp / "web.log"
        self.prom = tmp / "prom"
        self.prom.mkdir()
        (self.prom / "counter_99999.db").write_bytes(b"stale from an earlier run")
        config = tmp / "ztix.toml"
        config.write_text("[web]\nmax_failures_per_address = 1000\n")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ZTIX_", "PROMETHEUS"))},
            "DATABASE_URL": f"sqlite:///{self.db}",
            "ZTIX_STORAGE": "sql",
            "ZTIX_CONFIG": str(config),
            "PROMETHEUS_MULTIPROC_DIR": str(self.prom),
        }
        done = subprocess.run(
            [sys.executable, "-m", "ztix_core.cli", "db", "upgrade"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        self.port = _free_port()
        self.out = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ztix_core.cli",
                "web",
                "--dev",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "2",
            ],
            env=self.env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def records(self) -> list[dict[str, Any]]:
        """The JSON lines written so far."""
        return [
            json.loads(line)
            for line in self.log.read_text().splitlines()
            if line.startswith("{") and line.endswith("}")
        ]

    def booted(self) -> list[int]:
        """The pids of the workers that said they booted."""
        return [
            int(m.group(1))
            for r in self.records()
            for m in [re.search(r"Booting worker with pid: (\d+)", r["msg"])]
            if m
        ]

    def request(
        self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, answer.headers, answer.read().decode()
        finally:
            conn.close()

    def failed_sign_in(self, username: str) -> None:
        status, headers, page = self.request("GET", "/login")
        assert status == 200
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        body = urllib.parse.urlencode(
            {"username": username, "password": WRONG, "csrf_token": match.group(1)}
        )
        status, _, _ = self.request(
            "POST",
            "/login",
            body,
            {
                "Cookie": cookie,
                "Origin": f"http://127.0.0.1:{self.port}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert status == 401

    def failures_by_pid(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for r in self.records():
            if r["logger"] == "ztix_web.access" and r["method"] == "POST" and r["status"] == 401:
                counts[r["pid"]] = counts.get(r["pid"], 0) + 1
        return counts

    def scrape(self) -> dict[str, float]:
        status, _, text = self.request("GET", "/metrics")
        assert status == 200
        return {
            s.name: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if not s.labels
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.out.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    web = Server(tmp_path)
    try:
        _wait(lambda: len(web.booted()) >= 2, "two gunicorn workers")
        yield web
    finally:
        web.stop()


def test_two_workers_counts_add_up_whichever_answers(server: Server) -> None:
    assert not (server.prom / "counter_99999.db").exists()  # an earlier run's counts: gone
    sent = 0
    # fresh connections land on either worker: go on until both handled some
    while len(server.failures_by_pid()) < 2 or sent < 6:
        assert sent < 200, f"one worker took every request: {server.failures_by_pid()}"
        server.failed_sign_in(f"nobody{sent}")
        sent += 1
    _wait(lambda: sum(server.failures_by_pid().values()) == sent, "the access lines")
    for _ in range(8):  # whichever worker answers, it reports every worker's count
        assert server.scrape()["ztix_login_failures_total"] == sent
    victim = server.booted()[0]
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: len(server.booted()) >= 3, "gunicorn to replace the killed worker")
    for _ in range(4):  # what the killed worker counted still counts
        assert server.scrape()["ztix_login_failures_total"] == sent
    server.stop()
    text = server.log.read_text()
    assert WRONG not in text
    lines = [line for line in text.splitlines() if line.strip()]
    json_lines = [line for line in lines if line.startswith("{")]
    # ``ztix web`` prints its start-up checks as plain lines before logging starts
    assert len(json_lines) >= len(lines) - 6, text
    assert any("Booting worker" in line for line in json_lines)
