"""With the real Redis broker: relay → actors → coalesced sync across two worker runtimes."""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs
import pytest
import redis

from ztix_core.settings import Settings
from ztix_core.status import RequestStatus as S
from ztix_worker.coalesce import LocalSyncCoordinator, RedisSyncCoordinator
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import (
    REDIS_URL,
    FlakyProvider,
    MemoryExchange,
    RedisServer,
    memory_exchange,
    wait_for,
)

pytestmark = pytest.mark.redis


def _ws(ns: str, **kw: Any) -> WorkerSettings:
    return attrs.evolve(
        WorkerSettings(
            redis_namespace=ns,
            queue=f"{ns}-q",
            min_backoff_ms=20,
            max_backoff_ms=80,
            max_retries=3,
            relay_interval_s=0.01,
            worker_timeout_ms=20,
            threads=4,
        ),
        **kw,
    )


def _exchange(url: str = REDIS_URL, **kw: Any) -> MemoryExchange:
    return memory_exchange(
        Settings(storage="memory", route_server_fleet="memory", redis_url=url), **kw
    )


def _all(ex: MemoryExchange, rids: list, status: S) -> bool:  # type: ignore[type-arg]
    return all(ex.status(r) is status for r in rids)


def test_two_workers_provision_a_burst_with_few_applies(redis_ns: str) -> None:
    ex = _exchange()
    workers = [WorkerRuntime(ex.app, _ws(redis_ns)) for _ in range(2)]
    assert not workers[0].embedded
    for i, w in enumerate(workers):
        w.start(relay=True, reconcile=i == 0)  # two relays on purpose
    try:
        rids = [ex.approved(20000 + i) for i in range(80)]
        wait_for(lambda: _all(ex, rids, S.ACTIVE), timeout=60, what="all active")
        assert max(ex.fleet.apply_count.values()) <= 12, ex.fleet.apply_count
        for rid in rids[:5]:
            acts = ex.actions(rid)
            assert acts.count("request.active") == 1 and acts.count("request.provisioning") == 1
    finally:
        for w in workers:
            w.stop()


def test_transient_errors_retry_through_redis_delay_queue(redis_ns: str) -> None:
    ex = _exchange(provider=FlakyProvider(failures=2))
    rt = WorkerRuntime(ex.app, _ws(redis_ns))
    rt.start()
    try:
        rid = ex.approved(64500)
        wait_for(lambda: ex.status(rid) is S.ACTIVE, timeout=20)
        assert len(ex.provider.attempt_times) == 3  # type: ignore[attr-defined]
    finally:
        rt.stop()


def test_broker_outage_only_delays_provisioning() -> None:
    server = RedisServer().start()
    ex = _exchange(url=server.url)
    rt = WorkerRuntime(ex.app, _ws("outage"))
    rt.start()
    try:
        first = ex.approved(64500)
        wait_for(lambda: ex.status(first) is S.ACTIVE, timeout=20)
        server.stop()
        rids = [ex.approved(64501 + i) for i in range(5)]
        time.sleep(0.5)
        with ex.store() as uow:
            assert uow.outbox.pending_count() == 5  # rows wait
        assert {ex.status(r) for r in rids} == {S.APPROVED}
        server.start()
        wait_for(lambda: _all(ex, rids, S.ACTIVE), timeout=40, what="active after outage")
        with ex.store() as uow:
            assert uow.outbox.pending_count() == 0
        for rid in rids:
            assert ex.actions(rid).count("request.active") == 1
    finally:
        rt.stop()
        server.stop()


