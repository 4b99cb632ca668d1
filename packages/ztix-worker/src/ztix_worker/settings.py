"""The worker's settings: the ``[worker]`` TOML table plus ``ZTIX_WORKER_<FIELD>`` overrides."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any, ClassVar

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


@attrs.frozen
class WorkerSettings:
    """Knobs of ``ztix worker``.

    Retries: a transient provider error is retried ``max_retries`` times with exponential
    backoff from ``min_backoff_ms`` up to ``max_backoff_ms``; the last attempt fails the
    request. ``redis_namespace`` prefixes every Redis key (queues, locks, flags), so
    several installations (or tests) can share one Redis.
    """

    #: Every field may also be set by ``ZTIX_WORKER_<FIELD>`` (the settings reference says so).
    ENV_PREFIX: ClassVar[str] = ENV_PREFIX

    #: Consumer processes of one ``ztix worker``.
    processes: int = attrs.field(default=1, validator=_positive)
    #: Worker threads per consumer process.
    threads: int = attrs.field(default=8, validator=_positive)
    #: Prefix of every Redis key (queues, locks, leases): installations sharing one Redis need
    #: different ones.
    redis_namespace: str = "ztix"
    #: The Dramatiq queue name.
    queue: str = "ztix"
    #: Retries of a job after a transient failure (controller or route server unreachable); the
    #: last failure fails the request.
    max_retries: int = attrs.field(default=5, validator=_not_negative)
    #: The first pause before a retry; doubles per retry.
    min_backoff_ms: int = attrs.field(default=1000, validator=_positive)
    #: The longest pause before a retry.
    max_backoff_ms: int = attrs.field(default=60000, validator=_positive)
    #: How often the outbox relay looks for unsent messages.
    relay_interval_s: float = attrs.field(default=0.1, validator=_positive)
    #: Messages the relay sends per pass.
    relay_batch: int = attrs.field(default=200, validator=_positive)
    #: The least time between two route-server syncs (0: as soon as asked).
    sync_min_interval_s: float = attrs.field(default=0.0, validator=_not_negative)
    #: How long a sync waits to gather further changes, so a burst of approvals makes few
    #: applies.
    sync_batch_window_s: float = attrs.field(default=1.0, validator=_not_negative)
    #: Lifetime of the cross-worker sync lock (renewed while a sync runs; a crashed holder frees
    #: it after this).
    sync_lock_ttl_s: float = attrs.field(default=15.0, validator=_positive)
    #: Lifetime of the "a sync is wanted" flag.
    sync_pending_ttl_s: float = attrs.field(default=30.0, validator=_positive)
    #: How often the reconciler checks every request against Redis, the controller and the route
    #: servers.
    reconcile_interval_s: float = attrs.field(default=30.0, validator=_positive)
    #: How often the sessions on every route server and the controller's readiness are
    #: read and recorded for the pages (one worker instance at a time does it).
    observe_interval_s: float = attrs.field(default=30.0, validator=_positive)
    #: How often the worker looks for PeeringDB facts that are due (older than the
    #: registry's refresh interval, or never answered) and asks for them, in batches (one
    #: worker instance at a time). Never longer than the registry's refresh interval.
    registry_check_interval_s: float = attrs.field(default=300.0, validator=_positive)
    #: A request in a working state this long, whose message is neither queued nor held by a
    #: worker, is sent again.
    stuck_after_s: float = attrs.field(default=120.0, validator=_positive)
    #: What the reconciler does with route-server drift (a file or protocol ztix did not write):
    #: ``report_only`` or ``repair``.
    membership_drift: DriftMode = DriftMode.REPORT_ONLY
    #: How often a closed readiness gate is checked again.
    gate_poll_s: float = attrs.field(default=2.0, validator=_positive)
    #: A worker silent this long is dead: its unfinished messages go back to the queue.
    heartbeat_timeout_ms: int = attrs.field(default=60000, validator=_positive)
    #: Dramatiq's Redis maintenance runs on about one in this many messages.
    maintenance_chance: int = attrs.field(default=10000, validator=_not_negative)
    #: How long a worker thread waits for a message before checking for shutdown.
    worker_timeout_ms: int = attrs.field(default=100, validator=_positive)
    #: Where the worker writes its health (``ztix worker-health`` reads it); empty: a
    #: file named after ``redis_namespace`` in the system's temporary directory.
    health_file: str = ""
    #: How often the health file is written.
    health_interval_s: float = attrs.field(default=5.0, validator=_positive)


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
