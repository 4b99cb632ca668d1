"""The controller's auth token: read from ``ZT_CONTROLLER_AUTH_TOKEN_FILE`` or the
environment, re-read on demand and on SIGHUP. The value never reaches a repr, a log line
or an error message."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings

log = logging.getLogger(__name__)

TOKEN_ENV = "ZT_CONTROLLER_AUTH_TOKEN"
TOKEN_FILE_ENV = "ZT_CONTROLLER_AUTH_TOKEN_FILE"


@attrs.frozen
class TokenReload:
    """What a reload did. Holds no secret: only where the token came from and whether it
    changed."""

    source: str
    changed: bool
    present: bool


class TokenSource:
    """Holds the current token and knows how to re-read it.

    The one precedence ztix uses everywhere (start-up in ``load_settings``, this reload,
    ``ztix controller check``): the token file when one is configured (what rotation
    rewrites), else the ``ZT_CONTROLLER_AUTH_TOKEN`` environment variable, else the value
    given at start. When both are set and differ, a warning says so (never the values).
    """

    def __init__(
        self,
        value: str | None = None,
        *,
        file: str | None = None,
        env_name: str = TOKEN_ENV,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._value = value.strip() if value else None
        self._file = file
        self._env_name = env_name
        self._environ = environ
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSource:
        """The controller token as the settings give it (``load_settings`` already read
        the file when one is set: the file wins); SettingsError naming the file when it
        is unreadable."""
        source = cls(
            settings.secret("zt_controller_auth_token"),
            file=settings.zt_controller_auth_token_file,
        )
        if source.file:  # the file wins, also for Settings built without load_settings
            source.reload()
        return source

    def __repr__(self) -> str:
        return f"TokenSource(file={self._file!r}, env={self._env_name!r}, value=<hidden>)"

    @property
    def file(self) -> str | None:
        """The token file, when one is configured."""
        return self._file

    def get(self) -> str | None:
        """The current token (never log it)."""
        with self._lock:
            return self._value

    def _read(self) -> tuple[str, str | None]:
        if self._file:
            try:
                text = Path(self._file).read_text().strip()
            except OSError as exc:
                raise SettingsError(
                    TOKEN_FILE_ENV, f"cannot read {self._file}: {exc.strerror}"
                ) from None
            environ = os.environ if self._environ is None else self._environ
            env_token = environ.get(self._env_name, "").strip()
            if env_token and text and env_token != text:
                log.warning(
                    "%s and %s are both set and differ; using the file (unset one of them)",
                    self._env_name,
                    TOKEN_FILE_ENV,
                )
            return "file", text or None
        environ = os.environ if self._environ is None else self._environ
        if self._env_name in environ:
            return "env", environ[self._env_name].strip() or None
        return "initial", self._value

    def reload(self) -> TokenReload:
        """Re-read the token. Raises SettingsError (naming the setting, not the value) when
        the file cannot be read or holds nothing; the old token then stays in use."""
        source, value = self._read()
        if value is None:
            setting = TOKEN_FILE_ENV if source == "file" else TOKEN_ENV
            raise SettingsError(setting, "holds no token")
        with self._lock:
            changed = value != self._value
            self._value = value
        log.info("controller token reloaded from %s (changed=%s)", source, changed)
        return TokenReload(source, changed, True)


def install_sighup_handler(
    on_signal: Callable[[], object], *, in_thread: bool = True
) -> Callable[[], None]:
    """Run ``on_signal`` (e.g. reload the token and re-run readiness) on every SIGHUP.

    The work runs in a fresh daemon thread so the signal handler itself stays short and
    never re-enters the HTTP client. Returns a function that restores the previous
    handler. Must be called from the main thread (a Python signal rule).
    """

    def run() -> None:
        try:
            on_signal()
        except Exception:
            log.exception("SIGHUP token reload failed")

    def handler(signum: int, frame: FrameType | None) -> None:
        if in_thread:
            threading.Thread(target=run, name="ztix-sighup", daemon=True).start()
        else:
            run()

    previous = signal.signal(signal.SIGHUP, handler)

    def restore() -> None:
        signal.signal(signal.SIGHUP, previous)

    return restore
