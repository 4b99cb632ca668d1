"""``ztix web``: serve the app through gunicorn (a pre-fork WSGI server; Linux/POSIX).

Before anything is served the settings are validated and the storage backend's readiness
check runs (for SQL: the schema is at the revision this code needs), so a bad setting or
an old database stops start-up with one line that says what to do. ``--check`` does only
that and exits. Each gunicorn worker builds its own app (its own database pool) after the
fork; nothing with a connection is shared across processes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ztix_core.bootstrap import bootstrap
from ztix_core.errors import SettingsError
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings, load_settings
from ztix_web.config import web_settings
from ztix_web.extensions import load_extensions, sign_in_buttons


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
    """``ztix web [--bind HOST:PORT] [--workers N] [--threads N] [--dev] [--check]``."""

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
        for line in check(settings, plugins):
            print(line)
        if args.check:
            return 0
        if sys.platform == "win32":  # pragma: no cover
            raise SettingsError("ztix web", "gunicorn needs a POSIX system")
        from ztix_web.gunicorn_app import ZtixGunicorn

        print(f"serving on http://{args.bind} ({args.workers} workers x {args.threads} threads)")
        sys.stdout.flush()
        ZtixGunicorn(settings, gunicorn_options(args.bind, args.workers, args.threads)).run()
        return 0


def gunicorn_options(bind: str, workers: int, threads: int) -> dict[str, Any]:
    """The gunicorn settings ``ztix web`` serves with (the web benchmark serves its bare
    Falcon baseline with the same)."""
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": "-",
        "errorlog": "-",
        "graceful_timeout": 10,
        # gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl):
        # two servers would fight over it, and ztix does not use gunicornc.
        "control_socket_disable": True,
    }


def _with_sections(settings: Settings, sections: dict[str, Any]) -> Settings:
    import attrs

    return attrs.evolve(settings, sections=sections)
