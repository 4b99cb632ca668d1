"""gunicorn wiring: each worker process builds its own app from the settings."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

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
