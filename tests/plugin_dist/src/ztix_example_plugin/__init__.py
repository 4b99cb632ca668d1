"""A third-party plugin: adds the approval policy ``always_pending``."""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.policies import ApprovalContext, Decision, Verdict


class AlwaysPending:
    """Never decides; a stand-in for an operator's own policy."""

    name = "always_pending"

    def decide(self, ctx: ApprovalContext) -> Decision:
        return Decision(Verdict.LEAVE_PENDING, ("example plugin never decides",))


@hookimpl
def ztix_approval_policies() -> list[Registration]:
    return [Registration("always_pending", lambda settings: AlwaysPending(), None, "example")]
