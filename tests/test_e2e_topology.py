"""compose.yaml's topology, started without containers, takes a request to ``active``.

Container images cannot be pulled here, so the test reads compose.yaml and runs each ztix
service's own command line as a process on this machine: the one-shot ``migrate`` job, the
``web`` service (gunicorn with its two worker processes on one port) and the ``worker``
service as many times as its replicas. The infrastructure services are the lab's real
ones: PostgreSQL, Redis, the ZeroTier controller emulator and two BIRD route servers over
sshd. Each service gets exactly the environment compose.yaml gives it, with the addresses
and secret files translated to this machine (the translation refuses a variable it does not
know, so a new one in compose.yaml must be thought about here too), and a temporary
directory of its own, as a container has. Every health check compose.yaml declares for them
is run as written and must pass. Then an operator files a request through the API, an admin
approves it, and the test waits until the request is ``active`` and both BIRD route servers
run the member's session.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
import yaml

from ztix_worker.lab import ExchangeLab, node_for
from ztix_worker.testing import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough passphrase"
ASN = 21050
#: Generous: the lab shares a loaded 2-core machine; each wait ends on evidence.
SERVICE_S = 120.0
WORKER_S = 180.0


def cli(env: Mapping[str, str], *argv: str, stdin: str = "") -> str:
    """``ztix argv`` as an operator would type it; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"ztix {' '.join(argv)} ({done.returncode}): {done.stderr}"
    return done.stdout


class Service:
    """One compose service's command, run as a process in its own group with a temporary
    directory of its own; output to ``<name>.log`` in the lab's work directory."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], lab: ExchangeLab):
        self.name = name
        tmp = lab.workdir / f"{name}.tmp"
        tmp.mkdir()
        self.env = {**os.environ, **env, "TMPDIR": str(tmp)}
        self.log_path = lab.workdir / f"{name}.log"
        self._log: TextIO = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ztix_core.cli", *argv],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check(self, test: Sequence[str]) -> bool:
        """Run a compose health check (``["CMD", "ztix", ...]``) in this service's
        environment; True when it passes. AssertionError when the service has exited."""
        code = self.proc.poll()
        assert code is None, f"{self.name} exited ({code}): {self.log_path.read_text()}"
        assert test[:2] == ["CMD", "ztix"], test
        done = subprocess.run(
            [sys.executable, "-m", "ztix_core.cli", *test[2:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode == 0

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


def local_environment(compose_env: Mapping[str, str], lab: ExchangeLab) -> dict[str, str]:
    """compose.yaml's environment of a ztix service with its container paths and host
    names replaced by this machine's; refuses a variable it has no rule for."""
    secrets_dir = lab.workdir / "secrets"
    secrets_dir.mkdir(exist_ok=True, mode=0o700)
    database_url = secrets_dir / "database_url"
    database_url.write_text(lab.database_url)
    token = secrets_dir / "authtoken.secret"
    token.write_text(lab.zt.token)
    backups = lab.workdir / "backups"
    backups.mkdir(exist_ok=True)
    rules: dict[str, tuple[str, str]] = {
        # variable: (what compose.yaml says, what it is here)
        "ZTIX_CONFIG": ("/etc/ztix/ztix.toml", str(lab.config)),
        "DATABASE_URL_FILE": ("/run/secrets/database_url", str(database_url)),
        "REDIS_URL": ("redis://redis:6379/0", lab.redis_url),
        "ZT_PROVIDER": ("self_hosted_controller", "self_hosted_controller"),
        "ZT_CONTROLLER_BASE_URL": ("http://zerotier:9993", lab.zt.url),
        "ZT_CONTROLLER_AUTH_TOKEN_FILE": ("/var/lib/zerotier-one/authtoken.secret", str(token)),
        "ZT_CONTROLLER_HOME": ("/var/lib/zerotier-one", str(lab.workdir / "zerotier-one")),
        "ZT_CONTROLLER_BACKUP_DIR": ("/var/lib/ztix/backups", str(backups)),
    }
    env: dict[str, str] = {}
    for name, value in compose_env.items():
        assert name in rules, f"compose.yaml sets {name}: teach this test what it means here"
        expected, local = rules[name]
        assert str(value) == expected, f"compose.yaml's {name} is {value!r}, not {expected!r}"
        env[name] = local
    return env


