"""Read-side use cases for the live state: a member's BGP sessions, the route servers and
the controller, as the worker last observed them and as the audit trail recorded them.

Nothing here talks to a route server or the controller: the worker records what it sees
(:class:`~ztix_core.ports.ObservationRepository`) and the pages read it back through these
queries, so the web needs neither the SSH key nor the controller's token. Each query
decides who may see what: an operator sees the sessions of their own requests' ASNs
only; the route-server and controller overviews are for admins.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs

from ztix_core.errors import NotFound, PermissionDenied
from ztix_core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import (
    Actor,
    AuditEvent,
    ControllerObservation,
    RouteServerObservation,
    RouteServerState,
    SessionObservation,
    ZtNetwork,
)
from ztix_core.values import Asn

#: The audit actions of a route server's apply outcome (``Provisioner`` writes them).
APPLY_OUTCOMES = frozenset(
    {"route_server.applied", "route_server.unchanged", "route_server.failed"}
)
#: The controller lifecycle's audit actions the controller overview reads.
BACKUP_CREATED, BACKUP_FAILED = "controller.backup_created", "controller.backup_failed"
DRILL_PASSED, DRILL_FAILED = "controller.drill_passed", "controller.drill_failed"
RESTORED, RESTORE_REFUSED = "controller.restored", "controller.restore_refused"


def address_family(protocol: str) -> str:
    """``IPv4`` / ``IPv6`` from a session's protocol name (``AS64500_v4``), else ``""``."""
    tail = protocol.rsplit("_", 1)[-1].lower()
    return {"v4": "IPv4", "v6": "IPv6", "ipv4": "IPv4", "ipv6": "IPv6"}.get(tail, "")


def session_state(session: SessionObservation) -> str:
    """The state in words: ``Established``, or the BGP state with the reason the session is
    not up (``Active — Socket: Connection refused``)."""
    if session.established:
        return "Established"
    state = session.state if session.state not in ("", "up", "down", "start") else ""
    state = state or session.info or session.state or "unknown"
    reason = session.last_error
    if reason and reason not in state:
        return f"{state} — {reason}"
    return state


@attrs.frozen
class SessionLine:
    """One BGP session of a member on one route server, ready to show."""

    session: SessionObservation
    family: str
    state: str

    @property
    def established(self) -> bool:
        """The session exchanges routes."""
        return self.session.established


@attrs.frozen
class ServerSessions:
    """A member's sessions on one route server, with the server's last reading (None: the
    worker has not observed this server yet)."""

    server: str
    reading: RouteServerObservation | None
    sessions: tuple[SessionLine, ...]

    @property
    def note(self) -> str:
        """Why there is no session to show ("" when there are sessions)."""
        if self.sessions:
            return ""
        if self.reading is None:
            return "no reading yet"
        if not self.reading.reachable:
            message = self.reading.message
            return f"unreachable: {message}" if message else "unreachable"
        return "no session for this member"


@attrs.frozen
class RequestSessions:
    """A request's member sessions on every route server (observed or configured)."""

    request_id: uuid.UUID
    asn: Asn
    servers: tuple[ServerSessions, ...]

    @property
    def observed_at(self) -> dt.datetime | None:
        """The oldest of the servers' readings (the page is at least this fresh), or None
        before the first."""
        times = [s.reading.observed_at for s in self.servers if s.reading is not None]
        return min(times) if times else None

    @property
    def lines(self) -> tuple[SessionLine, ...]:
        """Every session, by server then protocol."""
        return tuple(line for s in self.servers for line in s.sessions)


@attrs.frozen
class ApplyRecord:
    """A route server's last apply outcome from the audit trail."""

    at: dt.datetime
    result: str
    generation: int | None
    stage: str
    message: str
    duration_s: float | None

    @classmethod
    def from_event(cls, event: AuditEvent) -> ApplyRecord:
        """Read an ``route_server.<result>`` event (missing fields stay empty)."""
        meta = event.metadata
        return cls(
            at=event.at,
            result=event.action.removeprefix("route_server."),
            generation=_int(meta.get("generation")),
            stage=str(meta.get("stage") or ""),
            message=str(meta.get("message") or ""),
            duration_s=_float(meta.get("duration_s")),
        )


@attrs.frozen
class RouteServerOverview:
    """One route server: its apply state, its last observation and its last apply."""

    name: str
    state: RouteServerState | None
    reading: RouteServerObservation | None
    last_apply: ApplyRecord | None


@attrs.frozen
class BackupRecord:
    """The last controller backup attempt (``ok`` False: it failed, ``reason`` says why)."""

    at: dt.datetime
    ok: bool
    archive: str = ""
    files: int | None = None
    size_bytes: int | None = None
    checksum: str = ""
    reason: str = ""
    remediation: str = ""

    @classmethod
    def from_event(cls, event: AuditEvent) -> BackupRecord:
        """Read a ``controller.backup_created`` / ``backup_failed`` event."""
        meta = event.metadata
        return cls(
            at=event.at,
            ok=event.action == BACKUP_CREATED,
            archive=str(meta.get("archive") or ""),
            files=_int(meta.get("files")),
            size_bytes=_int(meta.get("bytes")),
            checksum=str(meta.get("sha256") or meta.get("checksum") or ""),
            reason=str(meta.get("message") or ""),
            remediation=str(meta.get("remediation") or ""),
        )


