"""Embedded mode: the actors run in-process on a StubBroker, with the same guarantees."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs
import pytest

from ztix_core.errors import ProviderError
from ztix_core.status import RequestStatus as S
from ztix_core.values import Asn, NodeId
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import ADMIN, FlakyProvider, MemoryExchange, memory_exchange, wait_for

FAST = WorkerSettings(
    min_backoff_ms=10,
    max_backoff_ms=40,
    max_retries=3,
    relay_interval_s=0.01,
    gate_poll_s=0.05,
    worker_timeout_ms=20,
    threads=4,
)


@pytest.fixture
def ex() -> MemoryExchange:
    return memory_exchange()


def _run(ex: MemoryExchange, ws: WorkerSettings = FAST) -> WorkerRuntime:
    runtime = WorkerRuntime(ex.app, ws)
    assert runtime.embedded
    runtime.start()
    wait_for(runtime.started.is_set, what="worker start")
    return runtime


@pytest.fixture
def runtime(ex: MemoryExchange) -> Iterator[WorkerRuntime]:
    rt = _run(ex)
    yield rt
    rt.stop()


def test_approval_becomes_active_on_both_servers(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    rid = ex.approved(64500)
    runtime.drain()
    assert ex.status(rid) is S.ACTIVE
    member = ex.provider.members[(ex.network.id, NodeId(f"{64500:010x}"))]
    assert member.authorized and member.ip_assignments == ("10.1.0.3", "fd00:1::3")
    assert {n: [p.asn.value for p in peers] for n, peers in ex.fleet.applied.items()} == {
        "rs1": [64500],
        "rs2": [64500],
    }
    assert ex.actions(rid) == [
        "request.submitted",
        "request.approved",
        "request.provisioning",
        "membership.allocated",
        "membership.authorized",
        "request.active",
    ]
    with ex.store() as uow:
        assert uow.outbox.pending_count() == 0


def test_burst_of_approvals_coalesces_into_few_applies(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    rids = [ex.approved(20000 + i) for i in range(60)]
    runtime.drain(60)
    assert {ex.status(r) for r in rids} == {S.ACTIVE}
    assert all(len(peers) == 60 for peers in ex.fleet.applied.values())
    # one apply per server per coalesced sync, far below one per request
    assert max(ex.fleet.apply_count.values()) <= 10, ex.fleet.apply_count
    assert runtime.stats.syncs < 30


def test_transient_errors_are_retried_with_backoff_then_succeed() -> None:
    ex = memory_exchange(provider=FlakyProvider(failures=2))
    rt = _run(ex)
    try:
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.ACTIVE
        times = ex.provider.attempt_times  # type: ignore[attr-defined]
        assert len(times) == 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.005 for g in gaps), gaps  # min_backoff 10 ms with jitter
        assert ex.actions(rid).count("request.provisioning") == 1
    finally:
        rt.stop()


def test_last_attempt_fails_the_request_with_an_actionable_error() -> None:
    error = ProviderError(
        "controller timed out",
        kind="timeout",
        transient=True,
        remediation="check the controller's load",
    )
    ex = memory_exchange(provider=FlakyProvider(failures=100, error=error))
    rt = _run(ex)
    try:
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.FAILED
        assert len(ex.provider.attempt_times) == FAST.max_retries + 1  # type: ignore[attr-defined]
        with ex.store() as uow:
            req = uow.requests.get(rid)
            assert req is not None and req.retry_count == 1
            assert req.last_error == "controller: controller timed out"
            failed = [
                e for e in uow.audit.for_target("request", str(rid)) if e.action == "request.failed"
            ]
        assert len(failed) == 1
        assert failed[0].metadata["remediation"] == "check the controller's load"
        assert failed[0].metadata["stage"] == "authorize"
    finally:
        rt.stop()


def test_permanent_error_fails_at_once_and_admin_retry_recovers() -> None:
    error = ProviderError(
        "token refused",
        kind="unauthorized",
        transient=False,
        status=401,
        remediation="reload the controller token",
    )
    ex = memory_exchange(provider=FlakyProvider(failures=1, error=error))
    rt = _run(ex)
    try:
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.FAILED
        assert len(ex.provider.attempt_times) == 1  # type: ignore[attr-defined]
        ex.app.workflow.retry(ADMIN, rid)
        rt.drain()
        assert ex.status(rid) is S.ACTIVE
    finally:
        rt.stop()


def test_route_server_down_fails_naming_it_and_retry_replays_only_it(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    ex.fleet.down.add("rs2")
    rid = ex.approved(64500)
    runtime.drain()
    assert ex.status(rid) is S.FAILED
    with ex.store() as uow:
        req = uow.requests.get(rid)
        assert req is not None and req.last_error is not None
        assert "rs2" in req.last_error and "connection refused" in req.last_error
    assert ex.fleet.apply_count == {"rs1": 1, "rs2": 0}
    ex.fleet.down.clear()
    ex.app.workflow.retry(ADMIN, rid)
    runtime.drain()
    assert ex.status(rid) is S.ACTIVE
    assert ex.fleet.apply_count == {"rs1": 1, "rs2": 1}


def test_gate_holds_messages_until_the_controller_is_ready(ex: MemoryExchange) -> None:
    ex.provider.ready = False
    rt = WorkerRuntime(ex.app, FAST)
    rt.start()
    try:
        rid = ex.approved(64500)
        wait_for(lambda: _sent(ex), what="relay")
        import time

        time.sleep(0.3)
        assert not rt.started.is_set()
        assert ex.status(rid) is S.APPROVED  # waiting, not failed
        ex.provider.ready = True
        wait_for(rt.started.is_set, what="gate open")
        rt.drain()
        assert ex.status(rid) is S.ACTIVE
    finally:
        rt.stop()


def test_gate_closing_at_run_time_holds_new_messages(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    import time

    ex.provider.ready = False
    time.sleep(0.6)  # let the cached "ready" expire
    rid = ex.approved(64500)
    wait_for(lambda: runtime.gate.waits > 0, what="an actor waiting on the gate")
    assert ex.status(rid) is S.APPROVED
    ex.provider.ready = True
    runtime.drain()
    assert ex.status(rid) is S.ACTIVE


def test_leave_removes_peers_member_and_addresses(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    rid = ex.approved(64500)
    runtime.drain()
    ex.app.workflow.leave(ADMIN, rid)
    runtime.drain()
    assert ex.status(rid) is S.REMOVED
    assert ex.fleet.applied == {"rs1": (), "rs2": ()}
    assert (ex.network.id, NodeId(f"{64500:010x}")) not in ex.provider.members
    with ex.store() as uow:
        assert uow.allocations.for_request(rid) == []
        assert uow.memberships.get_for_request(rid) is None
    # the addresses are reusable
    rid2 = ex.approved(64501)
    runtime.drain()
    with ex.store() as uow:
        m = uow.memberships.get_for_request(rid2)
        assert m is not None and str(m.ipv4) == "10.1.0.3"


def _sent(ex: MemoryExchange) -> bool:
    with ex.store() as uow:
        return uow.outbox.pending_count() == 0


def test_start_embedded_ignores_redis_and_serves_the_task_queue_port() -> None:
    from ztix_core.settings import Settings
    from ztix_worker.embedded import DramatiqTaskQueue, start_embedded

    ex = memory_exchange(Settings(storage="memory", redis_url="redis://127.0.0.1:1/0"))
    rt = start_embedded(ex.app, FAST)
    try:
        assert rt.embedded
        wait_for(rt.started.is_set)
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.ACTIVE
        queue = DramatiqTaskQueue(rt)
        queue.dispatch("provision_request", {"request_id": str(rid)}, str(rid))  # idempotent
        rt.drain()
        assert ex.actions(rid).count("request.active") == 1
        with pytest.raises(LookupError):
            queue.dispatch("no_such_topic", {}, "")
    finally:
        rt.stop()


def test_observations_are_recorded_for_the_pages_even_while_the_gate_is_closed(
    ex: MemoryExchange,
) -> None:
    ex.provider.ready = False
    rt = WorkerRuntime(ex.app, attrs.evolve(FAST, observe_interval_s=0.05))
    rt.start()
    try:

        def controller_seen() -> bool:
            with ex.store() as uow:
                seen = uow.observations.controller()
            return seen is not None and not seen.ready

        wait_for(controller_seen, what="the closed gate's reason recorded")
        assert not rt.started.is_set()
        with ex.store() as uow:
            seen = uow.observations.controller()
        assert seen is not None and seen.checks[0].remediation == "start the controller"
        ex.provider.ready = True
        wait_for(rt.started.is_set, what="gate open")
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.ACTIVE

        def sessions() -> list[tuple[str, str]]:
            with ex.store() as uow:
                return [
                    (s.server, s.protocol) for s in uow.observations.sessions_for_asn(Asn(64500))
                ]

        wait_for(lambda: len(sessions()) == 4, what="the member's four sessions recorded")
        assert sessions() == [
            ("rs1", "AS64500_4"),
            ("rs1", "AS64500_6"),
            ("rs2", "AS64500_4"),
            ("rs2", "AS64500_6"),
        ]
        with ex.store() as uow:
            servers = uow.observations.route_servers()
        assert [(o.server, o.reachable) for o in servers] == [("rs1", True), ("rs2", True)]
    finally:
        rt.stop()


def test_member_settings_reach_the_controller_and_route_servers(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    from ztix_core.usecases import MemberSettings

    members = MemberSettings(ex.store, ex.app.clock, ex.fleet.servers)
    rid = ex.approved(64500)
    runtime.drain()
    assert ex.status(rid) is S.ACTIVE
    members.set(ADMIN, rid, display_name="Renamed", max_prefix_v4=321)
    runtime.drain()
    wait_for(
        lambda: (
            [(p.description, p.max_prefix_v4) for p in ex.fleet.applied["rs1"]]
            == [("Renamed", 321)]
        ),
        what="the new name and limit on rs1",
    )
    members.set(ADMIN, rid, ipv4="10.1.0.99", ipv6="fd00:1::99")
    runtime.drain()
    node = (ex.network.id, NodeId(f"{64500:010x}"))
    wait_for(
        lambda: ex.provider.members[node].ip_assignments == ("10.1.0.99", "fd00:1::99"),
        what="the controller's member carrying the new addresses",
    )
    wait_for(
        lambda: all(
            [str(p.ipv4) for p in peers] == ["10.1.0.99"] for peers in ex.fleet.applied.values()
        ),
        what="every route server peering with the new address",
    )
    assert "membership.readdressed" in ex.actions(rid)
