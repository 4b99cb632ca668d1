"""The ``ztix worker`` subcommand."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

from ztix_core.errors import NotReady, ZtixError
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings, load_settings
from ztix_worker.logs import configure_from_settings
from ztix_worker.service import serve
from ztix_worker.settings import load_worker_settings

log = logging.getLogger(__name__)


class WorkerCommand:
    """``ztix worker``: run the outbox relay, the actors and the reconciler."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help="consumer processes (default: [worker] processes, 1)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="worker threads per process (default: [worker] threads, 8)",
        )
        parser.add_argument(
            "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
        )

    def run(self, args: argparse.Namespace) -> int:
        """Refuse to start (NotReady, exit 2 with the remediation) unless the storage is
        ready (for SQL: the database exists and its schema is at head) — waiting while it
        cannot be reached at all; then serve."""
        settings = load_settings(args.config)
        ws = load_worker_settings(settings, processes=args.processes, threads=args.threads)
        plugins: Plugins = args.plugins
        configure_from_settings(
            settings, args.log_level, explain=lambda exc: plugins.explain_error(exc, settings)
        )
        wait_for_storage(plugins, settings)
        return serve(settings, ws, plugins, config=args.config, log_level=args.log_level)


def wait_for_storage(
    plugins: Plugins,
    settings: Settings,
    *,
    max_delay_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the storage's ready check until it answers. A verdict (the schema is behind,
    the SQLite file is missing: a ZtixError) is final and raised — the CLI prints it with
    its fix, exit 2. A database that cannot be reached is transient (a restart, a failover):
    say so once, with the fix, and try again with back-off up to ``max_delay_s``. Ctrl-C
    or SIGTERM while waiting ends the command (nothing was started yet)."""
    delay, said = 0.5, False
    while True:
        try:
            plugins.storage_ready(settings)
        except Exception as exc:
            if isinstance(exc, ZtixError) and not (isinstance(exc, NotReady) and exc.transient):
                raise
            if not said:
                hint = (
                    exc.message
                    if isinstance(exc, ZtixError)
                    else plugins.explain_error(exc, settings) or f"{type(exc).__name__}: {exc}"
                )
                log.warning("database not reachable at start: %s; waiting for it", hint)
                said = True
            sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if said:
            log.info("database reachable: starting")
        return
