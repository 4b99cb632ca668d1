"""The worker's settings: the ``[worker]`` TOML table plus ``ZTIX_WORKER_<FIELD>`` overrides."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings

ENV_PREFIX = "ZTIX_WORKER_"


class DriftMode(enum.Enum):
    """What the reconciler does when the controller disagrees with the database."""

    REPAIR = "repair"
    REPORT_ONLY = "report-only"


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise SettingsError(f"worker.{attribute.name}", f"must be positive, got {value!r}")


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise SettingsError(f"worker.{attribute.name}", f"must not be negative, got {value!r}")


def _bind(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        return
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SettingsError(
            f"worker.{attribute.name}", f"{value!r} must be HOST:PORT, e.g. 127.0.0.1:9464"
        )


@attrs.frozen
class WorkerSettings:
    """Knobs of ``ztix worker``.

    Retries: a transient provider error is retried ``max_retries`` times with exponential
    backoff from ``min_backoff_ms`` up to ``max_backoff_ms``; the last attempt fails the
    request. ``redis_namespace`` prefixes every Redis key (queues, locks, flags), so
    several installations (or tests) can share one Redis.
    """

    processes: int = attrs.field(default=1, validator=_positive)
    threads: int = attrs.field(default=8, validator=_positive)
    redis_namespace: str = "ztix"
    queue: str = "ztix"
    max_retries: int = attrs.field(default=5, validator=_not_negative)
    min_backoff_ms: int = attrs.field(default=1000, validator=_positive)
    max_backoff_ms: int = attrs.field(default=60000, validator=_positive)
    relay_interval_s: float = attrs.field(default=0.1, validator=_positive)
    relay_batch: int = attrs.field(default=200, validator=_positive)
    sync_min_interval_s: float = attrs.field(default=0.0, validator=_not_negative)
    sync_batch_window_s: float = attrs.field(default=1.0, validator=_not_negative)
    sync_lock_ttl_s: float = attrs.field(default=15.0, validator=_positive)
    sync_pending_ttl_s: float = attrs.field(default=30.0, validator=_positive)
    reconcile_interval_s: float = attrs.field(default=30.0, validator=_positive)
    #: How often the sessions on every route server and the controller's readiness are
    #: read and recorded for the pages (one worker instance at a time does it).
    observe_interval_s: float = attrs.field(default=30.0, validator=_positive)
    #: How often the worker looks for PeeringDB facts that are due (older than the
    #: registry's refresh interval, or never answered) and asks for them, in batches (one
    #: worker instance at a time). Never longer than the registry's refresh interval.
    registry_check_interval_s: float = attrs.field(default=300.0, validator=_positive)
    stuck_after_s: float = attrs.field(default=120.0, validator=_positive)
    membership_drift: DriftMode = DriftMode.REPORT_ONLY
    gate_poll_s: float = attrs.field(default=2.0, validator=_positive)
    heartbeat_timeout_ms: int = attrs.field(default=60000, validator=_positive)
    maintenance_chance: int = attrs.field(default=10000, validator=_not_negative)
    worker_timeout_ms: int = attrs.field(default=100, validator=_positive)
    #: Where the worker writes its health (``ztix worker-health`` reads it); empty: a
    #: file named after ``redis_namespace`` in the system's temporary directory.
    health_file: str = ""
    health_interval_s: float = attrs.field(default=5.0, validator=_positive)
    #: Where ``GET /metrics`` (Prometheus) listens, ``HOST:PORT``; empty: no endpoint.
    #: Off by default: several workers on one host would need a port each.
    metrics_bind: str = attrs.field(default="", validator=_bind)


def _parse(name: str, raw: str, kind: Any) -> Any:
    text = raw.strip()
    try:
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
    except ValueError:
        raise SettingsError(ENV_PREFIX + name.upper(), f"{raw!r} is not a number") from None
    return text


def load_worker_settings(
    settings: Settings, environ: Mapping[str, str] | None = None, **overrides: Any
) -> WorkerSettings:
    """The ``[worker]`` section, then ``ZTIX_WORKER_*`` variables, then ``overrides`` (CLI).

    Raises SettingsError naming the bad key.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = dict(settings.sections.get("worker", {}))
    for field in attrs.fields(WorkerSettings):
        env_name = ENV_PREFIX + field.name.upper()
        if env_name in env:
            raw[field.name] = _parse(field.name, env[env_name], field.type)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    patched = attrs.evolve(settings, sections={**settings.sections, "worker": raw})
    return patched.section("worker", WorkerSettings)
