"""The ``ztix worker`` subcommand."""

from __future__ import annotations

import argparse

from ztix_core.plugins import Plugins
from ztix_core.settings import load_settings
from ztix_worker.logs import configure_logging
from ztix_worker.service import serve
from ztix_worker.settings import load_worker_settings


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
        ready (for SQL: the database exists and its schema is at head); then serve."""
        settings = load_settings(args.config)
        ws = load_worker_settings(settings, processes=args.processes, threads=args.threads)
        plugins: Plugins = args.plugins
        plugins.storage_ready(settings)
        configure_logging(args.log_level, explain=lambda exc: plugins.explain_error(exc, settings))
        return serve(settings, ws, plugins, config=args.config, log_level=args.log_level)
