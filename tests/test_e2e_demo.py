"""``ztix demo``: started as a user would, driven over HTTP through the whole journey, then
stopped with Ctrl-C, leaving no process behind; a second start reuses its data.

bird2 is installed here (CI installs it): the demo runs two local BIRD route servers, and
a request turns active only once both configured the member. With ``ZTIX_DEMO_BIRD``
pointing at a missing program the demo runs without route servers and says why."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Demo:
    """A running ``ztix demo`` and what its banner said."""

    def __init__(self, data: Path, *extra: str, env_extra: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("ZTIX_CONFIG", "REDIS_URL")}
        env |= env_extra or {}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ztix_core.cli",
                "demo",
                "--port",
                str(self.port),
                "--data-dir",
                str(data),
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.banner: list[str] = []
        for line in self.proc.stdout:  # evidence: the banner's last line
            self.banner.append(line)
            if "Press Ctrl-C to stop." in line:
                break
        text = "".join(self.banner)
        assert "ztix demo is running" in text, text
        self.passwords = dict(re.findall(r"^\s+(admin|operator)\s+(\S+)$", text, re.M))
        started = re.search(r"started in:\s+([0-9.]+) s", text)
        assert started is not None, text
        print(f"ztix demo: first page answered {started.group(1)} s after it started")

    def stop(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C reaches the foreground group
        code = self.proc.wait(timeout=120)
        return code

    def terminate(self) -> int:
        self.proc.terminate()  # SIGTERM to the demo alone, as a supervisor would send it
        return self.proc.wait(timeout=120)


class Client:
    """Cookies, CSRF token and Origin, like a browser."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def request(
        self, method: str, path: str, fields: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if method == "POST":
            body = urllib.parse.urlencode({**(fields or {}), "csrf_token": self.csrf})
            headers |= {
                "Origin": f"http://127.0.0.1:{self.port}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
        set_cookie = response.getheader("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', text) or re.search(
            r'"X-CSRF-Token": "([^"]+)"', text
        )
        if token:
            self.csrf = token.group(1)
        return response.status, response.getheader("Location") or "", text

    def login(self, username: str, password: str) -> None:
        self.request("GET", "/login")
        status, _, text = self.request(
            "POST", "/login", {"username": username, "password": password}
        )
        assert status == 303, text


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "demo"


def _pids_of(pgid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def _leftover_birds(data: Path) -> list[str]:
    """Command lines of processes that name the data dir, other than the demo's own."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in argv)
        if str(data) in line and "bird" in line:
            found.append(line)
    return found


def _protocols(data: Path, server: str) -> str:
    """``birdc show protocols`` of one of the demo's route servers."""
    sock = data / server / "bird.ctl"
    out = subprocess.run(
        ["/usr/sbin/birdc", "-s", str(sock), "show", "protocols"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "BIRD 2." in out.stdout, out.stdout + out.stderr  # the daemon answered
    return out.stdout


def _rs_check(data: Path) -> str:
    """``ztix rs check`` on the demo's settings (it asks the route servers, not the
    controller, whose URL only has to be set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZT")}
    env |= {
        "ZTIX_CONFIG": str(data / "ztix.toml"),
        "ZT_CONTROLLER_BASE_URL": "http://127.0.0.1:9",
        "ZT_CONTROLLER_AUTH_TOKEN": "unused",
    }
    out = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "rs", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return out.stdout + out.stderr


def _start_bird(home: Path) -> int:
    """A daemonised BIRD on one route server's files, answering on its socket: its pid."""
    subprocess.run(
        [
            "/usr/sbin/bird",
            "-c",
            str(home / "config" / "bird.conf"),
            "-s",
            str(home / "bird.ctl"),
            "-P",
            str(home / "bird.pid"),
        ],
        check=True,
        timeout=30,
    )
    for _ in range(1000):  # the evidence it runs: the pidfile, and it answers
        answer = subprocess.run(
            ["/usr/sbin/birdc", "-s", str(home / "bird.ctl"), "-v", "show", "status"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if "0013" in answer.stdout and (home / "bird.pid").exists():
            return int((home / "bird.pid").read_text())
    raise AssertionError(f"the BIRD on {home} did not answer: {answer.stdout}{answer.stderr}")


def test_demo_journey_and_clean_stop(data_dir: Path) -> None:
    demo = Demo(data_dir)
    try:
        assert set(demo.passwords) == {"admin", "operator"}
        text = "".join(demo.banner)
        assert f"http://127.0.0.1:{demo.port}" in text
        assert "route servers:  rs1, rs2 — local BIRD 2." in text, text
        for server in ("rs1", "rs2"):
            assert "AS64500_v4" not in _protocols(data_dir, server)
        # BIRD runs what ztix applied: the worker's drift check has nothing to report.
        assert _rs_check(data_dir) == "rs1: in sync\nrs2: in sync\n"
        operator = Client(demo.port)
        operator.login("operator", demo.passwords["operator"])
        status, _, page = operator.request("GET", "/onboarding")
        assert status == 200 and "AS64500" in page
        network = re.search(r'<option value="([0-9a-f]{16})"', page)
        assert network is not None
        status, location, page = operator.request(
            "POST",
            "/onboarding",
            {"asn": "64500", "network_id": network.group(1), "node_id": "a1b2c3d4e5"},
        )
        assert status == 303, page
        request_path = location
        admin = Client(demo.port)
        admin.login("admin", demo.passwords["admin"])
        request_id = request_path.rsplit("/", 1)[1]
        admin.request("GET", f"/admin/requests/{request_id}")
        status, _, page = admin.request("POST", f"/admin/requests/{request_id}/approve")
        assert status == 303, page
        # The worker (another process) provisions it: wait on the page's own evidence.
        for _ in range(600):
            status, _, page = operator.request("GET", f"{request_path}/status")
            if "status-active" in page or "status-failed" in page:
                break
        assert "status-active" in page, page
        assert "10.99.0." in page  # its pinned IPv4 address
        for server in ("rs1", "rs2"):  # active means both route servers configured it
            protocols = _protocols(data_dir, server)
            assert "AS64500_v4" in protocols and "AS64500_v6" in protocols, protocols
    finally:
        pgid = demo.proc.pid
        assert demo.stop() == 0
    assert _pids_of(pgid) == []  # nothing of the demo's process tree is left
    assert _leftover_birds(data_dir) == []  # nor a route server
    out = demo.proc.stdout.read() if demo.proc.stdout else ""
    assert demo.passwords["admin"] not in out  # printed once, in the banner only

    # A BIRD left running on rs1's files (as after a demo killed outright) is stopped first.
    leftover = _start_bird(data_dir / "rs1")
    again = Demo(data_dir)  # the same data: no new accounts, the request is still there
    try:
        text = "".join(again.banner)
        assert f"stopping the BIRD of rs1 an earlier run left behind (pid {leftover})" in text
        assert not Path(f"/proc/{leftover}").exists()
        assert again.passwords == {}
        client = Client(again.port)
        client.login("operator", demo.passwords["operator"])
        assert "status-active" in client.request("GET", "/dashboard")[2]
        for server in ("rs1", "rs2"):  # BIRD started on the config applied before
            assert "AS64500_v4" in _protocols(data_dir, server)
        assert _rs_check(data_dir) == "rs1: in sync\nrs2: in sync\n"  # restarted, applied
    finally:
        assert again.stop() == 0
    assert _leftover_birds(data_dir) == []
    fresh = Demo(data_dir, "--fresh")
    try:
        assert set(fresh.passwords) == {"admin", "operator"}
        for server in ("rs1", "rs2"):
            assert "AS64500_v4" not in _protocols(data_dir, server)
    finally:
        assert fresh.terminate() == 0
    assert _leftover_birds(data_dir) == []


def _bird_that_cannot_run(directory: Path) -> str:
    """A ``bird`` that says it is BIRD 2 but exits at once when started (and a ``birdc``
    beside it), as a BIRD that cannot run on this machine would."""
    directory.mkdir()
    bird = directory / "bird"
    bird.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "BIRD version 2.0.12" >&2; exit 0; fi\n'
        'echo "bird: Cannot create control socket: Permission denied" >&2\n'
        "exit 1\n"
    )
    birdc = directory / "birdc"
    birdc.write_text("#!/bin/sh\nexit 1\n")
    for path in (bird, birdc):
        path.chmod(0o755)
    return str(bird)


@pytest.mark.parametrize("case", ["missing", "exits"])
def test_demo_without_bird_runs_without_route_servers_and_says_why(
    data_dir: Path, case: str
) -> None:
    if case == "missing":
        bird = str(data_dir.parent / "no-such-bird")
        why = f"ZTIX_DEMO_BIRD={bird}: no such program"
    else:
        bird = _bird_that_cannot_run(data_dir.parent / "fake")
        why = "BIRD for rs1 did not start: bird: Cannot create control socket: Permission denied"
    demo = Demo(data_dir, env_extra={"ZTIX_DEMO_BIRD": bird})
    try:
        text = "".join(demo.banner)
        assert f"route servers:  none ({why})" in text, text
        assert "members turn active once the controller authorizes them" in text
        assert 'route_server_fleet = "none"' in (data_dir / "ztix.toml").read_text()
        client = Client(demo.port)
        client.login("operator", demo.passwords["operator"])
        assert client.request("GET", "/dashboard")[0] == 200
    finally:
        pgid = demo.proc.pid
        assert demo.stop() == 0
    assert _pids_of(pgid) == []
    assert _leftover_birds(data_dir) == []
