"""Submit / approve / reject / retry / leave: eligibility, conflicts, audit and outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
import pytest

from ztix_core.errors import (
    Conflict,
    DuplicateLiveRequest,
    InvalidTransition,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
)
from ztix_core.memory import InMemoryRegistry
from ztix_core.policies import AutoPolicy, AutoPolicySettings
from ztix_core.ports import NetworkFacts
from ztix_core.records import Actor, LinkSource, NetworkAccess
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import RequestWorkflow
from ztix_core.values import Asn

NODE = "abcdef0123"


def _counts(w: World) -> tuple[int, int, int]:
    with w.store() as uow:
        return (len(uow.tables.requests), len(uow.tables.audit), len(uow.tables.outbox))


def test_submit_creates_a_pending_request_with_its_audit_event(world: World) -> None:
    req = world.workflow.submit(
        world.user.id, "AS64500", world.network.id.value.upper(), NODE, "hi"
    )
    assert req.status is S.PENDING and req.asn == Asn(64500) and req.notes == "hi"
    with world.store() as uow:
        (event,) = uow.audit.for_target("request", str(req.id))
        assert event.action == "request.submitted" and event.actor == f"user:{world.user.id}"
        assert uow.outbox.pending_count() == 0


@pytest.mark.parametrize(
    ("asn", "network", "node", "error"),
    [
        (0, None, NODE, InvalidValue),
        ("ASfoo", None, NODE, InvalidValue),
        (64500, "xyz", NODE, InvalidValue),
        (64500, None, "ff00000000", InvalidValue),
        (64500, None, "0000000000", InvalidValue),
        (64502, None, NODE, NotEligible),  # not linked to alice
        (64500, "ffffffffffffffff", NODE, NotFound),  # not an exchange network
    ],
)
def test_bad_submissions_are_refused_and_change_nothing(
    world: World, asn: object, network: str | None, node: str, error: type[Exception]
) -> None:
    before = _counts(world)
    with pytest.raises(error):
        world.workflow.submit(world.user.id, asn, network or world.network.id, node)
    assert _counts(world) == before


def test_unknown_user_and_long_notes_are_refused(world: World) -> None:
    with pytest.raises(NotFound):
        world.workflow.submit(b.user("ghost").id, 64500, world.network.id, NODE)
    with pytest.raises(InvalidValue):
        world.workflow.submit(world.user.id, 64500, world.network.id, NODE, "x" * 2001)


def test_no_access_rows_means_unrestricted_and_rows_restrict(world: World) -> None:
    other = b.network(2)
    with world.store() as uow:
        uow.networks.add(other)
        uow.commit()
    world.workflow.submit(world.user.id, 64500, other.id, NODE)  # no rows: any network
    with world.store() as uow:
        uow.network_access.grant(NetworkAccess(world.user.id, other.id))
        uow.commit()
    with pytest.raises(NotEligible):
        world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0124")
    assert world.workflow.submit(world.user.id, 64501, other.id, "abcdef0124").status is S.PENDING


def test_second_live_request_names_the_first(world: World) -> None:
    first = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    before = _counts(world)
    with pytest.raises(DuplicateLiveRequest) as info:
        world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0999")
    assert info.value.existing_id == first.id and str(first.id) in str(info.value)
    with pytest.raises(Conflict):  # same node, other ASN
        world.workflow.submit(world.user.id, 64501, world.network.id, NODE)
    assert _counts(world) == before
    world.workflow.reject(ADMIN, first.id, "incomplete")
    assert world.workflow.submit(world.user.id, 64500, world.network.id, NODE).status is S.PENDING


def test_approve_writes_audit_and_outbox_in_one_unit(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    approved = world.workflow.approve(ADMIN, req.id)
    assert approved.status is S.APPROVED and approved.decided_by == "user:admin"
    with world.store() as uow:
        (msg,) = uow.outbox.claim_unsent(10)
        assert msg.topic == "provision_request" and msg.payload == {"request_id": str(req.id)}
        assert [e.action for e in uow.audit.for_target("request", str(req.id))] == [
            "request.submitted",
            "request.approved",
        ]


def test_only_admins_decide_and_reject_needs_a_reason(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    operator = Actor.user(world.user)
    before = _counts(world)
    with pytest.raises(PermissionDenied):
        world.workflow.approve(operator, req.id)
    with pytest.raises(PermissionDenied):
        world.workflow.reject(operator, req.id, "no")
    for reason in ("", "   ", "x" * 1001):
        with pytest.raises(InvalidValue):
            world.workflow.reject(ADMIN, req.id, reason)
    with pytest.raises(NotFound):
        world.workflow.approve(ADMIN, b.request(world.user.id, world.network.id).id)
    assert _counts(world) == before
    rejected = world.workflow.reject(ADMIN, req.id, "  not an operator network ")
    assert rejected.reject_reason == "not an operator network"


def test_decisions_on_decided_requests_conflict_with_the_current_status(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    world.workflow.reject(ADMIN, req.id, "no")
    before = _counts(world)
    acts: list[Callable[[], object]] = [
        lambda: world.workflow.approve(ADMIN, req.id),
        lambda: world.workflow.retry(ADMIN, req.id),
        lambda: world.workflow.reject(ADMIN, req.id, "again"),
    ]
    for act in acts:
        with pytest.raises(InvalidTransition) as info:
            act()
        assert info.value.current_status == "rejected"
    assert _counts(world) == before


def test_leave_is_for_owner_or_admin(world: World) -> None:
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    world.workflow.approve(ADMIN, req.id)
    world.provisioner.provision(req.id)
    stranger = Actor.user(world.add_user("mallory"))
    with pytest.raises(PermissionDenied):
        world.workflow.leave(stranger, req.id)
    left = world.workflow.leave(Actor.user(world.user), req.id)
    assert left.status is S.DEPROVISIONING
    with world.store() as uow:
        topics = sorted(m.topic for m in uow.outbox.claim_unsent(10))
        assert topics == ["deprovision_request", "provision_request"]


def _auto_world(world: World, verified: bool = True) -> RequestWorkflow:
    registry = InMemoryRegistry({Asn(13335): NetworkFacts(Asn(13335), "Cloudflare")})
    with world.store() as uow:
        user = uow.users.get(world.user.id)
        assert user is not None
        uow.users.update(attrs.evolve(user, verified_user=verified, email_verified=True))
        uow.asn_links.add(
            b.link(world.user.id, 13335, source=LinkSource.PEERINGDB, can_manage_sessions=True)
        )
        uow.commit()
    return RequestWorkflow(
        world.store, world.clock, AutoPolicy(), registry, allow_documentation_asns=True
    )


def test_policy_auto_approves_and_queues_with_reasons_in_the_audit(world: World) -> None:
    wf = _auto_world(world)
    req = wf.submit(world.user.id, 13335, world.network.id, NODE)
    assert req.status is S.APPROVED and req.decided_by == "system:policy_auto"
    with world.store() as uow:
        events = uow.audit.for_target("request", str(req.id))
        assert [e.action for e in events] == ["request.submitted", "request.approved"]
        assert events[1].actor == "system:policy_auto"
        assert events[1].metadata["checks"]["under_rate_cap"] is True
        assert uow.outbox.pending_count() == 1


def test_policy_auto_leaves_pending_and_records_why(world: World) -> None:
    wf = _auto_world(world, verified=False)
    req = wf.submit(world.user.id, 13335, world.network.id, NODE)
    assert req.status is S.PENDING
    with world.store() as uow:
        events = uow.audit.for_target("request", str(req.id))
        assert events[-1].action == "request.policy_evaluated"
        assert events[-1].metadata["checks"]["user_verified"] is False
        assert uow.outbox.pending_count() == 0


def test_policy_auto_rate_cap_counts_its_own_approvals(world: World) -> None:
    wf = _auto_world(world)
    wf.policy = AutoPolicy(AutoPolicySettings(max_per_hour=1))
    first = wf.submit(world.user.id, 13335, world.network.id, NODE)
    assert first.status is S.APPROVED
    other = b.network(3)
    with world.store() as uow:
        uow.networks.add(other)
        uow.commit()
    assert wf.submit(world.user.id, 13335, other.id, NODE).status is S.PENDING
    world.clock.advance(hours=1, seconds=1)
    third = b.network(4)
    with world.store() as uow:
        uow.networks.add(third)
        uow.commit()
    assert wf.submit(world.user.id, 13335, third.id, NODE).status is S.APPROVED


def test_queries_filter_and_scope(world: World) -> None:
    r1 = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    world.clock.advance(hours=2)
    bob = world.add_user("bob", 13335)
    r2 = world.workflow.submit(bob.id, 13335, world.network.id, "abcdef0999")
    world.workflow.approve(ADMIN, r2.id)
    page = world.queries.list_requests(ADMIN)
    assert [r.id for r in page.items] == [r2.id, r1.id] and page.total == 2
    assert world.queries.list_requests(ADMIN, statuses=frozenset({S.PENDING})).total == 1
    assert world.queries.list_requests(ADMIN, asn=Asn(13335)).items[0].id == r2.id
    assert world.queries.list_requests(ADMIN, older_than=dt.timedelta(hours=1)).total == 1
    assert world.queries.list_requests(ADMIN, newer_than=dt.timedelta(hours=1)).total == 1
    mine = world.queries.list_requests(Actor.user(bob))
    assert [r.id for r in mine.items] == [r2.id]
    counts = world.queries.count_by_status(ADMIN)
    assert counts[S.PENDING] == counts[S.APPROVED] == 1 and sum(counts.values()) == 2
    assert world.queries.count_by_status(ADMIN, older_than=dt.timedelta(hours=1)) == {
        s: int(s is S.PENDING) for s in S
    }
    assert world.queries.count_by_status(Actor.user(bob), statuses=frozenset({S.PENDING})) == {
        S.PENDING: 0
    }
    queue = world.queries.queue_page(ADMIN, status=S.PENDING)
    assert [r.id for r in queue.items] == [r1.id] and queue.total == 1
    assert queue.counts == counts  # the counts ignore the status asked for
    queue = world.queries.queue_page(ADMIN, asn=Asn(13335), limit=1, offset=1)
    assert queue.items == () and queue.total == 1 and queue.counts[S.APPROVED] == 1
    assert world.queries.queue_page(Actor.user(bob)).total == 1
    detail = world.queries.detail(Actor.user(bob), r2.id)
    assert [e.action for e in detail.timeline] == ["request.submitted", "request.approved"]
    with pytest.raises(PermissionDenied):
        world.queries.detail(Actor.user(bob), r1.id)
    with pytest.raises(NotFound):
        world.queries.detail(ADMIN, b.request(bob.id, world.network.id).id)


def _strict(w: World) -> RequestWorkflow:
    """The workflow as production builds it: documentation ASNs are not members."""
    return RequestWorkflow(w.store, w.clock, w.workflow.policy, w.registry)


@pytest.mark.parametrize(
    ("asn", "why"),
    [
        (64512, "private use"),
        (65534, "private use"),
        (4_200_000_000, "private use"),
        (64496, "documentation"),
        (65551, "documentation"),
        (65552, "IANA reserved"),
        (131071, "IANA reserved"),
    ],
)
def test_submit_refuses_an_asn_no_route_server_would_accept(
    world: World, asn: int, why: str
) -> None:
    user = world.add_user("bob", asn)
    before = _counts(world)
    with pytest.raises(NotEligible, match=why):
        _strict(world).submit(user.id, asn, world.network.id, NODE)
    assert _counts(world) == before


def test_public_asns_at_the_edges_of_special_ranges_may_join(world: World) -> None:
    for i, asn in enumerate((64495, 131072, 4_199_999_999)):
        user = world.add_user(f"u{i}", asn)
        req = _strict(world).submit(user.id, asn, world.network.id, f"abcdef01{i:02d}")
        assert req.status is S.PENDING


def test_approve_refuses_a_pending_request_whose_asn_may_not_join(world: World) -> None:
    # Filed while documentation ASNs were allowed; the exchange then turned that off.
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    before = _counts(world)
    with pytest.raises(NotEligible, match="documentation"):
        _strict(world).approve(ADMIN, req.id)
    assert _counts(world) == before
    with world.store() as uow:
        assert uow.requests.get(req.id).status is S.PENDING  # type: ignore[union-attr]


def test_retry_moves_only_a_failed_request(world: World) -> None:
    # A retry of a pending request used to approve it (pending -> approved is a legal
    # move), skipping approve's own checks.
    req = world.workflow.submit(world.user.id, 64500, world.network.id, NODE)
    before = _counts(world)
    with pytest.raises(InvalidTransition, match="pending"):
        world.workflow.retry(ADMIN, req.id)
    assert _counts(world) == before