@attrs.frozen
class DrillRecord:
    """The last restore drill: passed or not, and each stage the audit event names."""

    at: dt.datetime
    passed: bool
    archive: str = ""
    summary: str = ""
    stages: tuple[tuple[str, bool], ...] = ()
    controller_kind: str = ""
    remediation: str = ""

    @classmethod
    def from_event(cls, event: AuditEvent) -> DrillRecord:
        """Read a ``controller.drill_passed`` / ``drill_failed`` event."""
        meta = event.metadata
        passed = event.action == DRILL_PASSED
        stages: list[tuple[str, bool]] = []
        for name, key in (("readiness", "ready"), ("reconcile", "ok")):
            part = meta.get(name)
            if isinstance(part, dict) and key in part:
                stages.append((name, bool(part[key])))
        failed_stage = str(meta.get("stage") or "")
        if failed_stage and failed_stage not in dict(stages):
            stages.append((failed_stage, passed))
        return cls(
            at=event.at,
            passed=passed,
            archive=str(meta.get("archive") or ""),
            summary=str(meta.get("summary") or meta.get("message") or ""),
            stages=tuple(stages),
            controller_kind=str(meta.get("controller_kind") or ""),
            remediation=str(meta.get("remediation") or ""),
        )


@attrs.frozen
class RestoreRecord:
    """The last restore (or refused restore) of the controller's home."""

    at: dt.datetime
    ok: bool
    archive: str = ""
    reason: str = ""

    @classmethod
    def from_event(cls, event: AuditEvent) -> RestoreRecord:
        """Read a ``controller.restored`` / ``restore_refused`` event."""
        meta = event.metadata
        return cls(
            at=event.at,
            ok=event.action == RESTORED,
            archive=str(meta.get("archive") or ""),
            reason=str(meta.get("message") or ""),
        )


@attrs.frozen
class ControllerOverview:
    """The controller: its last readiness reading, the exchange networks (retired ones
    too), and the last backup, drill and restore from the audit trail."""

    reading: ControllerObservation | None
    networks: tuple[ZtNetwork, ...]
    last_backup: BackupRecord | None
    last_drill: DrillRecord | None
    last_restore: RestoreRecord | None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _newest(uow: UnitOfWork, *actions: str) -> AuditEvent | None:
    """The newest event of any of ``actions`` (one indexed read per action)."""
    found = [e for a in actions for e in uow.audit.recent(1, a)]
    return max(found, key=lambda e: e.at, default=None)


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only admins may see {what}")


class Oversight:
    """Queries behind the live-state parts of the pages (see the module docstring)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def request_sessions(self, actor: Actor, request_id: uuid.UUID) -> RequestSessions:
        """The BGP sessions of a request's ASN on every route server, for its owner or an
        admin (PermissionDenied for anyone else, NotFound for an unknown id). Servers
        are those observed or with an apply state, by name."""
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise NotFound(f"request {request_id} not found")
            if not actor.is_admin and str(request.user_id) != actor.id:
                raise PermissionDenied("this request belongs to another user")
            readings = {r.server: r for r in uow.observations.route_servers()}
            names = sorted(set(readings) | {s.name for s in uow.route_servers.list()})
            sessions = uow.observations.sessions_for_asn(request.asn)
        by_server: dict[str, list[SessionLine]] = {n: [] for n in names}
        for s in sessions:
            line = SessionLine(s, address_family(s.protocol), session_state(s))
            by_server.setdefault(s.server, []).append(line)
        servers = tuple(
            ServerSessions(
                name,
                readings.get(name),
                tuple(sorted(lines, key=lambda ln: (ln.family, ln.session.protocol))),
            )
            for name, lines in sorted(by_server.items())
        )
        return RequestSessions(request.id, request.asn, servers)

    def route_servers(self, actor: Actor) -> list[RouteServerOverview]:
        """Every route server (with an apply state or an observation), by name: desired
        and applied generation, reachability and session counts, the last apply outcome.
        Admins only."""
        _require_admin(actor, "the route servers")
        with self.uow_factory() as uow:
            states = {s.name: s for s in uow.route_servers.list()}
            readings = {r.server: r for r in uow.observations.route_servers()}
            out = []
            for name in sorted(set(states) | set(readings)):
                event = uow.audit.latest_for_target("route_server", name, APPLY_OUTCOMES)
                out.append(
                    RouteServerOverview(
                        name,
                        states.get(name),
                        readings.get(name),
                        ApplyRecord.from_event(event) if event else None,
                    )
                )
        return out

    def controller(self, actor: Actor) -> ControllerOverview:
        """The controller's last readiness reading, the exchange networks, and its last
        backup, drill and restore. Admins only."""
        _require_admin(actor, "the controller")
        with self.uow_factory() as uow:
            reading = uow.observations.controller()
            networks = tuple(sorted(uow.networks.list(), key=lambda n: (n.retired, n.name)))
            backup = _newest(uow, BACKUP_CREATED, BACKUP_FAILED)
            drill = _newest(uow, DRILL_PASSED, DRILL_FAILED)
            restore = _newest(uow, RESTORED, RESTORE_REFUSED)
        return ControllerOverview(
            reading,
            networks,
            BackupRecord.from_event(backup) if backup else None,
            DrillRecord.from_event(drill) if drill else None,
            RestoreRecord.from_event(restore) if restore else None,
        )
