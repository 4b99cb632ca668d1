"""Inline syncs: a lone approval runs its route-server sync in its own thread (one trip
through the queue less); a burst still coalesces through queued syncs."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial

import pytest
import redis

from ztix_core.settings import Settings
from ztix_core.status import RequestStatus as S
from ztix_worker.coalesce import LocalSyncCoordinator, RedisSyncCoordinator
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import REDIS_URL, MemoryExchange, memory_exchange, wait_for

Coordinator = LocalSyncCoordinator | RedisSyncCoordinator


@pytest.fixture(params=["local", "redis"])
def coordinator(request: pytest.FixtureRequest, redis_ns: str) -> Iterator[Coordinator]:
    if request.param == "local":
        yield LocalSyncCoordinator(batch_window_s=2.0)
    else:
        yield RedisSyncCoordinator(redis.Redis.from_url(REDIS_URL), redis_ns, batch_window_s=2.0)


def _in_thread(body: Callable[[], object], timeout: float = 5.0) -> None:
    """Run ``body`` in another thread; fail if it does not finish within ``timeout``."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the other thread is blocked"
    assert not errors, errors


def test_alone_it_holds_clears_the_flag_and_hold_inside_is_reentrant(
    coordinator: Coordinator,
) -> None:
    sent: list[int] = []
    assert coordinator.request(lambda: sent.append(1))  # a sync is pending
    started = time.monotonic()
    with coordinator.try_hold() as held:
        assert held
        with coordinator.hold():  # the Provisioner's own sync_lock: no second acquire
            pass
        # the flag was cleared on taking the lock: a change from now on asks again
        assert coordinator.request(lambda: sent.append(2))
    assert time.monotonic() - started < 1.0
    assert sent == [1, 2]

    def another_sync() -> None:
        with coordinator.hold():
            pass

    _in_thread(another_sync)  # released: another sync may hold it


def test_it_never_waits_for_another_sync(coordinator: Coordinator) -> None:
    inside, release = threading.Event(), threading.Event()

    def other_sync() -> None:
        with coordinator.hold():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other_sync)
    t.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with coordinator.try_hold() as held:
            assert not held
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        t.join(5)


def test_it_leaves_a_burst_to_the_queued_sync(coordinator: Coordinator) -> None:
    inside, release = threading.Event(), threading.Event()

    def other_attempt() -> None:
        with coordinator.in_flight():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other_attempt)
    t.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with coordinator.try_hold() as held:
            assert not held  # another approval is still being provisioned
        assert time.monotonic() - started < 0.5  # not the 2 s batch window
    finally:
        release.set()
        t.join(5)
    with coordinator.try_hold() as held:
        assert held


def test_it_keeps_the_minimum_interval(redis_ns: str) -> None:
    local = LocalSyncCoordinator(min_interval_s=30.0)
    remote = RedisSyncCoordinator(redis.Redis.from_url(REDIS_URL), redis_ns, min_interval_s=30.0)
    for c in (local, remote):
        with c.hold():
            pass
        with c.try_hold() as held:
            assert not held  # the last sync started less than 30 s ago


def _ws(ns: str) -> WorkerSettings:
    return WorkerSettings(
        redis_namespace=ns,
        queue=f"{ns}-q",
        min_backoff_ms=20,
        max_backoff_ms=80,
        max_retries=3,
        relay_interval_s=0.01,
        worker_timeout_ms=20,
        threads=4,
    )


def _active(ex: MemoryExchange, rid: uuid.UUID) -> bool:
    return ex.status(rid) is S.ACTIVE


@pytest.mark.redis
def test_a_lone_approval_syncs_without_a_queued_sync_message(redis_ns: str) -> None:
    ex = memory_exchange(
        Settings(storage="memory", route_server_fleet="memory", redis_url=REDIS_URL)
    )
    rt = WorkerRuntime(ex.app, _ws(redis_ns))
    rt.start()
    try:
        for asn in (64500, 64501):
            rid = ex.approved(asn)
            wait_for(partial(_active, ex, rid), timeout=20, what="active")
        assert isinstance(rt.coordinator, RedisSyncCoordinator)
        assert rt.coordinator.sent == 0  # no sync message: each ran in its own thread
        assert rt.stats.syncs == 2
        assert ex.fleet.apply_count == {"rs1": 2, "rs2": 2}
    finally:
        rt.stop()
