"""The controller readiness gate as the worker applies it: wait, never fail in a loop.

While the gate fails, the worker does not start consuming (at start-up) and actors that
talk to the controller hold their message and wait (at run time), so messages wait in the
queue instead of failing one after the other. The core's own gate in
:meth:`Provisioner.provision` stays as the last line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from ztix_core.ports import MembershipProvider, ReadinessReport
from ztix_core.records import ZtNetwork

log = logging.getLogger(__name__)


class GateClosed(Exception):
    """The worker is stopping while the gate still fails."""


class ReadinessGate:
    """Checks the provider's readiness for the exchange networks.

    A passing check is trusted for ``cache_s`` seconds so a burst of messages does not
    hammer the controller; a failing one is re-checked every ``poll_s`` seconds.
    """

    def __init__(
        self,
        provider: MembershipProvider,
        networks: Callable[[], Sequence[ZtNetwork]],
        *,
        enabled: bool = True,
        poll_s: float = 2.0,
        cache_s: float = 0.5,
        stop: threading.Event | None = None,
        on_change: Callable[[ReadinessReport], None] | None = None,
    ) -> None:
        self.provider = provider
        self.networks = networks
        self.enabled = enabled
        self.poll_s = poll_s
        self.cache_s = cache_s
        self.stop = stop or threading.Event()
        self._ok_until = 0.0
        self._lock = threading.Lock()
        self._open: bool | None = None
        self.on_change = on_change
        self.waits = 0

    @property
    def last_open(self) -> bool | None:
        """Whether the gate passed at its last check (None before the first); True when
        it is disabled."""
        if not self.enabled:
            return True
        with self._lock:
            return self._open

    def check(self) -> ReadinessReport:
        """Run the checks now."""
        return self.provider.check_readiness(list(self.networks()))

    def is_open(self) -> bool:
        """True when the gate passes (or is disabled)."""
        if not self.enabled or time.monotonic() < self._ok_until:
            return True
        report = self.check()
        self._note(report)
        if report.ready:
            self._ok_until = time.monotonic() + self.cache_s
            return True
        failure = report.first_failure
        assert failure is not None
        log.warning(
            "controller readiness gate failed: %s: %s",
            failure.name,
            failure.message,
            extra={"check": failure.name, "remediation": failure.remediation},
        )
        return False

    def _note(self, report: ReadinessReport) -> None:
        with self._lock:
            changed = self._open is not None and self._open != report.ready
            first_close = self._open is None and not report.ready
            self._open = report.ready
        if (changed or first_close) and self.on_change is not None:
            self.on_change(report)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the gate passes; False on timeout; GateClosed when stopping."""
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            if self.is_open():
                return True
            if first:
                self.waits += 1
                first = False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if self.stop.wait(self.poll_s):
                raise GateClosed("the worker is stopping while the readiness gate fails")
