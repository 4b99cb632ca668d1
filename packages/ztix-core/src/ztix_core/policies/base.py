"""What an approval policy sees and what it answers."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Protocol

import attrs

from ztix_core.ports import NetworkFacts
from ztix_core.records import AsnLink, JoinRequest, User


class Verdict(enum.Enum):
    """A policy's answer."""

    APPROVE = "approve"
    REJECT = "reject"
    LEAVE_PENDING = "leave_pending"


@attrs.frozen
class Decision:
    """The verdict and every reason behind it (they go into the audit event)."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    checks: tuple[tuple[str, bool], ...] = ()


@attrs.frozen
class ApprovalContext:
    """Everything a policy may look at for one pending request."""

    request: JoinRequest
    user: User
    link: AsnLink
    facts: NetworkFacts | None
    auto_approvals_last_hour: int
    now: dt.datetime
    #: False when PeeringDB could not be asked and nothing is cached: ``facts`` None then
    #: means "unknown", not "no network"
    facts_known: bool = True
    #: when PeeringDB last answered about the ASN (None: never, or facts from elsewhere)
    facts_fetched_at: dt.datetime | None = None
    #: why the last ask failed ("" when it was answered)
    facts_error: str = ""


class ApprovalPolicy(Protocol):
    """Decides a freshly submitted request. Must not change anything itself."""

    name: str

    def decide(self, ctx: ApprovalContext) -> Decision:
        """Approve, reject (with a reason) or leave the request pending, with reasons."""
