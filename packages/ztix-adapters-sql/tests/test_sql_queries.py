"""Request queries beyond the contract: several statuses at once, deep pages, counts."""

from __future__ import annotations

import datetime as dt
import random

from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.ports import RequestFilter
from ztix_core.records import JoinRequest
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.testing import builders as b

S = RequestStatus


def _matches(r: JoinRequest, flt: RequestFilter) -> bool:
    return (flt.statuses is None or r.status in flt.statuses) and (
        flt.network_id is None or r.network_id == flt.network_id
    )


def test_multi_status_queries_page_like_the_reference(sql_factory: SqlUnitOfWorkFactory) -> None:
    rng = random.Random(3)
    user, nets = b.user(), [b.network(1), b.network(2)]
    made: list[JoinRequest] = []
    with sql_factory() as uow:
        uow.users.add(user)
        for n in nets:
            uow.networks.add(n)
        for i in range(120):
            status = rng.choice(list(S))
            if status in LIVE_STATUSES:
                status = rng.choice([S.REJECTED, S.FAILED, S.REMOVED])
            if i % 7 == 0:
                status = S.PENDING
            # Equal timestamps in places: ties are broken by id, as in the reference.
            at = b.T0 + dt.timedelta(minutes=i // 3)
            r = b.request(user.id, nets[i % 2].id, asn=64500 + i, status=status, at=at)
            uow.requests.add(r)
            made.append(r)
        uow.commit()
    newest = sorted(made, key=lambda r: (r.requested_at, str(r.id)), reverse=True)
    filters = [
        RequestFilter(statuses=frozenset({S.PENDING, S.FAILED}), network_id=nets[0].id),
        RequestFilter(statuses=frozenset({S.REJECTED, S.FAILED, S.PENDING}), limit=7, offset=9),
        RequestFilter(statuses=frozenset({S.REMOVED, S.FAILED}), limit=5, offset=40),
        RequestFilter(statuses=frozenset(), limit=5),
    ]
    with sql_factory() as uow:
        for flt in filters:
            expected = [r for r in newest if _matches(r, flt)]
            assert uow.requests.query(flt) == expected[flt.offset : flt.offset + flt.limit]
            assert uow.requests.count(flt) == len(expected)
