"""What a looking glass shows of one member on every route server.

A reading (:class:`LookingGlassReport`) is what the fleet answers
(:meth:`ztix_core.ports.RouteServerFleet.looking_glass`): per server, the member's BGP
sessions with their state, uptime and route counts, and the first routes the import
filter dropped, each with the reasons the route server gave and its RPKI state. The worker
stores it as a :class:`LookingGlassSnapshot` (an observation, like the session readings)
and the pages and the API read it back: the web never asks a route server itself.

Everything here is plain data with a JSON form (:func:`snapshot_to_json`,
:func:`servers_from_json`), so a storage backend can keep a reading in one JSON column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ztix_core.records import JsonDict
from ztix_core.values import Asn


@attrs.frozen
class FilteredRoute:
    """One route the import filter dropped, as the route server holds it.

    ``reasons`` are the decoded reject reasons (``RPKI invalid``, ``bogon prefix``, ``unknown
    reason 42``), in the order the route carries them; ``reason_codes`` the raw codes.
    ``rpki`` is ``valid``, ``invalid``, ``unknown`` or ``""`` when the route carries no
    RPKI state (it was dropped before origin validation ran)."""

    prefix: str
    protocol: str
    reasons: tuple[str, ...] = ()
    reason_codes: tuple[int, ...] = ()
    rpki: str = ""
    as_path: str = ""
    next_hop: str = ""


@attrs.frozen
class LookingGlassSession:
    """One BGP session of the member on one route server.

    ``received`` is what the member sent that the server still holds (accepted plus
    filtered), ``accepted`` what passed the import filter, ``filtered`` what it dropped,
    ``exported`` what the server sends to the member."""

    protocol: str
    state: str
    since: str = ""
    info: str = ""
    last_error: str = ""
    received: int = 0
    accepted: int = 0
    filtered: int = 0
    exported: int = 0
    import_limit_hit: bool = False

    @property
    def established(self) -> bool:
        """The session exchanges routes."""
        return self.state in ("up", "Established") or self.info.startswith("Established")


@attrs.frozen
class LookingGlassServer:
    """One route server's answer: the member's sessions and filtered routes, or why the
    server could not be asked (``error``; nothing else is meaningful then).

    At most the fleet's cap of filtered routes is read; ``filtered_total`` is what the
    server counted, so ``not_shown`` says how many more there are. ``note`` says when the
    answer is partial for another reason (the query ran out of time)."""

    server: str
    sessions: tuple[LookingGlassSession, ...] = ()
    filtered_routes: tuple[FilteredRoute, ...] = ()
    filtered_total: int = 0
    error: str = ""
    note: str = ""

    @property
    def not_shown(self) -> int:
        """Filtered routes the server holds beyond those listed."""
        return max(self.filtered_total - len(self.filtered_routes), 0)


@attrs.frozen
class LookingGlassReport:
    """A member on every route server, by server name (what the fleet returns)."""

    asn: Asn
    servers: tuple[LookingGlassServer, ...] = ()


@attrs.frozen
class LookingGlassSnapshot:
    """The stored looking glass of one member: the last reading (``observed_at`` None
    before the first) and the last time someone asked for a fresh one."""

    asn: Asn
    observed_at: dt.datetime | None = None
    requested_at: dt.datetime | None = None
    servers: tuple[LookingGlassServer, ...] = ()

    @property
    def pending(self) -> bool:
        """A refresh was asked for after the last reading."""
        if self.requested_at is None:
            return False
        return self.observed_at is None or self.requested_at > self.observed_at


# --------------------------------------------------------------------------- JSON


def _route_json(r: FilteredRoute) -> JsonDict:
    return {
        "prefix": r.prefix,
        "protocol": r.protocol,
        "reasons": list(r.reasons),
        "reason_codes": list(r.reason_codes),
        "rpki": r.rpki,
        "as_path": r.as_path,
        "next_hop": r.next_hop,
    }


def _session_json(s: LookingGlassSession) -> JsonDict:
    return {
        "protocol": s.protocol,
        "state": s.state,
        "established": s.established,
        "since": s.since,
        "info": s.info,
        "last_error": s.last_error,
        "received": s.received,
        "accepted": s.accepted,
        "filtered": s.filtered,
        "exported": s.exported,
        "import_limit_hit": s.import_limit_hit,
    }


def server_to_json(s: LookingGlassServer) -> JsonDict:
    """One server's answer as JSON (what storage keeps and the API returns)."""
    return {
        "server": s.server,
        "error": s.error,
        "note": s.note,
        "sessions": [_session_json(x) for x in s.sessions],
        "filtered_routes": [_route_json(r) for r in s.filtered_routes],
        "filtered_total": s.filtered_total,
        "not_shown": s.not_shown,
    }


def servers_to_json(servers: Sequence[LookingGlassServer]) -> list[JsonDict]:
    """Every server's answer as JSON."""
    return [server_to_json(s) for s in servers]


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value if isinstance(value, str) else str(value)


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _server_from_json(data: Mapping[str, Any]) -> LookingGlassServer:
    return LookingGlassServer(
        server=_str(data, "server"),
        error=_str(data, "error"),
        note=_str(data, "note"),
        sessions=tuple(
            LookingGlassSession(
                protocol=_str(x, "protocol"),
                state=_str(x, "state"),
                since=_str(x, "since"),
                info=_str(x, "info"),
                last_error=_str(x, "last_error"),
                received=_int(x, "received"),
                accepted=_int(x, "accepted"),
                filtered=_int(x, "filtered"),
                exported=_int(x, "exported"),
                import_limit_hit=bool(x.get("import_limit_hit", False)),
            )
            for x in data.get("sessions", ())
        ),
        filtered_routes=tuple(
            FilteredRoute(
                prefix=_str(r, "prefix"),
                protocol=_str(r, "protocol"),
                reasons=tuple(str(v) for v in r.get("reasons", ())),
                reason_codes=tuple(int(v) for v in r.get("reason_codes", ())),
                rpki=_str(r, "rpki"),
                as_path=_str(r, "as_path"),
                next_hop=_str(r, "next_hop"),
            )
            for r in data.get("filtered_routes", ())
        ),
        filtered_total=_int(data, "filtered_total"),
    )


def servers_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[LookingGlassServer, ...]:
    """The servers of :func:`servers_to_json`, back as records."""
    return tuple(_server_from_json(s) for s in data)
