"""What the worker last saw of the route servers and the controller."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from ztix_adapters_sql.models import (
    ControllerObservationRow,
    LookingGlassRow,
    RouteServerObservationRow,
    SessionObservationRow,
)
from ztix_adapters_sql.repositories._base import SqlRepository, require_json, upsert
from ztix_core.looking_glass import LookingGlassSnapshot, servers_from_json, servers_to_json
from ztix_core.records import (
    ControllerObservation,
    ObservedCheck,
    RouteServerObservation,
    SessionObservation,
)
from ztix_core.values import Asn

_CONTROLLER = "controller"


def _session_record(row: SessionObservationRow) -> SessionObservation:
    return SessionObservation(
        server=row.server,
        asn=Asn(row.asn),
        protocol=row.protocol,
        state=row.state,
        observed_at=row.observed_at,
        since=row.since,
        info=row.info,
        imported=row.imported,
        filtered=row.filtered,
        exported=row.exported,
        last_error=row.last_error,
    )


class SqlObservationRepository(SqlRepository):
    """A server's reading replaces its previous one (summary row + session rows) in the
    caller's unit of work; the controller's reading is a single upserted row."""

    def record_route_server(
        self, observation: RouteServerObservation, sessions: Sequence[SessionObservation]
    ) -> None:
        summary = {
            "server": observation.server,
            "reachable": observation.reachable,
            "observed_at": observation.observed_at,
            "message": observation.message,
            "sessions_total": observation.sessions_total,
            "sessions_established": observation.sessions_established,
        }
        self.session.execute(upsert(self.dialect, RouteServerObservationRow, summary, ["server"]))
        self.session.execute(
            delete(SessionObservationRow).where(SessionObservationRow.server == observation.server)
        )
        rows = [
            {
                "server": observation.server,
                "protocol": s.protocol,
                "asn": s.asn.value,
                "state": s.state[:40],
                "observed_at": s.observed_at,
                "since": s.since[:40],
                "info": s.info,
                "imported": s.imported,
                "filtered": s.filtered,
                "exported": s.exported,
                "last_error": s.last_error,
            }
            for s in sessions
        ]
        if rows:
            self.session.execute(insert(SessionObservationRow), rows)

    def route_servers(self) -> builtins.list[RouteServerObservation]:
        rows = self._all(
            select(RouteServerObservationRow).order_by(RouteServerObservationRow.server)
        )
        return [
            RouteServerObservation(
                server=r.server,
                reachable=r.reachable,
                observed_at=r.observed_at,
                message=r.message,
                sessions_total=r.sessions_total,
                sessions_established=r.sessions_established,
            )
            for r in rows
        ]

    def sessions_for_asn(self, asn: Asn) -> builtins.list[SessionObservation]:
        rows = self._all(
            select(SessionObservationRow)
            .where(SessionObservationRow.asn == asn.value)
            .order_by(SessionObservationRow.server, SessionObservationRow.protocol)
        )
        return [_session_record(r) for r in rows]

    def forget_route_server(self, server: str) -> None:
        self.session.execute(
            delete(SessionObservationRow).where(SessionObservationRow.server == server)
        )
        self.session.execute(
            delete(RouteServerObservationRow).where(RouteServerObservationRow.server == server)
        )

    def record_controller(self, observation: ControllerObservation) -> None:
        checks = [
            {"name": c.name, "ok": c.ok, "message": c.message, "remediation": c.remediation}
            for c in observation.checks
        ]
        require_json(checks, "checks")
        values = {"name": _CONTROLLER, "observed_at": observation.observed_at, "checks": checks}
        self.session.execute(upsert(self.dialect, ControllerObservationRow, values, ["name"]))

    def controller(self) -> ControllerObservation | None:
        row = self._get(ControllerObservationRow, _CONTROLLER)
        if row is None:
            return None
        return ControllerObservation(
            observed_at=row.observed_at,
            checks=tuple(
                ObservedCheck(
                    name=str(c["name"]),
                    ok=bool(c["ok"]),
                    message=str(c.get("message", "")),
                    remediation=str(c.get("remediation", "")),
                )
                for c in row.checks
            ),
        )

    def looking_glass(self, asn: Asn) -> LookingGlassSnapshot | None:
        row = self._get(LookingGlassRow, asn.value)
        if row is None:
            return None
        return LookingGlassSnapshot(
            asn=Asn(row.asn),
            observed_at=row.observed_at,
            requested_at=row.requested_at,
            servers=servers_from_json(row.servers),
        )

    def put_looking_glass(self, snapshot: LookingGlassSnapshot) -> None:
        servers = servers_to_json(snapshot.servers)
        require_json(servers, "servers")
        values = {
            "asn": snapshot.asn.value,
            "observed_at": snapshot.observed_at,
            "requested_at": snapshot.requested_at,
            "servers": servers,
        }
        self.session.execute(upsert(self.dialect, LookingGlassRow, values, ["asn"]))