def test_sync_lock_serialises_across_coordinators(redis_ns: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    coords = [RedisSyncCoordinator(client, redis_ns, lock_ttl_s=1.0) for _ in range(3)]
    inside: list[int] = []
    overlap: list[bool] = []
    lock = threading.Lock()

    def work(c: RedisSyncCoordinator) -> None:
        for _ in range(3):
            with c.hold():
                with lock:
                    inside.append(1)
                    overlap.append(len(inside) > 1)
                time.sleep(0.02)
                with lock:
                    inside.pop()

    threads = [threading.Thread(target=work, args=(c,)) for c in coords]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [False] * 9


def test_lock_is_renewed_while_a_long_sync_runs(redis_ns: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    a = RedisSyncCoordinator(client, redis_ns, lock_ttl_s=0.3)
    b = RedisSyncCoordinator(client, redis_ns, lock_ttl_s=0.3)
    order: list[str] = []
    with a.hold():

        def enter_b() -> None:
            with b.hold():
                order.append("b")

        t = threading.Thread(target=enter_b)
        t.start()
        time.sleep(1.0)  # > 3 TTLs: without renewal b would get in
        order.append("a-done")
    t.join(5)
    assert order == ["a-done", "b"]


def test_pending_flag_coalesces_requests(redis_ns: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    c = RedisSyncCoordinator(client, redis_ns)
    sent: list[int] = []
    assert [c.request(lambda: sent.append(1)) for _ in range(5)] == [True] + [False] * 4
    with c.hold():
        assert c.request(lambda: sent.append(1))  # a change during a sync gets its own
    assert len(sent) == 2

    def broken() -> None:
        raise redis.ConnectionError("down")

    client.delete(c.pending_key)
    with pytest.raises(redis.ConnectionError):
        c.request(broken)
    assert c.request(lambda: sent.append(1))  # the failed send did not leave the flag set


def _batching_case(
    coordinator: LocalSyncCoordinator | RedisSyncCoordinator,
) -> tuple[float, float, float]:
    """Seconds one sync waited: with nothing in flight, with its own attempt in flight,
    and while another thread's attempt finishes after 0.3 s."""

    def timed_hold() -> float:
        started = time.monotonic()
        with coordinator.hold():
            return time.monotonic() - started

    alone = timed_hold()
    with coordinator.in_flight():
        own = timed_hold()  # embedded mode runs the sync inside the provisioning thread
    release = threading.Event()

    def other() -> None:
        with coordinator.in_flight():
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    time.sleep(0.05)
    threading.Timer(0.3, release.set).start()
    others = timed_hold()
    t.join(5)
    return alone, own, others


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_sync_waits_for_provisioning_in_flight_but_never_for_a_lone_approval(
    redis_ns: str, kind: str
) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    coordinator: LocalSyncCoordinator | RedisSyncCoordinator = (
        LocalSyncCoordinator(batch_window_s=2.0)
        if kind == "local"
        else RedisSyncCoordinator(client, redis_ns, batch_window_s=2.0)
    )
    alone, own, others = _batching_case(coordinator)
    assert alone < 0.1 and own < 0.1
    assert 0.2 < others < 1.5  # waited for the other attempt, not the whole window


def test_the_batch_window_caps_the_wait_and_dead_entries_age_out(redis_ns: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    c = RedisSyncCoordinator(client, redis_ns, batch_window_s=0.3)
    # an attempt left behind by a SIGKILLed worker: an entry that expired a second ago
    client.zadd(c.flying_key, {"dead:1:x": time.time() - 1})
    with c.in_flight():
        pass
    started = time.monotonic()
    blocker = threading.Event()

    def stuck() -> None:
        with c.in_flight():
            blocker.wait(5)

    t = threading.Thread(target=stuck)
    t.start()
    time.sleep(0.05)
    with c.hold():
        waited = time.monotonic() - started
    blocker.set()
    t.join(5)
    assert 0.25 < waited < 1.0  # capped by the window
    assert client.zcard(c.flying_key) == 0  # the dead entry was pruned, ours removed


def test_reconciler_asks_redis_whether_a_message_is_still_on_its_way(redis_ns: str) -> None:
    ex = _exchange()
    rt = WorkerRuntime(ex.app, _ws(redis_ns, stuck_after_s=3600))
    rt.start(consume=False)  # queued in Redis, nobody consuming (a busy worker pool)
    try:
        rid = ex.approved(64500)

        def relayed() -> bool:
            with ex.store() as uow:
                return uow.outbox.pending_count() == 0

        wait_for(relayed, what="the relay")
        assert rt.reconciler.run_once().redispatched == ()  # queued: not stuck
        client = redis.Redis.from_url(REDIS_URL)
        # the queue is lost (a Redis restart without persistence)
        client.delete(f"{redis_ns}:{redis_ns}-q", f"{redis_ns}:{redis_ns}-q.msgs")
        assert rt.reconciler.run_once().redispatched == (rid,)
        wait_for(relayed, what="the relay")
        other = WorkerRuntime(ex.app, _ws(redis_ns, stuck_after_s=3600))
        assert other.reconciler.run_once().redispatched == ()  # the new one is queued
    finally:
        rt.stop()
    assert ex.actions(rid).count("request.redispatched") == 1
