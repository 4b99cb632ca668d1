"""Per-token rate limiting: a token bucket per API token, in this process.

Each token may make ``burst`` calls at once and ``rate`` calls a second on average; a call
past that is refused with 429 and ``Retry-After`` (whole seconds until one call is
allowed again). The buckets live in the worker process, so a deployment with N gunicorn
workers allows up to N times the rate: the limit protects the server from a runaway
script, it is not a quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by an API token's id."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one call of ``key``'s bucket: 0.0 when allowed, else the seconds to wait
        (nothing is spent then)."""
        with self._lock:
            now = self._now()
            level, at = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - at) * self.rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """``Retry-After`` in whole seconds (at least 1)."""
        return str(max(1, math.ceil(wait_s)))
