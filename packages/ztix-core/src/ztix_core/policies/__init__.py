"""Approval policies: who decides whether a pending request is approved."""

from ztix_core.policies.auto import AutoPolicy, AutoPolicySettings
from ztix_core.policies.base import ApprovalContext, ApprovalPolicy, Decision, Verdict
from ztix_core.policies.manual import ManualAdminPolicy

__all__ = [
    "ApprovalContext",
    "ApprovalPolicy",
    "AutoPolicy",
    "AutoPolicySettings",
    "Decision",
    "ManualAdminPolicy",
    "Verdict",
]
