"""Is a pid a ztix process that reloads its token on SIGHUP? Asked before
``ztix controller reload-token --pid`` signals it, because SIGHUP's default action kills.

Two facts, both read from ``/proc`` (world-readable, so this works across users):

- ``/proc/<pid>/cmdline`` is a ztix long-running command: an argument whose base name is
  ``ztix`` followed by ``worker`` (the web will follow the same rule when it handles SIGHUP);
- ``/proc/<pid>/status`` ``SigCgt`` has the SIGHUP bit set: the kernel's own record that
  the process installed a handler (the worker does so at start-up, before it consumes).
  This is the marker the worker exposes: it cannot go stale like a pid file, and a process
  that reuses the pid does not inherit it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import attrs

from ztix_core.errors import ZtixError

#: ztix subcommands that reload the controller token on SIGHUP.
HANDLING_COMMANDS = ("worker",)


class NotASighupTarget(ZtixError):
    """The pid is not a ztix process that handles SIGHUP; nothing was sent."""

    code = "not_a_sighup_target"

    def __init__(self, message: str, *, remediation: str = "") -> None:
        super().__init__(message, remediation=remediation)
        self.remediation = remediation


@attrs.frozen
class SighupTarget:
    """A process that may be sent SIGHUP: its pid and the ztix command it runs."""

    pid: int
    command: str


def _ztix_command(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == "ztix":
            for word in argv[i + 1 :]:
                if word in HANDLING_COMMANDS:
                    return f"ztix {word}"
            return "ztix"
    return None


def catches_sighup(status_text: str) -> bool:
    """Whether a ``/proc/<pid>/status`` text shows a SIGHUP handler (``SigCgt`` bit 0)."""
    for line in status_text.splitlines():
        if line.startswith("SigCgt:"):
            mask = int(line.split(":", 1)[1].strip(), 16)
            return bool(mask & (1 << (signal.SIGHUP - 1)))
    return False


def check_sighup_target(pid: int, *, proc: Path = Path("/proc")) -> SighupTarget:
    """The target when ``pid`` is a ztix worker with a SIGHUP handler installed; else
    NotASighupTarget saying what it is and what to do instead."""
    remediation = (
        "give the pid of the `ztix worker` main process (e.g. `systemctl show -p MainPID "
        "ztix-worker`), or run `ztix controller reload-token` without --pid and restart "
        "the process"
    )
    if pid <= 0:
        raise NotASighupTarget(f"{pid} is not a process id", remediation=remediation)
    base = proc / str(pid)
    try:
        argv = (base / "cmdline").read_bytes().decode(errors="replace").split("\0")
        status = (base / "status").read_text()
    except FileNotFoundError:
        raise NotASighupTarget(f"no process {pid}", remediation=remediation) from None
    except OSError as exc:
        raise NotASighupTarget(
            f"cannot inspect process {pid}: {exc.strerror}", remediation=remediation
        ) from None
    command = _ztix_command([a for a in argv if a])
    shown = " ".join(a for a in argv if a)[:120] or "(no command line)"
    if command is None or command == "ztix":
        raise NotASighupTarget(
            f"process {pid} is not a ztix worker ({shown}); SIGHUP would not reload its token "
            "and could kill it",
            remediation=remediation,
        )
    if not catches_sighup(status):
        raise NotASighupTarget(
            f"process {pid} ({command}) has no SIGHUP handler installed (an older ztix, or "
            "still starting); SIGHUP would kill it",
            remediation=remediation,
        )
    return SighupTarget(pid, command)


def send_sighup(pid: int) -> SighupTarget:
    """Check ``pid`` (see :func:`check_sighup_target`), then send it SIGHUP."""
    target = check_sighup_target(pid)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise NotASighupTarget(f"process {pid} exited before the signal") from None
    except PermissionError:
        raise NotASighupTarget(
            f"not allowed to signal process {pid}",
            remediation="run the command as the worker's user (or root)",
        ) from None
    return target
