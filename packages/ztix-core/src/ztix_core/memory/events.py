"""Provisioning events: the silent default and a recorder (for tests and integrators)."""

from __future__ import annotations

import datetime as dt
import threading

import attrs

from ztix_core.ports import ApplyOutcome
from ztix_core.records import JoinRequest


class NoEvents:
    """Reports nothing (the provisioner's default)."""

    def request_activated(self, request: JoinRequest, at: dt.datetime) -> None:
        """Nothing."""

    def request_failed(self, request: JoinRequest, stage: str) -> None:
        """Nothing."""

    def route_server_applied(self, outcome: ApplyOutcome) -> None:
        """Nothing."""


@attrs.define
class RecordingEvents:
    """Keeps every event (safe across threads): the order in ``kinds``, the details in
    ``activated``, ``failed`` and ``applied``."""

    kinds: list[str] = attrs.Factory(list)
    activated: list[tuple[JoinRequest, dt.datetime]] = attrs.Factory(list)
    failed: list[tuple[JoinRequest, str]] = attrs.Factory(list)
    applied: list[ApplyOutcome] = attrs.Factory(list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def request_activated(self, request: JoinRequest, at: dt.datetime) -> None:
        """Record an activation."""
        with self._lock:
            self.kinds.append("activated")
            self.activated.append((request, at))

    def request_failed(self, request: JoinRequest, stage: str) -> None:
        """Record a failure and its stage."""
        with self._lock:
            self.kinds.append("failed")
            self.failed.append((request, stage))

    def route_server_applied(self, outcome: ApplyOutcome) -> None:
        """Record an apply's outcome."""
        with self._lock:
            self.kinds.append("applied")
            self.applied.append(outcome)
