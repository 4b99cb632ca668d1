"""Settings of the ZeroTier adapters: the core's ``ZT_*`` settings plus the ``[zerotier]``
TOML table for HTTP knobs (timeouts, retries, backoff)."""

from __future__ import annotations

import os
import urllib.parse

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings

SECTION = "zerotier"
BINARY_ENV = "ZT_CONTROLLER_BINARY"


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise SettingsError(f"{SECTION}.{attribute.name}", f"must be > 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise SettingsError(f"{SECTION}.{attribute.name}", f"must be >= 0, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """Bounded retries with exponential backoff for transient failures.

    ``attempts`` counts every try (1 = no retry). The n-th retry waits
    ``min(backoff_max_s, backoff_s * 2**n)``; a 429 waits what the server asks
    (``Retry-After`` / ``X-Ratelimit-Reset``), capped at ``max_retry_wait_s``.
    """

    attempts: int = attrs.field(default=3)
    backoff_s: float = attrs.field(default=0.2, validator=_non_negative)
    backoff_max_s: float = attrs.field(default=2.0, validator=_non_negative)
    max_retry_wait_s: float = attrs.field(default=30.0, validator=_non_negative)

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise SettingsError(f"{SECTION}.retry_attempts", f"must be >= 1, got {value!r}")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return float(min(self.backoff_max_s, self.backoff_s * (2**retry)))


@attrs.frozen
class ZeroTierSettings:
    """The ``[zerotier]`` table: HTTP behaviour of both providers."""

    #: Seconds one call to the controller or Central may take.
    timeout_s: float = attrs.field(default=10.0, validator=_positive)
    #: Tries per call on a timeout, a refused connection, a 429 or a 5xx (1 = no retry).
    retry_attempts: int = 3
    #: The first pause after a failure; doubles per retry.
    backoff_s: float = attrs.field(default=0.2, validator=_non_negative)
    #: The longest pause between retries.
    backoff_max_s: float = attrs.field(default=2.0, validator=_non_negative)
    #: The longest ``Retry-After`` honoured.
    max_retry_wait_s: float = attrs.field(default=30.0, validator=_non_negative)
    #: the zerotier-one the restore drill starts on a copy ("" = look on PATH)
    controller_binary: str = ""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy these settings describe."""
        return RetryPolicy(
            self.retry_attempts, self.backoff_s, self.backoff_max_s, self.max_retry_wait_s
        )


def zerotier_settings(settings: Settings) -> ZeroTierSettings:
    """The ``[zerotier]`` table of ``settings``; SettingsError names a bad key."""
    section = settings.section(SECTION, ZeroTierSettings)
    section.retry  # noqa: B018 - validates retry_attempts early, naming the key
    return section


def configured_binary(settings: Settings) -> str | None:
    """The zerotier-one binary the drill should use: ``ZT_CONTROLLER_BINARY`` from the
    environment, else ``[zerotier] controller_binary``, else None (look on PATH)."""
    value = os.environ.get(BINARY_ENV, "").strip()
    return value or zerotier_settings(settings).controller_binary.strip() or None


def require(value: str | None, setting: str, why: str) -> str:
    """``value`` or a SettingsError naming ``setting``."""
    if value is None or not str(value).strip():
        raise SettingsError(setting, f"is required {why}")
    return str(value).strip()


def require_url(value: str | None, setting: str, why: str) -> str:
    """An ``http(s)://host…`` URL or a SettingsError naming ``setting`` (credentials in the
    URL are refused: tokens come from their own settings)."""
    url = require(value, setting, why)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(setting, f"{url!r} is not an http(s):// URL")
    if parsed.username or parsed.password:
        raise SettingsError(setting, "must not carry credentials; set the token setting")
    return url
