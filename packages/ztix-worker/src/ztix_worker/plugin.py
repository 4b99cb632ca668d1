"""The worker plugin: adds the ``worker`` command to ``ztix`` (entry-point group ``ztix``)."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.settings import Settings
from ztix_worker.settings import WorkerSettings


def _worker_command() -> object:
    from ztix_worker.cli import WorkerCommand  # Dramatiq and the rest only when chosen

    return WorkerCommand()


def _health_command() -> object:
    from ztix_worker.health_cli import WorkerHealthCommand

    return WorkerHealthCommand()


def _validate(settings: Settings) -> None:
    from ztix_worker.settings import load_worker_settings

    load_worker_settings(settings)  # the [worker] table and ZTIX_WORKER_* variables


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    return [
        Registration(
            "worker",
            _worker_command,
            WorkerSettings,
            "run the provisioning worker (outbox relay, actors, reconciler)",
            section="worker",
            validate=_validate,
        ),
        Registration(
            "worker-health",
            _health_command,
            None,
            "is the worker healthy? (exit 0 yes, 1 no or stale, 2 not running)",
        ),
    ]
