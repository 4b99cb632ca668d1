"""Test support: an apply whose process is killed part-way through its commit.

The apply runs in a child process, so the lock it leaves on the route server names a
process that really dies, exactly like a worker SIGKILLed mid-apply. The commit script (swap
→ ``configure timeout`` → health → confirm → finalize, one round trip) is interrupted at a
chosen point:

* ``swap`` — the files are swapped (backup complete), the script dies before
  ``configure``: the daemon still runs the old config.
* ``configure`` — the script dies right after ``configure timeout``: the daemon runs the
  new config with its undo timer pending.
* ``delivery`` — only the script's bytes up to ``cut_after`` (its last occurrence) reach
  the server: what the server's ``sh`` receives when the sender dies or the connection
  drops while the script is still being sent.

Once the point is reached the child prints :data:`REACHED` and blocks; the parent kills it
(:meth:`DyingApply.kill`). Used by this package's tests and by end-to-end fault tests.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings
from ztix_adapters_bird.transport import CommandResult, LineSink, StreamResult, Transport

POINTS = ("swap", "configure", "delivery")
REACHED = "ztix-fault: reached"
_MARKERS = {"swap": b'echo "@@configure"', "configure": b'echo "@@health"'}


class InterruptingTransport:
    """Passes commands through, except the commit script, which it interrupts at
    ``point`` and then blocks the process (it is about to be killed)."""

    def __init__(self, inner: Transport, point: str, cut_after: str = "") -> None:
        if point not in POINTS:
            raise ValueError(f"point must be one of {', '.join(POINTS)}")
        if point == "delivery" and not cut_after:
            raise ValueError("point 'delivery' needs cut_after")
        self.inner = inner
        self.point = point
        self.cut_after = cut_after.encode()
        self.description = inner.description

    def interrupted(self, script: bytes) -> bytes:
        """The commit script as the server receives it under this fault."""
        if self.point == "delivery":
            at = script.rfind(self.cut_after)
            if at < 0:
                raise ValueError(f"{self.cut_after!r} is not in the commit script")
            return script[: at + len(self.cut_after)]
        marker = _MARKERS[self.point]
        # The remote shell kills itself there, as sshd's SIGPIPE would kill it once the
        # client is gone.
        return script.replace(marker, b"kill -KILL $$\n" + marker, 1)

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        # the commit script is the one `sh -s` script that configures the daemon
        if stdin is None or tuple(argv) != ("sh", "-s") or _MARKERS["swap"] not in stdin:
            return await self.inner.run(argv, stdin=stdin, timeout=timeout)
        try:
            await self.inner.run(argv, stdin=self.interrupted(stdin), timeout=timeout)
        finally:
            print(REACHED, flush=True)
            while True:  # nothing of this apply may run any more: wait to be killed
                time.sleep(3600)

    async def stream_lines(
        self, argv: Sequence[str], sink: LineSink, *, stdin: bytes | None = None, timeout: float
    ) -> StreamResult:
        return await self.inner.stream_lines(argv, sink, stdin=stdin, timeout=timeout)

    async def close(self) -> None:
        await self.inner.close()


class DyingApply:
    """A child process applying ``files`` to ``server`` until the fault's point."""

    def __init__(
        self,
        server: RouteServerSettings,
        files: Mapping[str, bytes],
        point: str,
        *,
        cut_after: str = "",
    ) -> None:
        if point not in POINTS:
            raise ValueError(f"point must be one of {', '.join(POINTS)}")
        fd, name = tempfile.mkstemp(prefix="ztix-fault-", suffix=".pickle")
        self._job = Path(name)
        with os.fdopen(fd, "wb") as job:
            pickle.dump((server, dict(files), point, cut_after), job)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ztix_adapters_bird.faults", str(self._job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id (the lock's owner names it)."""
        return self.proc.pid

    def wait_reached(self) -> None:
        """Block until the child reports the point reached; RuntimeError when it ended
        without reaching it (its stdout and stderr say why)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == REACHED:
                return
        self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise RuntimeError(f"the apply ended before its fault point: {err.strip()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self._job.unlink(missing_ok=True)


def _child(job: Path) -> int:
    from ztix_adapters_bird.fleet import BirdFleet, default_transport
    from ztix_adapters_bird.render import config_digest

    server, files, point, cut_after = pickle.loads(job.read_bytes())
    fleet = BirdFleet(
        BirdSettings((server,)),
        transport_factory=lambda s: InterruptingTransport(default_transport(s), point, cut_after),
    )
    outcome = fleet.apply_config(server.name, files, config_digest(files))
    print(f"the apply finished without reaching {point}: {outcome}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(_child(Path(sys.argv[1])))
