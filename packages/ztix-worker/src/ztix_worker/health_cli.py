"""``ztix worker-health``: is the worker healthy? (for probes and ops)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ztix_core.settings import load_settings
from ztix_worker.health import default_health_file, read_health
from ztix_worker.settings import load_worker_settings


class WorkerHealthCommand:
    """Reads the worker's health file: exit 0 healthy, 1 unhealthy or stale, 2 no file."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--file", help="health file (default: from the [worker] settings)")
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="seconds after which a report is stale (default: 3 x health_interval_s)",
        )

    def run(self, args: argparse.Namespace) -> int:
        ws = load_worker_settings(load_settings(args.config))
        path = Path(args.file or ws.health_file or default_health_file(ws.redis_namespace))
        code, text = read_health(path, args.max_age or 3 * ws.health_interval_s)
        print(text)
        return code
