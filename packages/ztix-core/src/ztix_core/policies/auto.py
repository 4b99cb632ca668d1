"""``policy_auto``: approve only when every guardrail passes; otherwise leave pending."""

from __future__ import annotations

import attrs

from ztix_core.policies.base import ApprovalContext, Decision, Verdict
from ztix_core.records import LinkSource
from ztix_core.values import AsnKind


@attrs.frozen
class AutoPolicySettings:
    """Guardrail knobs of ``policy_auto``.

    ``allow_ranges`` admits non-public ASNs (inclusive ranges); ``deny_asns`` are never
    auto-approved; at most ``max_per_hour`` auto-approvals happen in any hour.
    """

    #: Inclusive ranges of non-public ASNs that may still be auto-approved, e.g. ``[[4200000000,
    #: 4200000100]]``.
    allow_ranges: tuple[tuple[int, int], ...] = ()
    #: ASNs never auto-approved (an admin decides).
    deny_asns: frozenset[int] = frozenset()
    #: At most this many auto-approvals in any hour; beyond it an admin decides.
    max_per_hour: int = 10


class AutoPolicy:
    """Auto-approves a request when every guardrail holds; never rejects on its own."""

    name = "policy_auto"

    def __init__(self, settings: AutoPolicySettings | None = None) -> None:
        self.settings = settings or AutoPolicySettings()

    def _checks(self, ctx: ApprovalContext) -> list[tuple[str, bool, str]]:
        s, asn = self.settings, ctx.request.asn
        link, user, facts = ctx.link, ctx.user, ctx.facts
        in_allow_range = any(lo <= asn.value <= hi for lo, hi in s.allow_ranges)
        return [
            (
                "asn_verified_peeringdb",
                link.source is LinkSource.PEERINGDB and link.can_manage_sessions,
                f"{asn} is not linked through PeeringDB with write permission on "
                "manage_peering_sessions",
            ),
            ("user_verified", user.verified_user, "the user is not verified by PeeringDB"),
            ("email_verified", user.email_verified, "the user's email is not verified"),
            (
                "asn_public_or_allowed",
                asn.kind is AsnKind.PUBLIC or in_allow_range,
                f"{asn} is {asn.kind.value} and not in an allowed range",
            ),
            (
                "peeringdb_network_known",
                facts is not None,
                f"PeeringDB has no network for {asn}"
                if ctx.facts_known
                else f"PeeringDB could not be asked about {asn} ({ctx.facts_error or 'no answer'})"
                "; held for an admin",
            ),
            (
                "peeringdb_status_ok",
                facts is None or facts.status == "ok",
                f"{asn}'s PeeringDB record has status {facts.status if facts else ''!r}, not 'ok'",
            ),
            (
                "not_never_via_route_servers",
                facts is None or not facts.never_via_route_servers,
                f"{asn} says in PeeringDB that it never peers via route servers "
                "(info_never_via_route_servers); held for an admin",
            ),
            ("not_denied", asn.value not in s.deny_asns, f"{asn} is on the deny list"),
            (
                "under_rate_cap",
                ctx.auto_approvals_last_hour < s.max_per_hour,
                f"the cap of {s.max_per_hour} auto-approvals per hour is reached",
            ),
        ]

    def decide(self, ctx: ApprovalContext) -> Decision:
        checks = self._checks(ctx)
        failed = tuple(reason for _, ok, reason in checks if not ok)
        summary = tuple((name, ok) for name, ok, _ in checks)
        if failed:
            return Decision(Verdict.LEAVE_PENDING, failed, summary)
        return Decision(Verdict.APPROVE, ("every auto-approval guardrail passed",), summary)