def bind_here(argv: Sequence[str], port: int) -> list[str]:
    """The web command with its ``--bind`` moved to 127.0.0.1:``port``."""
    out = list(argv)
    at = out.index("--bind")
    assert out[at + 1].endswith(":8080"), out
    out[at + 1] = f"127.0.0.1:{port}"
    return out


@pytest.fixture
def topology() -> Iterator[tuple[ExchangeLab, dict[str, Any]]]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    # The lab's settings, plus plain-http cookies for the web (no TLS terminator here).
    with ExchangeLab() as lab:
        with lab.config.open("a") as config:
            config.write("\n[web]\ndev = true\n")
        yield lab, compose


def test_the_compose_topology_takes_a_request_to_active(
    topology: tuple[ExchangeLab, dict[str, Any]],
) -> None:
    lab, compose = topology
    services = compose["services"]
    env = {
        name: local_environment(service["environment"], lab)
        for name, service in services.items()
        if service.get("image", "").startswith("ztix")
    }

    # the one-shot migration job runs to completion first (depends_on: completed)
    migrate = Service("migrate", services["migrate"]["command"], env["migrate"], lab)
    assert migrate.proc.wait(SERVICE_S) == 0, migrate.log_path.read_text()

    port = free_port()
    web_argv = bind_here(services["web"]["command"], port)
    started: list[Service] = [Service("web", web_argv, env["web"], lab)]
    replicas = services["worker"]["deploy"]["replicas"]
    try:
        started += [
            Service(f"worker{i}", services["worker"]["command"], env["worker"], lab)
            for i in range(replicas)
        ]
        checks = {
            s.name: [
                w.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
                for w in services["web" if s.name == "web" else "worker"]["healthcheck"]["test"]
            ]
            for s in started
        }
        for service in started:
            wait_for(
                functools.partial(service.check, checks[service.name]),
                timeout=SERVICE_S,
                interval=0.5,
                what=f"{service.name}'s compose health check",
            )
        gunicorn_workers = _children(started[0].proc.pid)
        assert len(gunicorn_workers) == int(web_argv[web_argv.index("--workers") + 1])

        cli(lab.env, "user", "create", "root", "--admin", "--password-stdin", stdin=PASSWORD)
        cli(lab.env, "user", "create", "opal", "--password-stdin", stdin=PASSWORD)
        cli(lab.env, "user", "link-asn", "opal", str(ASN), "--network-name", "Opal Net")
        operator = cli(lab.env, "token", "create", "opal", "--name", "topology").strip()
        admin = cli(
            lab.env, "token", "create", "root", "--name", "topology", "--scope", "admin"
        ).strip()

        base = f"http://127.0.0.1:{port}/api/v1"
        with httpx.Client(base_url=base, timeout=60) as http:
            filed = http.post(
                "/requests",
                json={"asn": ASN, "network_id": lab.network_id.value, "node_id": node_for(ASN)},
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert filed.status_code == 201, filed.text
            request_id = filed.json()["data"]["id"]
            approved = http.post(
                f"/requests/{request_id}/approve",
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert approved.status_code == 200, approved.text

            def active() -> bool:
                for service in started:
                    code = service.proc.poll()
                    assert code is None, f"{service.name} exited: {service.log_path.read_text()}"
                got = http.get(
                    f"/requests/{request_id}", headers={"Authorization": f"Bearer {operator}"}
                )
                assert got.status_code == 200, got.text
                status = got.json()["data"]["request"]["status"]
                assert status != "failed", got.text
                return bool(status == "active")

            wait_for(active, timeout=WORKER_S, interval=0.5, what="the request to be active")
        for server in lab.server_names:
            assert ASN in lab.peers_on(server), f"{server} runs no session for AS{ASN}"
        member = lab.member(ASN)
        assert member is not None and member.authorized
    finally:
        for service in reversed(started):
            service.stop()


def _children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (gunicorn's workers under its master)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]
