"""The join-request state machine: the only place that decides whether a status may change."""

from __future__ import annotations

import enum


class RequestStatus(enum.Enum):
    """Where a join request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    FAILED = "failed"
    DEPROVISIONING = "deprovisioning"
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


S = RequestStatus

#: Allowed moves. ``failed → deprovisioning`` lets an admin or the owner give up on a
#: failed request whose member was already authorized, so its addresses and route-server
#: peers are released instead of held forever. ``failed → active`` is the worker settling
#: a request that failed on a route-server fault once the evidence shows the member is
#: configured after all (every server applied it, the controller has it authorized).
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.PENDING: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.PROVISIONING}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.FAILED}),
    S.FAILED: frozenset({S.APPROVED, S.DEPROVISIONING, S.ACTIVE}),
    S.ACTIVE: frozenset({S.DEPROVISIONING}),
    S.DEPROVISIONING: frozenset({S.REMOVED}),
    S.REJECTED: frozenset(),
    S.REMOVED: frozenset(),
}

#: Statuses that hold the (asn, network) slot: at most one request per pair among them.
LIVE_STATUSES: frozenset[RequestStatus] = frozenset(
    {S.PENDING, S.APPROVED, S.PROVISIONING, S.ACTIVE}
)

TERMINAL_STATUSES: frozenset[RequestStatus] = frozenset({S.REJECTED, S.REMOVED})


def can_move(current: RequestStatus, target: RequestStatus) -> bool:
    """True when the state machine allows ``current → target``."""
    return target in TRANSITIONS[current]
