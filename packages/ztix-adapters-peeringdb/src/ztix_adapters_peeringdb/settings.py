"""Settings of the PeeringDB adapter: the ``[peeringdb]`` TOML table and the API key.

The API key is a secret: it comes from ``PEERINGDB_API_KEY`` or from the file named by
``PEERINGDB_API_KEY_FILE`` (the core's loader reads both, and refuses both set), never
from the TOML file.
Without a key PeeringDB answers anonymously, at half the rate.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings, gather_errors

SECTION = "peeringdb"
API_KEY_ENV = "PEERINGDB_API_KEY"
API_KEY_FILE_ENV = "PEERINGDB_API_KEY_FILE"
#: PeeringDB documents at most this many values in one ``asn__in`` filter.
MAX_BATCH = 150


def _check(name: str, ok: bool, message: str) -> Callable[[], None]:
    def check() -> None:
        if not ok:
            raise SettingsError(f"{SECTION}.{name}", message)

    return check


def _url_problem(value: str) -> str:
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"{value!r} is not an http(s):// URL"
    if parsed.username or parsed.password or parsed.query:
        return (
            "must be a plain URL (no credentials, no query): the API key is "
            f"{API_KEY_ENV} or {API_KEY_FILE_ENV}"
        )
    return ""


@attrs.frozen
class MaxPrefixRule:
    """How a PeeringDB prefix count becomes a route-server limit: the count plus
    ``headroom_percent`` (rounded up), never below the floor of its family."""

    headroom_percent: int = 25
    floor_v4: int = 10
    floor_v6: int = 10

    def limit(self, count: int | None, family: int) -> int | None:
        """The limit for ``count`` announced prefixes, or None when PeeringDB gives no
        count (the route servers then use ztix's default)."""
        if count is None or count <= 0:
            return None
        floor = self.floor_v4 if family == 4 else self.floor_v6
        return max(floor, math.ceil(count * (100 + self.headroom_percent) / 100))


@attrs.frozen
class PeeringDbSettings:
    """The ``[peeringdb]`` table (defaults shown in the package README)."""

    #: the REST API root; a test or staging PeeringDB is named here
    base_url: str = "https://www.peeringdb.com/api"
    #: seconds for one HTTP call to answer (connect, read)
    timeout_s: float = 10.0
    #: seconds to wait for a connection
    connect_timeout_s: float = 5.0
    #: ASNs per call (``asn__in``); PeeringDB allows at most 150
    batch_size: int = MAX_BATCH
    #: tries per call on a 429, a 5xx, a timeout or a refused connection (1 = no retry)
    retry_attempts: int = 3
    #: first wait after a failure with no ``Retry-After``; doubles per retry
    backoff_s: float = 1.0
    #: the longest ``Retry-After`` honoured; PeeringDB asking for more ends the round
    max_retry_wait_s: float = 60.0
    #: pause between two calls of one refresh (40/min with a key, 20/min without)
    min_interval_s: float = 1.6
    #: a cached record older than this is fetched again by the worker
    refresh_interval_s: float = 6 * 3600.0
    #: route-server max-prefix = PeeringDB's count + headroom, at least the floor
    max_prefix_headroom_percent: int = 25
    #: the smallest IPv4 max-prefix a registry figure may give
    max_prefix_floor_v4: int = 10
    #: the smallest IPv6 max-prefix a registry figure may give
    max_prefix_floor_v6: int = 10

    def __attrs_post_init__(self) -> None:
        url_problem = _url_problem(self.base_url)
        checks = [_check("base_url", not url_problem, url_problem)]
        for name in ("timeout_s", "connect_timeout_s", "refresh_interval_s"):
            value = getattr(self, name)
            checks.append(_check(name, value > 0, f"must be > 0, got {value!r}"))
        checks.append(
            _check(
                "batch_size",
                1 <= self.batch_size <= MAX_BATCH,
                f"must be between 1 and {MAX_BATCH}, got {self.batch_size!r}",
            )
        )
        for name in (
            "backoff_s",
            "max_retry_wait_s",
            "min_interval_s",
            "max_prefix_headroom_percent",
        ):
            value = getattr(self, name)
            checks.append(_check(name, value >= 0, f"must be >= 0, got {value!r}"))
        for name in ("retry_attempts", "max_prefix_floor_v4", "max_prefix_floor_v6"):
            value = getattr(self, name)
            checks.append(_check(name, value >= 1, f"must be >= 1, got {value!r}"))
        gather_errors(*checks)

    @property
    def max_prefix(self) -> MaxPrefixRule:
        """The max-prefix rule these settings describe."""
        return MaxPrefixRule(
            self.max_prefix_headroom_percent, self.max_prefix_floor_v4, self.max_prefix_floor_v6
        )


def peeringdb_settings(settings: Settings) -> PeeringDbSettings:
    """The ``[peeringdb]`` table of ``settings``; SettingsError names a bad key. A key
    or secret put in the table is refused with where it belongs instead."""
    raw = settings.sections.get(SECTION, {})
    for key in ("api_key", "api_key_file"):
        if key in raw:
            raise SettingsError(
                f"{SECTION}.{key}",
                "secrets are read from the environment or a file, not the config file: "
                f"set {API_KEY_ENV} or {API_KEY_FILE_ENV}",
            )
    return settings.section(SECTION, PeeringDbSettings)


def api_key(settings: Settings) -> str | None:
    """The API key (``PEERINGDB_API_KEY``, or the file ``PEERINGDB_API_KEY_FILE`` names,
    both read by the core's settings loader), or None: PeeringDB answers anonymously."""
    value = settings.secret("peeringdb_api_key")
    return value.strip() if value and value.strip() else None
