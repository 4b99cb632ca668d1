"""How ztix runs commands on a route server: over SSH (asyncssh, pinned host keys) or locally.

Both transports run the same argv lists, so the apply pipeline is one piece of code. The
SSH transport refuses to connect without a known_hosts file and refuses unknown or changed
host keys during the handshake, before any command runs.

``run`` collects a command's whole output; ``stream_lines`` hands it over line by line and
stops the command as soon as the caller has read enough (or a deadline passes), so a
reply of unknown size (a member's routes) costs no more than what is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
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
#: Called with each output line (without its newline); returns False to stop reading.
LineSink = Callable[[str], bool]


@attrs.frozen
class StreamResult:
    """How a streamed command ended: ``eof`` (it finished; ``exit_status`` is set),
    ``stopped`` (the caller had read enough; the command was ended) or ``timeout`` (the
    deadline passed; the command was ended). ``lines`` is how many lines were handed over."""

    argv: tuple[str, ...]
    ended: str
    lines: int
    exit_status: int | None = None
    duration_s: float = 0.0


class Transport(Protocol):
    """Runs argv lists on one route server."""

    description: str

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run ``argv`` (no shell unless argv names one), feeding ``stdin``; never raises
        for a non-zero exit status, raises TransportError when the command cannot run."""

    async def stream_lines(
        self, argv: Sequence[str], sink: LineSink, *, stdin: bytes | None = None, timeout: float
    ) -> StreamResult:
        """Run ``argv`` (stdout and stderr merged), feeding ``stdin``, and hand each output
        line to ``sink`` as it arrives; end the command once ``sink`` returns False or
        ``timeout`` seconds have passed. Raises TransportError only when the command
        cannot be started."""

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

    async def stream_lines(
        self, argv: Sequence[str], sink: LineSink, *, stdin: bytes | None = None, timeout: float
    ) -> StreamResult:
        args = tuple(argv)
        if self.hook is not None:
            self.hook(self.description, args)
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            raise TransportError(f"cannot run {args[0]}: {exc.strerror}", kind="config") from None
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(OSError):
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
        ended, lines = await _pump(proc.stdout.readline, sink, timeout)
        if ended != "eof":
            if proc.returncode is None:
                proc.kill()
            # asyncio's wait() returns only once the pipes are closed: drain what the dead
            # process left in the pipe (at most one pipe buffer), or wait() never returns
            with contextlib.suppress(TimeoutError, ValueError):
                await asyncio.wait_for(proc.stdout.read(), 10)
        status = await proc.wait()
        return StreamResult(
            args, ended, lines, status if ended == "eof" else None, time.perf_counter() - started
        )

    async def close(self) -> None:
        return None


async def _pump(
    readline: Callable[[], Awaitable[bytes]], sink: LineSink, timeout: float
) -> tuple[str, int]:
    """Read lines into ``sink`` until EOF, ``sink`` says stop, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    lines = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", lines
        try:
            raw = await asyncio.wait_for(readline(), left)
        except TimeoutError:
            return "timeout", lines
        except ValueError:  # one line longer than the reader's buffer: nothing we want
            return "stopped", lines
        if not raw:
            return "eof", lines
        lines += 1
        if not sink(_decode(raw).rstrip("\r\n")):
            return "stopped", lines


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

    async def stream_lines(
        self, argv: Sequence[str], sink: LineSink, *, stdin: bytes | None = None, timeout: float
    ) -> StreamResult:
        args = tuple(argv)
        conn = await self.connect()
        if self.hook is not None:
            self.hook(self.description, args)
        started = time.perf_counter()
        try:
            process = await conn.create_process(
                shlex.join(args), encoding=None, stderr=asyncssh.STDOUT
            )
        except (asyncssh.Error, OSError) as exc:
            self._conn = None
            raise TransportError(
                f"{self.description}: connection lost: {exc}", kind="lost"
            ) from None
        try:
            process.stdin.write(stdin or b"")
            process.stdin.write_eof()
            ended, lines = await _pump(process.stdout.readline, sink, timeout)
        except (asyncssh.Error, OSError) as exc:
            process.close()
            raise TransportError(
                f"{self.description}: connection lost: {exc}", kind="lost"
            ) from None
        # Closing the channel ends the remote command (its output has nowhere to go).
        status = process.exit_status if ended == "eof" else None
        process.close()
        return StreamResult(args, ended, lines, status, time.perf_counter() - started)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()
