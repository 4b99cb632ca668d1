"""The worker's SIGHUP: re-read the controller token without a restart.

When the configured membership provider can reload its token (it has ``reload_token()``,
as the self-hosted controller provider does: it re-reads ``ZT_CONTROLLER_AUTH_TOKEN_FILE``
into the token source its HTTP client reads on every request), SIGHUP makes the worker
reload it, re-run the provider's readiness gate at once, log the outcome and write an
audit event (``controller.token_reloaded`` / ``controller.token_reload_failed``, actor
``system:worker``; never the token). The main process forwards the signal to its consumer
processes, which install the same handler.

Installing the handler is also the marker ``ztix controller reload-token --pid`` looks
for: the kernel lists a caught SIGHUP in ``/proc/<pid>/status`` (``SigCgt``), so a worker
whose provider cannot reload (Central) keeps SIGHUP's default and is refused by the CLI
rather than killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from ztix_core.bootstrap import App
from ztix_core.errors import ZtixError
from ztix_core.records import Actor, JsonDict
from ztix_core.usecases._common import audit

log = logging.getLogger(__name__)

ACTOR = Actor.system("worker")
RELOADED = "controller.token_reloaded"
RELOAD_FAILED = "controller.token_reload_failed"


def reload_token(app: App) -> JsonDict:
    """Reload the provider's token, re-run readiness, log and audit; returns the audit
    metadata. Never raises: a failure keeps the old token and is logged and audited."""
    provider: Any = app.provider
    meta: JsonDict = {"trigger": "SIGHUP", "pid": os.getpid()}
    try:
        outcome = provider.reload_token()
        meta.update(source=str(outcome.source), changed=bool(outcome.changed))
        reloaded = True
    except ZtixError as exc:  # e.g. an unreadable or empty token file: old token stays
        meta["error"] = str(exc)
        reloaded = False
    try:
        report = provider.check_readiness(())
        meta["ready"] = report.ready
        failure = report.first_failure
        if failure is not None:
            meta.update(check=failure.name, message=failure.message)
            meta["remediation"] = failure.remediation
    except Exception as exc:  # the gate never raises on purpose; say so if it does
        meta.update(ready=False, error=f"readiness: {type(exc).__name__}: {exc}")
    ok = reloaded and meta.get("ready") is True
    if ok:
        log.info("SIGHUP: controller token reloaded from %s; readiness passes", meta["source"])
    else:
        log.warning("SIGHUP: controller token reload failed or not ready: %s", _why(meta))
    try:
        with app.uow_factory() as uow:
            audit(
                uow,
                app.clock.now(),
                ACTOR,
                RELOADED if ok else RELOAD_FAILED,
                "controller",
                str(getattr(provider, "name", "provider")),
                meta,
            )
            uow.commit()
    except Exception as exc:  # the reload stands; the storage may be down
        log.warning("SIGHUP: audit event not written: %s", type(exc).__name__)
    return meta


def _why(meta: JsonDict) -> str:
    return str(meta.get("error") or f"{meta.get('check')}: {meta.get('message')}")


def install_token_reload(
    app: App, children: Callable[[], Iterable[int | None]] = tuple
) -> Callable[[], None] | None:
    """Reload the token on every SIGHUP (in a thread: the handler stays short) and forward
    the signal to ``children()`` (consumer pids). Returns the uninstall function, or None
    when the provider cannot reload a token (SIGHUP is then left alone). Main thread
    only (a Python signal rule)."""
    if not callable(getattr(app.provider, "reload_token", None)):
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        for pid in children():
            if pid is not None:
                # one already gone is restarted by the parent, with fresh settings
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGHUP)
        threading.Thread(target=reload_token, args=(app,), name="ztix-sighup", daemon=True).start()

    previous = signal.signal(signal.SIGHUP, handler)
    log.info("SIGHUP reloads the controller token (pid %d)", os.getpid())

    def uninstall() -> None:
        signal.signal(signal.SIGHUP, previous)

    return uninstall
