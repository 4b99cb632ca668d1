"""Test helpers around the emulator, for this package's tests and the repo's e2e tests.

Context managers (no pytest needed)::

    with running_emulator(tmp_path) as zt:       # zt.url, zt.token, zt.address
        nwid = zt.create_network("peering")

pytest fixtures (import them into a conftest or test module)::

    from ztix_adapters_zerotier.emulator.testing import zt_emulator, zt_central

``controller_target(tmp_path)`` yields a real controller when ``ZTIX_TEST_ZT_CONTROLLER_URL``
and ``ZTIX_TEST_ZT_CONTROLLER_TOKEN`` are set, else a fresh emulator.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx
import pytest

from ztix_adapters_zerotier.emulator.server import CentralEmulatorServer, EmulatorServer

URL_ENV = "ZTIX_TEST_ZT_CONTROLLER_URL"
TOKEN_ENV = "ZTIX_TEST_ZT_CONTROLLER_TOKEN"
#: the real controller's home directory (backup, restore refusal, drill)
HOME_ENV = "ZTIX_TEST_ZT_CONTROLLER_HOME"
#: a zerotier-one binary the drill starts on scratch copies (optional)
BINARY_ENV = "ZTIX_TEST_ZT_CONTROLLER_BINARY"
#: the network the tests use: a 16-hex id under the controller, or a 6-hex suffix
NETWORK_ENV = "ZTIX_TEST_ZT_CONTROLLER_NETWORK"
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX6 = re.compile(r"[0-9a-f]{6}")


class TargetConfigError(ValueError):
    """A ``ZTIX_TEST_ZT_CONTROLLER_*`` variable is unusable; the message names it."""


def target_network_id(address: str, default_suffix: str) -> str:
    """The test network under controller ``address``: ``ZTIX_TEST_ZT_CONTROLLER_NETWORK``
    as given (a 16-hex id must start with ``address``: it is never re-prefixed), a 6-hex
    suffix completed with ``address``, or ``default_suffix``. TargetConfigError otherwise."""
    raw = os.environ.get(NETWORK_ENV)
    chosen = (raw if raw is not None else default_suffix).strip().lower()
    if _HEX16.fullmatch(chosen):
        if not chosen.startswith(address):
            raise TargetConfigError(
                f"{NETWORK_ENV}={chosen} is not under controller {address}: use an id "
                f"starting with {address}, or a 6-hex suffix"
            )
        return chosen
    if _HEX6.fullmatch(chosen):
        return address + chosen
    raise TargetConfigError(
        f"{NETWORK_ENV}={raw!r} is neither a 16-hex network id nor a 6-hex suffix"
    )


@contextmanager
def running_emulator(
    home: Path, token: str | None = None, port: int = 0, **options: object
) -> Iterator[EmulatorServer]:
    """A started self-hosted controller emulator on ``home`` (created if missing)."""
    server = EmulatorServer(home, token, port, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_central(
    home: Path, token: str | None = None, port: int = 0, **options: object
) -> Iterator[CentralEmulatorServer]:
    """A started Central API emulator on ``home``."""
    server = CentralEmulatorServer(home, token, port, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@attrs.frozen
class ControllerTarget:
    """Where a test's controller is: ``emulator`` is None for a real controller."""

    url: str
    token: str
    address: str
    emulator: EmulatorServer | None = None


def _status_address(url: str, token: str) -> str:
    response = httpx.get(f"{url}/status", headers={"X-ZT1-Auth": token}, timeout=10)
    response.raise_for_status()
    return str(response.json()["address"])


@contextmanager
def controller_target(home: Path) -> Iterator[ControllerTarget]:
    """The controller named by ``ZTIX_TEST_ZT_CONTROLLER_URL``/``_TOKEN`` when both are
    set, otherwise an emulator started on ``home``."""
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    if url and token:
        url = url.rstrip("/")
        yield ControllerTarget(url, token, _status_address(url, token))
        return
    with running_emulator(home) as server:
        yield ControllerTarget(server.url, server.token, server.address, server)


def api_client(server: EmulatorServer | CentralEmulatorServer, **options: object) -> httpx.Client:
    """An httpx client on the server's API with its token in the right header
    (``X-ZT1-Auth`` for a controller, ``Authorization: token`` for Central)."""
    if isinstance(server, CentralEmulatorServer):
        headers = {"Authorization": f"token {server.token}"}
    else:
        headers = {"X-ZT1-Auth": server.token}
    options.setdefault("timeout", 5.0)
    # plain HTTP on loopback: skip loading the CA bundle (it costs ~0.1 s per client)
    options.setdefault("verify", False)
    return httpx.Client(base_url=server.url, headers=headers, **options)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port that nothing listens on right now (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def zt_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """A running self-hosted controller emulator with its home under ``tmp_path``."""
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


@pytest.fixture
def zt_central(tmp_path: Path) -> Iterator[CentralEmulatorServer]:
    """A running Central emulator (no rate limit) with its home under ``tmp_path``."""
    with running_central(tmp_path / "central", rate_limit=None) as server:
        yield server
