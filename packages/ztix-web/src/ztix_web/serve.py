"""``ztix web``: serve the app through gunicorn (a pre-fork WSGI server; Linux/POSIX).

Before anything is served the settings are validated and the storage backend's readiness
check runs (for SQL: the schema is at the revision this code needs), so a bad setting or
an old database stops start-up with one line that says what to do. ``--check`` does only
that and exits. Each gunicorn worker builds its own app (its own database pool) after the
fork; nothing with a connection is shared across processes.

Logs go to stderr in the ``[logging]`` format, secrets redacted (gunicorn's own lines
too). With ``[web] metrics`` on, the master prepares prometheus_client's multi-process
directory before anything imports the library (:mod:`ztix_web.multiproc`), so every
worker's counts add up in ``/metrics`` whichever worker answers the scrape.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ztix_core.bootstrap import bootstrap
from ztix_core.errors import SettingsError
from ztix_core.logs import configure_from_settings
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings, load_settings
from ztix_web.config import web_settings
from ztix_web.extensions import load_extensions, sign_in_buttons
from ztix_web.multiproc import child_exit, prepare_multiprocess, remove_directory


def check(settings: Settings, plugins: Plugins) -> list[str]:
    """Validate what the web needs: its settings, the plugins they name, the web
    extensions (a way to sign in), the storage backend's readiness. Returns what was
    checked; raises ZtixError on the first problem."""
    ws = web_settings(settings)
    buttons = sign_in_buttons(ws, load_extensions(settings, plugins))
    bootstrap(settings, plugins, with_provisioning=False)
    plugins.storage_ready(settings)
    ways = (["local form"] if ws.local_login else []) + [b.label for b in buttons]
    return [
        f"settings: ok (storage {settings.storage}, approval policy {settings.approval_policy})",
        f"web: ok ({'dev: cookies without Secure' if ws.dev else 'Secure cookies'})",
        f"sign-in: {', '.join(ways)}",
        "storage: ready",
    ]


class WebCommand:
    """``ztix web [--bind HOST:PORT] [--workers N] [--threads N] [--dev] [--log-level L]
    [--check]``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""
        parser.add_argument(
            "--bind", default="127.0.0.1:8080", help="address to listen on (HOST:PORT)"
        )
        parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
        parser.add_argument("--threads", type=int, default=4, help="threads per worker (4)")
        parser.add_argument(
            "--dev",
            action="store_true",
            help="plain-http development: the session cookie drops its Secure flag",
        )
        parser.add_argument(
            "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="validate the settings and the database revision, then exit",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; the exit code."""
        for name in ("workers", "threads"):
            if not 1 <= getattr(args, name) <= 64:
                raise SettingsError(f"--{name}", "must be between 1 and 64")
        settings = load_settings(args.config)
        if args.dev:
            sections = dict(settings.sections)
            sections["web"] = {**sections.get("web", {}), "dev": True}
            settings = _with_sections(settings, sections)
        plugins: Plugins = args.plugins
        metrics_dir: tuple[Path, bool] | None = None
        if not args.check and web_settings(settings).metrics:
            metrics_dir = prepare_multiprocess()  # before anything imports prometheus_client
        try:
            return self._serve(args, settings, plugins, metrics_dir is not None)
        finally:
            if metrics_dir is not None and metrics_dir[1]:
                remove_directory(metrics_dir[0])

    def _serve(
        self, args: argparse.Namespace, settings: Settings, plugins: Plugins, metrics: bool
    ) -> int:
        for line in check(settings, plugins):
            print(line)
        if args.check:
            return 0
        if sys.platform == "win32":  # pragma: no cover
            raise SettingsError("ztix web", "gunicorn needs a POSIX system")
        configure_from_settings(
            settings, args.log_level, explain=lambda exc: plugins.explain_error(exc, settings)
        )
        from ztix_web.gunicorn_app import ZtixGunicorn

        print(f"serving on http://{args.bind} ({args.workers} workers x {args.threads} threads)")
        sys.stdout.flush()
        options = gunicorn_options(args.bind, args.workers, args.threads, metrics=metrics)
        ZtixGunicorn(settings, options).run()
        return 0


def gunicorn_options(
    bind: str, workers: int, threads: int, *, metrics: bool = False
) -> dict[str, Any]:
    """The gunicorn settings ``ztix web`` serves with (the web benchmark serves its bare
    Falcon baseline with the same). gunicorn logs through ztix's handler and writes no
    access log of its own (the app's has the request id); with ``metrics``, a worker that
    exits is marked dead in the multi-process directory."""
    from ztix_web.gunicorn_app import ZtixGunicornLogger

    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "logger_class": ZtixGunicornLogger,
        "accesslog": None,
        "errorlog": "-",
        "graceful_timeout": 10,
        # gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl):
        # two servers would fight over it, and ztix does not use gunicornc.
        "control_socket_disable": True,
    }
    if metrics:
        options["child_exit"] = child_exit
    return options


def _with_sections(settings: Settings, sections: dict[str, Any]) -> Settings:
    import attrs

    return attrs.evolve(settings, sections=sections)
