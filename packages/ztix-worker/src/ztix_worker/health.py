"""Worker health that does not lie, and a file ops can probe.

A monitor thread checks, every ``health_interval_s``, the broker (a Redis ``PING``; none in
embedded mode), the database (one cheap read) and whether this process consumes messages.
It logs each change of state once — naming ``REDIS_URL`` when Redis is the problem — and
writes the result atomically to the health file, which ``ztix worker-health`` reads (exit 0
healthy, 1 unhealthy or stale, 2 no file). While Redis is unreachable the worker backs off
quietly: Dramatiq's consumer would log a ``critical`` line every 3 s, so those records are
dropped (:class:`QuietConnectionErrors`); this monitor has said it once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import redis

from ztix_core.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


def default_health_file(namespace: str) -> Path:
    """Where a worker writes its health when ``[worker] health_file`` is not set."""
    return Path(tempfile.gettempdir()) / f"ztix-worker-{namespace}.health"


def safe_url(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}" if user else f"***@{netloc}"))


@attrs.frozen
class Check:
    """One probe: ok or not, and what was seen."""

    ok: bool
    detail: str


@attrs.frozen
class HealthReport:
    """The worker's state at one instant."""

    pid: int
    checked_at: float
    broker: Check
    database: Check
    consuming: Check

    @property
    def healthy(self) -> bool:
        """Broker and database reachable, and messages being consumed."""
        return self.broker.ok and self.database.ok and self.consuming.ok

    def to_json(self) -> dict[str, Any]:
        """The health file's content."""
        return {
            "healthy": self.healthy,
            "pid": self.pid,
            "checked_at": self.checked_at,
            "checks": {
                name: {"ok": c.ok, "detail": c.detail}
                for name, c in (
                    ("broker", self.broker),
                    ("database", self.database),
                    ("consuming", self.consuming),
                )
            },
        }


def ping_redis(client: redis.Redis | None, url: str) -> Check:
    """PING the broker's Redis (embedded mode has none to ping)."""
    if client is None:
        return Check(True, "embedded (in-process queue)")
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check(False, f"Redis at REDIS_URL={safe_url(url)} unreachable: {exc}")
    return Check(True, f"Redis at {safe_url(url)}")


def probe_database(uow_factory: UnitOfWorkFactory) -> Check:
    """One cheap read through the storage port."""
    try:
        with uow_factory() as uow:
            pending = uow.outbox.pending_count()
    except Exception as exc:
        return Check(False, f"database unreachable: {type(exc).__name__}: {exc}")
    return Check(True, f"{pending} outbox message(s) waiting")


class HealthMonitor:
    """Checks health periodically, logs transitions once, writes the health file."""

    def __init__(
        self,
        broker: Callable[[], Check],
        database: Callable[[], Check],
        consuming: Callable[[], bool],
        path: Path,
        interval_s: float,
    ) -> None:
        self.broker = broker
        self.database = database
        self.consuming = consuming
        self.path = path
        self.interval_s = interval_s
        self.last: HealthReport | None = None

    def check(self) -> HealthReport:
        """Probe everything now, log what changed, write the file; return the report."""
        consuming = self.consuming()
        report = HealthReport(
            os.getpid(),
            time.time(),
            self.broker(),
            self.database(),
            Check(consuming, "consuming" if consuming else "not consuming"),
        )
        self._log_changes(report)
        self.last = report
        self._write(report)
        return report

    def _log_changes(self, report: HealthReport) -> None:
        before = self.last
        for name in ("broker", "database"):
            now: Check = getattr(report, name)
            was: Check | None = getattr(before, name) if before else None
            if was is not None and was.ok == now.ok:
                continue
            if not now.ok:
                log.warning(
                    "%s: %s; not consuming until it is back (retrying quietly)", name, now.detail
                )
            elif was is not None:
                log.info("%s is back: %s", name, now.detail)

    def _write(self, report: HealthReport) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(report.to_json()))
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("cannot write the health file %s: %s", self.path, exc)

    def remove(self) -> None:
        """Drop the health file (a stopped worker is not healthy)."""
        with contextlib.suppress(OSError):
            self.path.unlink()


class QuietConnectionErrors(logging.Filter):
    """Drops Dramatiq's per-retry ``critical`` connection-error lines: the health monitor
    reports the outage once, naming REDIS_URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "connection error" not in record.getMessage()


def quiet_dramatiq_connection_errors() -> None:
    """Install :class:`QuietConnectionErrors` on Dramatiq's consumer logger (idempotent)."""
    logger = logging.getLogger("dramatiq.worker.ConsumerThread")
    if not any(isinstance(f, QuietConnectionErrors) for f in logger.filters):
        logger.addFilter(QuietConnectionErrors())


def read_health(path: Path, max_age_s: float) -> tuple[int, str]:
    """The exit code and message of ``ztix worker-health`` for the file at ``path``."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return 2, f"no health file at {path}: is the worker running (same [worker] settings)?"
    except (OSError, ValueError) as exc:
        return 2, f"cannot read the health file {path}: {exc}"
    age = time.time() - float(data.get("checked_at", 0))
    lines = [
        f"{name}: {'ok' if c['ok'] else 'FAILING'} — {c['detail']}"
        for name, c in sorted(data.get("checks", {}).items())
    ]
    if age > max_age_s:
        return 1, f"unhealthy: last check {age:.0f} s ago (pid {data.get('pid')}); " + "; ".join(
            lines
        )
    state = "healthy" if data.get("healthy") else "unhealthy"
    return (0 if data.get("healthy") else 1), f"{state} (pid {data.get('pid')}): " + "; ".join(
        lines
    )
