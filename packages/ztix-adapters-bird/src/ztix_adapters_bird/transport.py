"""How ztix runs commands on a route server: over SSH (asyncssh, pinned host keys) or locally.

Both transports run the same argv lists, so the apply pipeline is one piece of code. The
SSH transport refuses to connect without a known_hosts file and refuses unknown or changed
host keys during the handshake, before any command runs.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import asyncssh
import attrs

from ztix_adapters_bird.settings import SshTarget
from ztix_core.errors import ZtixError


class TransportError(ZtixError):
    """Reaching the server or running a command failed.

    ``kind`` is ``config`` (bad SSH settings, a local command that cannot be started),
    ``host_key`` (unknown or changed host key), ``auth`` (authentication refused),
    ``connect`` (unreachable, refused, reset), ``timeout`` or ``lost`` (the connection
    dropped while a command ran). The last three are :attr:`transient`: they may pass by
    themselves (a restarting server, a network blip); the others need a person.
    """

    code = "transport_error"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message, kind=kind)
        self.kind = kind

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed without anyone changing anything."""
        return self.kind in TRANSIENT_KINDS


#: TransportError kinds that may pass by themselves.
TRANSIENT_KINDS = frozenset({"connect", "timeout", "lost"})


@attrs.frozen
class CommandResult:
    """What a command did: exit status and its decoded output."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str
    duration_s: float = 0.0


#: Called with (transport description, argv) before each command runs (tests record these).
CommandHook = Callable[[str, tuple[str, ...]], None]


class Transport(Protocol):
    """Runs argv lists on one route server."""

    description: str

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run ``argv`` (no shell unless argv names one), feeding ``stdin``; never raises
        for a non-zero exit status, raises TransportError when the command cannot run."""

    async def close(self) -> None:
        """Release the connection, if any."""


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


class LocalTransport:
    """Runs commands as subprocesses of this process (single-box installs, the demo)."""

    def __init__(self, *, command_timeout_s: float = 60.0, hook: CommandHook | None = None):
        self.description = "local"
        self.command_timeout_s = command_timeout_s
        self.hook = hook

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        args = tuple(argv)
        if self.hook is not None:
            self.hook(self.description, args)
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TransportError(f"cannot run {args[0]}: {exc.strerror}", kind="config") from None
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin or b""), timeout or self.command_timeout_s
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise TransportError(f"{shlex.join(args)[:200]} timed out", kind="timeout") from None
        return CommandResult(
            args,
            proc.returncode or 0,
            _decode(out),
            _decode(err),
            time.perf_counter() - started,
        )

    async def close(self) -> None:
        return None


class SshTransport:
    """Runs commands over one cached SSH connection, opened on first use.

    Host keys come only from ``target.known_hosts``; the user's ~/.ssh config, agent and
    password or keyboard-interactive authentication are never used.
    """

    def __init__(self, target: SshTarget, *, hook: CommandHook | None = None) -> None:
        self.target = target
        self.description = f"{target.user}@{target.host}:{target.port}"
        self.hook = hook
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    def _check_settings(self) -> None:
        t = self.target
        if not t.known_hosts:
            raise TransportError(
                f"{self.description}: ssh.known_hosts is not set; refusing to connect "
                "without a pinned host key",
                kind="config",
            )
        if not Path(t.known_hosts).is_file():
            raise TransportError(
                f"{self.description}: known_hosts file {t.known_hosts} does not exist",
                kind="config",
            )
        if not t.private_key or not Path(t.private_key).is_file():
            raise TransportError(
                f"{self.description}: private key {t.private_key or '(unset)'} does not exist",
                kind="config",
            )

    async def connect(self) -> asyncssh.SSHClientConnection:
        """The open connection, connecting (and verifying the host key) when needed."""
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            self._check_settings()
            t = self.target
            try:
                self._conn = await asyncssh.connect(
                    t.host,
                    port=t.port,
                    username=t.user,
                    client_keys=[t.private_key],
                    known_hosts=t.known_hosts,
                    config=None,
                    agent_path=None,
                    password=None,
                    kbdint_auth=False,
                    preferred_auth="publickey",
                    connect_timeout=t.connect_timeout_s,
                    keepalive_interval=30,
                )
            except asyncssh.HostKeyNotVerifiable as exc:
                raise TransportError(
                    f"{self.description}: host key not accepted ({exc.reason}); it is not the "
                    f"key pinned in {t.known_hosts}",
                    kind="host_key",
                ) from None
            except asyncssh.PermissionDenied as exc:
                raise TransportError(
                    f"{self.description}: authentication refused ({exc.reason})", kind="auth"
                ) from None
            except asyncssh.Error as exc:
                raise TransportError(f"{self.description}: {exc.reason}", kind="connect") from None
            except TimeoutError:
                raise TransportError(
                    f"{self.description}: connect timed out after {t.connect_timeout_s} s",
                    kind="timeout",
                ) from None
            except OSError as exc:
                raise TransportError(
                    f"{self.description}: {exc.strerror or exc}", kind="connect"
                ) from None
            return self._conn

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        args = tuple(argv)
        conn = await self.connect()
        if self.hook is not None:
            self.hook(self.description, args)
        started = time.perf_counter()
        try:
            result = await conn.run(
                shlex.join(args),
                input=stdin or b"",
                encoding=None,
                check=False,
                timeout=timeout or self.target.command_timeout_s,
            )
        except TimeoutError:
            raise TransportError(
                f"{self.description}: {shlex.join(args)[:200]} timed out", kind="timeout"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            self._conn = None
            raise TransportError(
                f"{self.description}: connection lost: {exc}", kind="lost"
            ) from None
        status = result.exit_status if result.exit_status is not None else 255
        return CommandResult(
            args,
            status,
            _decode(result.stdout),
            _decode(result.stderr),
            time.perf_counter() - started,
        )

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()
