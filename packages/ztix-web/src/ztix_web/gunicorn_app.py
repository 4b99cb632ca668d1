"""gunicorn wiring: each worker process builds its own app from the settings; gunicorn's
own log lines go through ztix's log handler (JSON or text, secrets redacted)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from ztix_core.settings import Settings


class ZtixGunicorn(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose WSGI app is built per worker, after the fork."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand the options to gunicorn."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build this worker's WSGI app (after the fork)."""
        from ztix_web.app import app_from_settings

        return app_from_settings(self.settings)


class ZtixGunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger without handlers of its own: its records (workers booting and
    exiting, errors) go to the root logger, which ``ztix web`` configured, so they are
    formatted and redacted like every other line. Its access log is off: the app writes
    its own access line, with the request id (:mod:`ztix_web.requestlog`)."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup, then hand every record to the root logger."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True
