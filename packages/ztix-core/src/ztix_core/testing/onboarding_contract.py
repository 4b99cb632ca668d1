"""The onboarding storage contract: the set-wise reads and the all-or-nothing write of
:mod:`ztix_core.onboarding_ports`, as every storage backend keeps them.

Use it from an adapter's test module::

    from ztix_core.testing.onboarding_contract import *  # noqa: F403

with a ``uow_factory`` fixture over an EMPTY store, as for the repository contract.
"""

from __future__ import annotations

import ipaddress

import pytest

from ztix_core.errors import DuplicateLiveRequest, DuplicateRecord
from ztix_core.notify_ports import NotificationIntent
from ztix_core.onboarding_ports import OnboardingBatch
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.records import IpAllocation, MemberFacts, NetworkAccess, new_id
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.testing import builders as b
from ztix_core.values import Asn, NodeId

__all__ = [
    "test_onboarding_reads_answer_for_a_whole_chunk",
    "test_onboarding_refused_batch_keeps_nothing",
    "test_onboarding_store_writes_every_row",
]

T0 = b.T0


def test_onboarding_reads_answer_for_a_whole_chunk(uow_factory: UnitOfWorkFactory) -> None:
    alice, bob, carol = b.user("alice"), b.user("bob"), b.user("carol")
    net, other = b.network(1), b.network(2)
    with uow_factory() as uow:
        for u in (alice, bob, carol):
            uow.users.add(u)
        uow.networks.add(net)
        uow.networks.add(other)
        uow.asn_links.add(b.link(alice.id, 64500))
        uow.asn_links.add(b.link(alice.id, 64501))
        uow.asn_links.add(b.link(bob.id, 64502))
        uow.network_access.grant(NetworkAccess(bob.id, other.id))
        live = b.request(alice.id, net.id, 64500, "aaaaaaaaaa")
        failed = b.request(bob.id, net.id, 64502, "bbbbbbbbbb", status=RequestStatus.FAILED)
        elsewhere = b.request(alice.id, other.id, 64501, "cccccccccc")
        for r in (live, failed, elsewhere):
            uow.requests.add(r)
        uow.commit()
    with uow_factory() as uow:
        store = uow.onboarding
        pairs = [(alice.id, Asn(64500)), (alice.id, Asn(64502)), (bob.id, Asn(64502))]
        assert store.linked(pairs) == {(alice.id, Asn(64500)), (bob.id, Asn(64502))}
        assert store.linked([]) == set()
        assert store.network_access([alice.id, bob.id, carol.id]) == {bob.id: {other.id}}
        holding = LIVE_STATUSES | {RequestStatus.FAILED}
        found = store.requests_on(net.id, holding, [Asn(64500)], [NodeId("bbbbbbbbbb")])
        assert {r.id for r in found} == {live.id, failed.id}
        assert found[0] == uow.requests.get(found[0].id)
        assert store.requests_on(net.id, LIVE_STATUSES, [], [NodeId("bbbbbbbbbb")]) == []
        assert store.requests_on(net.id, holding, [Asn(64501)], []) == []
        assert [r.id for r in store.requests_on(other.id, holding, [Asn(64501)], [])] == [
            elsewhere.id
        ]


def _batch(user_id: object, network: object, asn: int, node: str, v4: str) -> OnboardingBatch:
    req = b.request(user_id, network, asn, node, status=RequestStatus.PROVISIONING)  # type: ignore[arg-type]
    m = b.membership(req, v4, f"fd00:1::{v4.rsplit('.', 1)[1]}")
    return OnboardingBatch(
        requests=(req,),
        member_facts=(MemberFacts(req.id, display_name="Example", updated_at=T0),),
        allocations=(IpAllocation(req.network_id, m.ipv4, req.id),),
        memberships=(m,),
        audit=(b.audit_event(str(req.id), "request.submitted", imported=True),),
        outbox=(b.outbox(),),
        notifications=(NotificationIntent(new_id(), "request.submitted", {"asn": asn}, T0),),
    )


def test_onboarding_store_writes_every_row(uow_factory: UnitOfWorkFactory) -> None:
    alice, net = b.user("alice"), b.network(1)
    with uow_factory() as uow:
        uow.users.add(alice)
        uow.networks.add(net)
        uow.commit()
    first = _batch(alice.id, net.id, 64500, "aaaaaaaaaa", "10.1.0.10")
    second = _batch(alice.id, net.id, 64501, "bbbbbbbbbb", "10.1.0.11")
    both = OnboardingBatch(
        **{
            name: getattr(first, name) + getattr(second, name)
            for name in ("requests", "member_facts", "allocations", "memberships", "audit")
        },
        outbox=first.outbox + second.outbox,
        notifications=first.notifications + second.notifications,
    )
    with uow_factory() as uow:
        uow.onboarding.store(both)
        uow.onboarding.store(OnboardingBatch())  # nothing: fine
        uow.commit()
    req = first.requests[0]
    with uow_factory() as uow:
        assert uow.requests.get(req.id) == req
        assert uow.member_facts.get(req.id) == first.member_facts[0]
        assert uow.allocations.for_request(req.id) == list(first.allocations)
        assert uow.memberships.get_for_request(req.id) == first.memberships[0]
        assert [e.id for e in uow.audit.for_target("request", str(req.id))] == [first.audit[0].id]
        assert {m.id for m in uow.outbox.claim_unsent(10)} == {
            first.outbox[0].id,
            second.outbox[0].id,
        }
        assert len(uow.notifications.claim_unexpanded(10)) == 2
        changed = uow.onboarding.mark_authorized([req.id, second.requests[0].id, new_id()], T0)
        assert changed == {req.id, second.requests[0].id}
        assert uow.onboarding.mark_authorized([req.id], T0) == set()  # already authorized
        uow.commit()
    with uow_factory() as uow:
        m = uow.memberships.get_for_request(req.id)
        assert m is not None and m.authorized


def test_onboarding_refused_batch_keeps_nothing(uow_factory: UnitOfWorkFactory) -> None:
    alice, net = b.user("alice"), b.network(1)
    with uow_factory() as uow:
        uow.users.add(alice)
        uow.networks.add(net)
        uow.commit()
    with uow_factory() as uow:
        uow.onboarding.store(_batch(alice.id, net.id, 64500, "aaaaaaaaaa", "10.1.0.10"))
        uow.commit()
    cases = [
        _batch(alice.id, net.id, 64501, "bbbbbbbbbb", "10.1.0.10"),  # address held
        _batch(alice.id, net.id, 64500, "cccccccccc", "10.1.0.12"),  # live request of AS64500
        _batch(alice.id, net.id, 64502, "aaaaaaaaaa", "10.1.0.13"),  # node is a member
    ]
    for batch in cases:
        with uow_factory() as uow:
            with pytest.raises((DuplicateRecord, DuplicateLiveRequest)):
                uow.onboarding.store(batch)
            uow.rollback()
        with uow_factory() as uow:
            assert uow.requests.get(batch.requests[0].id) is None
            assert uow.outbox.claim_unsent(10)[0].id != batch.outbox[0].id
            held = uow.allocations.for_network(net.id)
            assert held == {ipaddress.IPv4Address("10.1.0.10")}
