"""``manual_admin``: every request waits for an admin (the default)."""

from __future__ import annotations

from ztix_core.policies.base import ApprovalContext, Decision, Verdict


class ManualAdminPolicy:
    """Leaves every request pending for an admin to decide."""

    name = "manual_admin"

    def decide(self, ctx: ApprovalContext) -> Decision:
        return Decision(Verdict.LEAVE_PENDING, ("manual approval by an admin is required",))
