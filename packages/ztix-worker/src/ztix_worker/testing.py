"""Helpers for tests of the worker and the end-to-end tests at the repository root.

- :func:`memory_exchange`: an App over the in-memory adapters (one network, two route
  servers, one operator) for worker tests without services.
- :class:`FlakyProvider`: an in-memory controller that fails a given number of times.
- :class:`RedisServer`: a throwaway ``redis-server`` on a free port (for outage tests).
- :func:`flush_namespace`: delete every Redis key of a test namespace.
- :class:`WorkerProcess`: ``ztix worker`` as a subprocess that tests can SIGKILL/restart.
- :func:`wait_for`: poll a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar, cast

import attrs
import redis

from ztix_core.bootstrap import App
from ztix_core.errors import ProviderError
from ztix_core.memory import InMemoryFleet, InMemoryProvider, InMemoryRegistry, InMemoryStore
from ztix_core.memory.clock import SystemClock
from ztix_core.policies import ManualAdminPolicy
from ztix_core.ports import ApplyOutcome, IPAddress, MemberState, PeerSpec, UnitOfWorkFactory
from ztix_core.records import Actor, AsnLink, LinkSource, RouteServer, User, ZtNetwork, new_id
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus
from ztix_core.usecases import Provisioner, RequestQueries, RequestWorkflow
from ztix_core.values import Asn, NetworkId, NodeId

T = TypeVar("T")
#: The machine's shared Redis (tests use their own key namespace on it).
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = Actor("user", "admin", is_admin=True)


def wait_for(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


class FlakyProvider(InMemoryProvider):
    """An in-memory controller whose next ``failures`` authorizations raise ``error``."""

    def __init__(self, failures: int = 0, error: ProviderError | None = None) -> None:
        super().__init__()
        self.failures = failures
        self.error = error or ProviderError(
            "controller answered 500", kind="server_error", transient=True, status=500
        )
        self.attempt_times: list[float] = []

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        self.attempt_times.append(time.monotonic())
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return super().authorize_member(network_id, node_id, ip_assignments, name)


class SlowFleet(InMemoryFleet):
    """In-memory route servers whose applies take ``delay_s`` (real ones take a while)."""

    def __init__(self, servers: Sequence[RouteServer], delay_s: float = 0.05) -> None:
        super().__init__(servers)
        self.delay_s = delay_s

    def apply(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        time.sleep(self.delay_s)
        return super().apply(peers, servers)


@attrs.define
class MemoryExchange:
    """An exchange over the in-memory adapters, wired as an App."""

    app: App
    store: InMemoryStore
    provider: InMemoryProvider
    fleet: InMemoryFleet
    network: ZtNetwork
    user: User

    def approved(self, asn: int, node: str | None = None) -> uuid.UUID:
        """Submit and approve a request for ``asn`` (the user gets linked to it)."""
        with self.store() as uow:
            uow.asn_links.add(AsnLink(self.user.id, Asn(asn), LinkSource.LOCAL))
            uow.commit()
        node = node or f"{asn:010x}"
        req = self.app.workflow.submit(self.user.id, asn, self.network.id, node)
        self.app.workflow.approve(ADMIN, req.id)
        return req.id

    def status(self, request_id: uuid.UUID) -> RequestStatus:
        with self.store() as uow:
            req = uow.requests.get(request_id)
            assert req is not None
            return req.status

    def statuses(self) -> dict[uuid.UUID, RequestStatus]:
        with self.store() as uow:
            return {r.id: r.status for r in uow.tables.requests.values()}

    def actions(self, request_id: uuid.UUID) -> list[str]:
        with self.store() as uow:
            return [e.action for e in uow.audit.for_target("request", str(request_id))]


def memory_exchange(
    settings: Settings | None = None,
    provider: InMemoryProvider | None = None,
    servers: Iterable[str] = ("rs1", "rs2"),
    apply_delay_s: float = 0.05,
) -> MemoryExchange:
    """One network (10.1.0.0/24, fd00:1::/64), route servers on .1/.2 whose applies take
    ``apply_delay_s``, one operator."""
    settings = settings or Settings(storage="memory", route_server_fleet="memory")
    store, clock, registry = InMemoryStore(), SystemClock(), InMemoryRegistry()
    uows = cast(UnitOfWorkFactory, store)
    provider = provider or InMemoryProvider()
    fleet = SlowFleet(
        [
            RouteServer(
                name,
                Asn(64999),
                ipaddress.IPv4Address(f"10.1.0.{i}"),
                ipaddress.IPv6Address(f"fd00:1::{i}"),
            )
            for i, name in enumerate(servers, start=1)
        ],
        apply_delay_s,
    )
    network = ZtNetwork(
        NetworkId("a1b2c3d4e5000001"),
        "lan1",
        ipaddress.IPv4Network("10.1.0.0/24"),
        ipaddress.IPv6Network("fd00:1::/64"),
    )
    provider.ensure_network(network)
    user = User(new_id(), "alice", "Alice")
    with store() as uow:
        uow.networks.add(network)
        uow.users.add(user)
        uow.commit()
    policy = ManualAdminPolicy()
    app = App(
        settings,
        uows,
        clock,
        policy,
        registry,
        RequestWorkflow(uows, clock, policy, registry, allow_documentation_asns=True),
        RequestQueries(uows, clock),
        provider,
        fleet,
        Provisioner(uows, clock, provider, fleet, registry, settings.provisioning),
    )
    return MemoryExchange(app, store, provider, fleet, network, user)


# --------------------------------------------------------------------------- Redis


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_namespace() -> str:
    """A Redis key prefix unique to one test."""
    return f"ztix-test-{uuid.uuid4().hex[:12]}"


test_namespace.__test__ = False  # type: ignore[attr-defined]


def redis_client_for(url: str) -> redis.Redis:
    """A client for ``url`` that fails fast."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def flush_namespace(client: redis.Redis, namespace: str) -> int:
    """Delete every key under ``namespace``; returns how many."""
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


class RedisServer:
    """A throwaway ``redis-server`` (no persistence) on a free port; start/stop at will."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _pings(client), timeout=10, what=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


# --------------------------------------------------------------------------- processes


class WorkerProcess:
    """``ztix worker`` in a subprocess with its own session, logging JSON lines to a file.

    ``kill()`` sends SIGKILL to the whole process group (the worker and its consumer
    processes), ``stop()`` SIGTERM; ``start()`` may be called again after either.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        args: Sequence[str] = (),
        config: str | os.PathLike[str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.env = {**os.environ, **env}
        self.args = list(args)
        self.config = str(config) if config else None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="ztix-worker-log-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.runs}.log"

    def start(self) -> WorkerProcess:
        self.runs += 1
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in _reap
        cmd = [sys.executable, "-m", "ztix_core.cli"]
        if self.config:
            cmd += ["--config", self.config]
        cmd += ["worker", *self.args]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started."""
        self._signal_group(signal.SIGKILL)
        self._reap(10)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait; SIGKILL when it does not stop in time."""
        self._signal_group(signal.SIGTERM)
        try:
            self._reap(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def _reap(self, timeout: float) -> None:
        if self.proc is not None:
            self.proc.wait(timeout)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs(self) -> str:
        """Every run's output so far."""
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log"))
        )
