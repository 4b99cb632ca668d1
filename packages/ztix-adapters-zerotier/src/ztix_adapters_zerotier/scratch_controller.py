"""Controllers the restore drill starts on a restored copy of a home: the ztix emulator,
or a real ``zerotier-one`` binary kept off the network.

The real one runs as ``zerotier-one -U -p0 <copy>`` with a ``local.conf`` written into
the copy: bound to 127.0.0.1 only, management from 127.0.0.1 only, no secondary port, no
port mapping, no TCP relay. It never talks to the ZeroTier roots, so a drill does not
announce a second node with the live controller's identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from ztix_core.errors import ZtixError

#: Starts a controller on a home directory; the context yields its base URL.
ControllerStarter = Callable[[Path], AbstractContextManager[str]]

BINARY_NAME = "zerotier-one"
#: the binary setting's value that makes the drill use the emulator even when
#: zerotier-one is installed
FORCE_EMULATOR = "emulator"
#: Where distributions install it when it is not on PATH (e.g. /usr/sbin for a user).
_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: How long a scratch zerotier-one may take to answer /status (it generates nothing:
#: the identity is restored; start-up is well under a second on a idle machine).
START_TIMEOUT_S = 30.0

SCRATCH_LOCAL_CONF = {
    "settings": {
        "allowManagementFrom": ["127.0.0.1"],
        "bind": ["127.0.0.1"],
        "allowSecondaryPort": False,
        "portMappingEnabled": False,
        "allowTcpFallbackRelay": False,
    }
}


class ScratchControllerError(ZtixError):
    """A scratch controller could not be started or did not answer."""

    code = "scratch_controller"

    def __init__(self, message: str, *, remediation: str = "") -> None:
        super().__init__(message, remediation=remediation)
        self.remediation = remediation


def find_binary(configured: str | None) -> str | None:
    """The zerotier-one to drill with: ``configured`` when set (it must exist and be
    executable, else ScratchControllerError), else ``zerotier-one`` on PATH or in an sbin
    directory, else None (the drill uses the emulator). ``emulator`` forces the emulator."""
    if configured == FORCE_EMULATOR:
        return None
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise ScratchControllerError(
                f"the configured zerotier-one {configured} is not an executable file",
                remediation="fix ZT_CONTROLLER_BINARY (or [zerotier] controller_binary)",
            )
        return configured
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = Path(directory) / BINARY_NAME
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@contextmanager
def emulator_starter(home: Path) -> Iterator[str]:
    """Start the ztix controller emulator on ``home`` (a port chosen by the OS)."""
    from ztix_adapters_zerotier.emulator.server import EmulatorServer

    with EmulatorServer(home) as server:
        yield server.url


def validate_identity(binary: str, home: Path) -> str:
    """Run ``zerotier-one -i validate identity.secret`` (ZeroTier's own check that the
    address derives from the key and the key pair is whole); '' when valid, else why."""
    try:
        done = subprocess.run(
            [binary, "-i", "validate", str(home / "identity.secret")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {binary} -i validate: {exc}"
    if done.returncode != 0:
        return f"{BINARY_NAME} says: {(done.stderr or done.stdout).strip()}"
    return ""


def _wait_for_status(proc: subprocess.Popen[bytes], home: Path, log: Path) -> str:
    token = (home / "authtoken.secret").read_text().strip()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-400:].strip()
            raise ScratchControllerError(
                f"{BINARY_NAME} exited ({proc.returncode}) before answering: {tail}",
                remediation="run it by hand on a copy of the home to see why",
            )
        port_file = home / "zerotier-one.port"
        port = port_file.read_text().strip() if port_file.is_file() else ""
        if port.isdigit():
            url = f"http://127.0.0.1:{port}"
            try:
                response = httpx.get(f"{url}/status", headers={"X-ZT1-Auth": token}, timeout=2)
                if response.status_code == 200:
                    return url
            except httpx.HTTPError:
                pass  # not listening yet
        with contextlib.suppress(subprocess.TimeoutExpired):  # 50 ms, or at its exit
            proc.wait(timeout=0.05)
    raise ScratchControllerError(
        f"{BINARY_NAME} did not answer /status within {START_TIMEOUT_S:.0f} s",
        remediation="check that the machine is not overloaded and the binary works",
    )


def zerotier_one_starter(binary: str) -> ControllerStarter:
    """A starter running the real ``binary`` on the home (see the module docstring)."""

    @contextmanager
    def start(home: Path) -> Iterator[str]:
        (home / "local.conf").write_text(json.dumps(SCRATCH_LOCAL_CONF))
        (home / "zerotier-one.port").unlink(missing_ok=True)
        log = home / "ztix-drill.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [binary, "-U", "-p0", str(home)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield _wait_for_status(proc, home, log)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    return start
