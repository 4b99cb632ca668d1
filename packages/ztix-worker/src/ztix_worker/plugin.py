"""The worker plugin: adds the ``worker`` command to ``ztix`` (entry-point group ``ztix``)."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration


@hookimpl
def ztix_cli_commands() -> list[Registration]:
    from ztix_worker.cli import WorkerCommand

    return [
        Registration(
            "worker",
            WorkerCommand,
            None,
            "run the provisioning worker (outbox relay, actors, reconciler)",
        )
    ]
