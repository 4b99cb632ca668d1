"""Property-based: random sequences of submit/approve/reject/retry/provision/fail/leave from
many actors never break the state machine, the audit trail, the live-request rule or IPAM."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ztix_core.errors import ProviderError, ZtixError
from ztix_core.memory import (
    FixedClock,
    InMemoryFleet,
    InMemoryProvider,
    InMemoryRegistry,
    InMemoryStore,
)
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import Actor, RouteServer
from ztix_core.status import LIVE_STATUSES, TRANSITIONS, RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner, RequestWorkflow
from ztix_core.values import Asn

ADMIN = Actor("user", "admin", is_admin=True)
ASNS = [64500, 64501, 64502, 13335]
NODES = ["abcdef0001", "abcdef0002", "abcdef0003", "abcdef0004", "abcdef0005"]


class Exchange(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store, self.clock = InMemoryStore(), FixedClock()
        self.provider = InMemoryProvider()
        self.fleet = InMemoryFleet(
            [
                RouteServer("rs1", Asn(64999), ipaddress.IPv4Address("10.1.0.1")),
                RouteServer("rs2", Asn(64999)),
            ]
        )
        registry = InMemoryRegistry()
        self.workflow = RequestWorkflow(
            self.store, self.clock, ManualAdminPolicy(), registry, allow_documentation_asns=True
        )
        self.prov = Provisioner(self.store, self.clock, self.provider, self.fleet, registry)
        # a /30 holds 2 hosts, 1 reserved for rs1: exhaustion happens in these runs
        self.networks = [
            b.network(1, ipv4_prefix=ipaddress.IPv4Network("10.1.0.0/30")),
            b.network(2),
        ]
        self.users = [b.user(f"user{i}") for i in range(3)]
        with self.store() as uow:
            for n in self.networks:
                uow.networks.add(n)
                self.provider.ensure_network(n)
            for i, u in enumerate(self.users):
                uow.users.add(u)
                for asn in ASNS[i : i + 2]:
                    uow.asn_links.add(b.link(u.id, asn))
            uow.commit()
        self.request_ids: list[uuid.UUID] = []

    def _snapshot(self) -> Any:
        t = self.store.tables
        return (
            dict(t.requests),
            len(t.audit),
            dict(t.outbox),
            dict(t.memberships),
            dict(t.allocations),
        )

    def _refusal_changes_nothing(self, action: Any) -> None:
        before = self._snapshot()
        try:
            action()
        except ZtixError:
            assert self._snapshot() == before

    def _pick(self, index: int) -> uuid.UUID | None:
        return self.request_ids[index % len(self.request_ids)] if self.request_ids else None

    def _actor(self, who: int, rid: uuid.UUID) -> Actor:
        if who == 0:
            return ADMIN
        with self.store() as uow:
            req = uow.requests.get(rid)
            assert req is not None
            owner = next(u for u in self.users if u.id == req.user_id)
        other = next(u for u in self.users if u.id != req.user_id)
        return Actor.user(owner if who == 1 else other)

    @rule(
        user=st.integers(0, 2),
        asn=st.sampled_from(ASNS),
        net=st.integers(0, 1),
        node=st.sampled_from(NODES),
    )
    def submit(self, user: int, asn: int, net: int, node: str) -> None:
        def act() -> None:
            req = self.workflow.submit(self.users[user].id, asn, self.networks[net].id, node)
            self.request_ids.append(req.id)

        self._refusal_changes_nothing(act)
        self.clock.advance(seconds=1)

    @rule(i=st.integers(0, 8), who=st.integers(0, 2))
    def approve(self, i: int, who: int) -> None:
        if (rid := self._pick(i)) is not None:
            self._refusal_changes_nothing(lambda: self.workflow.approve(self._actor(who, rid), rid))

    @rule(i=st.integers(0, 8), reason=st.sampled_from(["", "no", "  "]))
    def reject(self, i: int, reason: str) -> None:
        if (rid := self._pick(i)) is not None:
            self._refusal_changes_nothing(lambda: self.workflow.reject(ADMIN, rid, reason))

    @rule(i=st.integers(0, 8))
    def retry(self, i: int) -> None:
        if (rid := self._pick(i)) is not None:
            self._refusal_changes_nothing(lambda: self.workflow.retry(ADMIN, rid))

    @rule(i=st.integers(0, 8), who=st.integers(0, 2))
    def leave(self, i: int, who: int) -> None:
        if (rid := self._pick(i)) is not None:
            self._refusal_changes_nothing(lambda: self.workflow.leave(self._actor(who, rid), rid))

    @rule(
        i=st.integers(0, 8),
        fault=st.sampled_from([None, "transient", "permanent"]),
        final=st.booleans(),
        sync=st.booleans(),
    )
    def provision(self, i: int, fault: str | None, final: bool, sync: bool) -> None:
        if (rid := self._pick(i)) is None:
            return
        if fault:
            self.provider.fail_next = ProviderError(
                fault, kind=fault, transient=fault == "transient"
            )
        try:
            self.prov.provision(rid, final_attempt=final, sync=sync)
        except ProviderError as exc:
            assert exc.transient and not final
        self.provider.fail_next = None

    @rule(i=st.integers(0, 8))
    def deprovision(self, i: int) -> None:
        if (rid := self._pick(i)) is not None:
            self.prov.deprovision(rid)

    @rule(server=st.sampled_from(["rs1", "rs2"]), down=st.booleans())
    def route_server(self, server: str, down: bool) -> None:
        (self.fleet.down.add if down else self.fleet.down.discard)(server)

    @rule()
    def sync(self) -> None:
        self.prov.sync_route_servers()

    @invariant()
    def every_change_is_allowed_and_audited_once(self) -> None:
        t = self.store.tables
        for rid, req in t.requests.items():
            chain = [e for e in t.audit if e.target_id == str(rid) and "to" in e.metadata]
            assert chain[0].action == "request.submitted"
            statuses = [RequestStatus(chain[0].metadata["to"])]
            for step in chain[1:]:
                assert RequestStatus(step.metadata["from"]) is statuses[-1]
                target = RequestStatus(step.metadata["to"])
                assert target in TRANSITIONS[statuses[-1]]
                statuses.append(target)
            assert statuses[-1] is req.status

    @invariant()
    def note_reached_statuses(self) -> None:
        for req in self.store.tables.requests.values():
            event(f"reached {req.status.value}")

    @invariant()
    def one_live_request_per_asn_and_network(self) -> None:
        live = [
            (r.asn, r.network_id)
            for r in self.store.tables.requests.values()
            if r.status in LIVE_STATUSES
        ]
        assert len(live) == len(set(live))

    @invariant()
    def addresses_are_never_handed_out_twice(self) -> None:
        t = self.store.tables
        pairs = [(m.network_id, a) for m in t.memberships.values() for a in (m.ipv4, m.ipv6)]
        assert len(pairs) == len(set(pairs))
        assert set(pairs) <= set(t.allocations)
        reserved = ipaddress.IPv4Address("10.1.0.1")
        assert all(a != reserved for _, a in pairs)
        holders = {a.request_id for a in t.allocations.values()}
        for rid in holders:
            assert t.requests[rid].status not in (RequestStatus.REMOVED, RequestStatus.REJECTED)


Exchange.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExchange = Exchange.TestCase
