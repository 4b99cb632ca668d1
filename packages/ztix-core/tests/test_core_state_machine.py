"""The state machine: allowed moves only; a refused move changes nothing."""

from __future__ import annotations

import pytest

from ztix_core.errors import InvalidTransition
from ztix_core.memory import FixedClock, InMemoryStore
from ztix_core.records import Actor
from ztix_core.status import LIVE_STATUSES, TRANSITIONS, RequestStatus, can_move
from ztix_core.testing import builders as b
from ztix_core.usecases._common import move

S = RequestStatus
ALLOWED = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.REJECTED),
    (S.APPROVED, S.PROVISIONING),
    (S.PROVISIONING, S.ACTIVE),
    (S.PROVISIONING, S.FAILED),
    (S.FAILED, S.APPROVED),
    (S.FAILED, S.DEPROVISIONING),
    (S.FAILED, S.ACTIVE),
    (S.ACTIVE, S.DEPROVISIONING),
    (S.DEPROVISIONING, S.REMOVED),
}


def test_transition_table_is_exactly_the_design() -> None:
    table = {(a, z) for a, targets in TRANSITIONS.items() for z in targets}
    assert table == ALLOWED
    assert {S.PENDING, S.APPROVED, S.PROVISIONING, S.ACTIVE} == LIVE_STATUSES


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_move_allows_or_refuses_without_change(current: S, target: S) -> None:
    store, clock = InMemoryStore(), FixedClock()
    u, n = b.user(), b.network()
    req = b.request(u.id, n.id, status=current)
    with store() as uow:
        uow.users.add(u)
        uow.networks.add(n)
        uow.requests.add(req)
        uow.commit()
    with store() as uow:
        if can_move(current, target):
            moved = move(uow, clock, req, target, Actor.system("test"))
            uow.commit()
            assert moved.status is target
        else:
            with pytest.raises(InvalidTransition) as info:
                move(uow, clock, req, target, Actor.system("test"))
            assert info.value.current_status == current.value
            assert (current, target) not in ALLOWED
    with store() as uow:
        stored = uow.requests.get(req.id)
        events = uow.audit.for_target("request", str(req.id))
        assert stored is not None
        if can_move(current, target):
            assert stored.status is target and len(events) == 1
            assert events[0].metadata == {"from": current.value, "to": target.value}
        else:
            assert stored == req and events == []
