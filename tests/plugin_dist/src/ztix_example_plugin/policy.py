"""The approval policy ``always_pending``."""

from __future__ import annotations

from ztix_core.policies import ApprovalContext, Decision, Verdict


class AlwaysPending:
    """Never decides; a stand-in for an exchange's own policy."""

    name = "always_pending"

    def decide(self, ctx: ApprovalContext) -> Decision:
        return Decision(Verdict.LEAVE_PENDING, ("example plugin never decides",))
