"""The admin queue's page reads only its page: on either database a filter on several
statuses is served by an ordered index per status, never by fetching and sorting every
matching request (as SQLite did through the small status index meant for counts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.ports import RequestFilter
from ztix_core.status import RequestStatus as S
from ztix_core.values import NetworkId

ORDERED = ("ix_join_requests_queue", "ix_join_requests_status_time")


def _sqlite_plan(factory: SqlUnitOfWorkFactory, flt: RequestFilter) -> list[str]:
    with factory() as uow:
        repo: Any = uow.requests
        stmt, params = repo.query_statement(flt)
        compiled = stmt.params(params).compile(
            factory.engine, compile_kwargs={"literal_binds": True}
        )
        return [row[3] for row in uow.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]


def test_sqlite_pages_of_several_statuses_use_an_ordered_index_per_status(
    sqlite_factory: SqlUnitOfWorkFactory,
) -> None:
    for network in (NetworkId("a1b2c3d4e5000001"), None):
        flt = RequestFilter(statuses=frozenset({S.PENDING, S.FAILED}), network_id=network)
        searches = [d for d in _sqlite_plan(sqlite_factory, flt) if "join_requests" in d]
        assert len(searches) == 2, searches  # one per status
        assert all(any(ix in d for ix in ORDERED) for d in searches), searches
