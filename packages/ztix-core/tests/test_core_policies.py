"""Approval policies: manual_admin and every guardrail of policy_auto, pass and fail."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ztix_core.policies import (
    ApprovalContext,
    AutoPolicy,
    AutoPolicySettings,
    ManualAdminPolicy,
    Verdict,
)
from ztix_core.ports import NetworkFacts
from ztix_core.records import LinkSource
from ztix_core.testing import builders as b
from ztix_core.values import Asn

PUBLIC = 13335


def _ctx(asn: int = PUBLIC, **over: Any) -> ApprovalContext:
    u = b.user(verified_user=True, email_verified=True)
    n = b.network()
    base = ApprovalContext(
        request=b.request(u.id, n.id, asn=asn),
        user=u,
        link=b.link(u.id, asn, source=LinkSource.PEERINGDB, can_manage_sessions=True),
        facts=NetworkFacts(Asn(asn), "Example"),
        auto_approvals_last_hour=0,
        now=b.T0,
    )
    return attrs.evolve(base, **over)


def test_manual_admin_always_leaves_pending() -> None:
    decision = ManualAdminPolicy().decide(_ctx())
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert decision.reasons


def test_auto_approves_when_every_guardrail_passes() -> None:
    decision = AutoPolicy().decide(_ctx())
    assert decision.verdict is Verdict.APPROVE
    assert all(ok for _, ok in decision.checks)
    assert {name for name, _ in decision.checks} == {
        "asn_verified_peeringdb",
        "user_verified",
        "email_verified",
        "asn_public_or_allowed",
        "peeringdb_network_known",
        "peeringdb_status_ok",
        "not_never_via_route_servers",
        "not_denied",
        "under_rate_cap",
    }


def _failing(decision_checks: tuple[tuple[str, bool], ...]) -> set[str]:
    return {name for name, ok in decision_checks if not ok}


@pytest.mark.parametrize(
    ("check", "ctx_changes"),
    [
        (
            "asn_verified_peeringdb",
            lambda c: {"link": attrs.evolve(c.link, source=LinkSource.LOCAL)},
        ),
        (
            "asn_verified_peeringdb",
            lambda c: {"link": attrs.evolve(c.link, can_manage_sessions=False)},
        ),
        ("user_verified", lambda c: {"user": attrs.evolve(c.user, verified_user=False)}),
        ("email_verified", lambda c: {"user": attrs.evolve(c.user, email_verified=False)}),
        ("peeringdb_network_known", lambda c: {"facts": None}),
        (
            "not_never_via_route_servers",
            lambda c: {"facts": attrs.evolve(c.facts, never_via_route_servers=True)},
        ),
        (
            "peeringdb_status_ok",
            lambda c: {"facts": attrs.evolve(c.facts, status="pending")},
        ),
        ("under_rate_cap", lambda c: {"auto_approvals_last_hour": 10}),
    ],
)
def test_each_guardrail_failure_leaves_pending_with_its_reason(
    check: str, ctx_changes: object
) -> None:
    ctx = _ctx()
    ctx = attrs.evolve(ctx, **ctx_changes(ctx))  # type: ignore[operator]
    decision = AutoPolicy().decide(ctx)
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert _failing(decision.checks) == {check}
    assert len(decision.reasons) == 1


@pytest.mark.parametrize("asn", [64512, 4_200_000_000, 64496, 65540, 100000])
def test_non_public_asns_need_an_allow_range(asn: int) -> None:
    ctx = _ctx(asn)
    decision = AutoPolicy().decide(ctx)
    assert _failing(decision.checks) == {"asn_public_or_allowed"}
    allowed = AutoPolicy(AutoPolicySettings(allow_ranges=((asn, asn),))).decide(ctx)
    assert allowed.verdict is Verdict.APPROVE


def test_deny_list_and_rate_cap_settings() -> None:
    denied = AutoPolicy(AutoPolicySettings(deny_asns=frozenset({PUBLIC}))).decide(_ctx())
    assert _failing(denied.checks) == {"not_denied"}
    capped = AutoPolicy(AutoPolicySettings(max_per_hour=3))
    assert capped.decide(_ctx(auto_approvals_last_hour=2)).verdict is Verdict.APPROVE
    assert capped.decide(_ctx(auto_approvals_last_hour=3)).verdict is Verdict.LEAVE_PENDING


def test_several_failures_are_all_reported() -> None:
    ctx = _ctx(64512, facts=None)
    decision = AutoPolicy().decide(ctx)
    assert _failing(decision.checks) == {"asn_public_or_allowed", "peeringdb_network_known"}
    assert len(decision.reasons) == 2


def test_the_reasons_name_what_peeringdb_said_or_that_it_could_not_be_asked() -> None:
    ctx = _ctx()
    assert ctx.facts is not None
    never = attrs.evolve(ctx, facts=attrs.evolve(ctx.facts, never_via_route_servers=True))
    assert AutoPolicy().decide(never).reasons == (
        "AS13335 says in PeeringDB that it never peers via route servers "
        "(info_never_via_route_servers); held for an admin",
    )
    deleted = attrs.evolve(ctx, facts=attrs.evolve(ctx.facts, status="deleted"))
    assert AutoPolicy().decide(deleted).reasons == (
        "AS13335's PeeringDB record has status 'deleted', not 'ok'",
    )
    assert AutoPolicy().decide(attrs.evolve(ctx, facts=None)).reasons == (
        "PeeringDB has no network for AS13335",
    )
    # PeeringDB down and nothing cached: unknown, never "no network"
    unknown = attrs.evolve(ctx, facts=None, facts_known=False, facts_error="PeeringDB timed out")
    decision = AutoPolicy().decide(unknown)
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert decision.reasons == (
        "PeeringDB could not be asked about AS13335 (PeeringDB timed out); held for an admin",
    )
