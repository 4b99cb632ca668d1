"""A target's newest event is read from the target index, backwards from its end, on
either database: never by walking the whole trail from its newest event (which PostgreSQL
chose for an old target behind many newer events of others)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from ztix_adapters_sql.mapping import audit_values
from ztix_adapters_sql.models import AuditEventRow
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.records import AuditEvent, new_id

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
N = 5_000
OUTCOMES = ("route_server.applied", "route_server.failed", "route_server.unchanged")


def _seed(factory: SqlUnitOfWorkFactory) -> None:
    """Four servers' applies, rs1's all older than the others', then events about requests."""
    rows = [
        audit_values(
            AuditEvent(new_id(), T0, "system:worker", OUTCOMES[i % 2], "route_server", server)
        )
        for server in ("rs1", "rs2", "rs3", "rs4")
        for i in range(N)
    ] + [
        audit_values(AuditEvent(new_id(), T0, "system:worker", "request.active", "request", "r"))
        for _ in range(2 * N)
    ]
    with Session(factory.engine) as session:
        session.execute(insert(AuditEventRow), rows)
        session.commit()


def test_latest_for_target_reads_the_target_index(sql_factory: SqlUnitOfWorkFactory) -> None:
    _seed(sql_factory)
    postgres = sql_factory.engine.dialect.name == "postgresql"
    with sql_factory() as uow:
        uow.session.execute(text("ANALYZE audit_events" if postgres else "ANALYZE"))
        repo = uow.audit
        stmt = repo.latest_statement("route_server", "rs1", OUTCOMES)
        sql = stmt.compile(sql_factory.engine, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = uow.session.execute(text(f"{explain}{sql}")).all()
        plan = "\n".join(str(r[0] if postgres else r[3]) for r in rows)
        assert "ix_audit_events_target" in plan, plan
        assert "pk_audit_events" not in plan and "TEMP B-TREE" not in plan, plan
        found = repo.latest_for_target("route_server", "rs1", OUTCOMES)
        assert found is not None and found.action == OUTCOMES[1]
