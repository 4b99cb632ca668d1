"""Is the controller whose home we are about to restore into still running? A restore
under a live zerotier-one is lost: it keeps serving (and later rewrites) its old state."""

from __future__ import annotations

import os
from pathlib import Path

from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_core.errors import ProviderError

PID_FILE = "zerotier-one.pid"


def live_pid(home: Path) -> int | None:
    """The pid in ``home/zerotier-one.pid`` when that process is alive, else None (no
    file, garbage in it, or a stale pid left by a crash)."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by another user (zerotier-one runs as root)
        return pid
    return pid


def running_controller(home: Path, provider: SelfHostedControllerProvider | None) -> str:
    """Why the controller counts as running ('' when it does not): a live process in its
    pid file, or its API (``ZT_CONTROLLER_BASE_URL``) answering ``/status`` (any HTTP
    status is an answer: a 401 or a 404 still means something serves there)."""
    pid = live_pid(home)
    if pid is not None:
        return f"{home / PID_FILE} names live process {pid}"
    if provider is None:
        return ""
    try:
        provider.status(attempts=1)
    except ProviderError as exc:
        if exc.status is None:  # refused, timed out: nothing answers
            return ""
    return f"{provider.api.base_url}/status answers"
