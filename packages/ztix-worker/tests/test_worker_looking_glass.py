"""The looking-glass actor: a refresh from the web (an outbox row) is relayed to the
worker, which reads the member on every route server and stores the snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ztix_core.looking_glass import FilteredRoute
from ztix_core.status import RequestStatus as S
from ztix_core.usecases.looking_glass import LookingGlass
from ztix_core.values import Asn
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import ADMIN, MemoryExchange, memory_exchange, wait_for

FAST = WorkerSettings(
    min_backoff_ms=10,
    max_backoff_ms=40,
    relay_interval_s=0.01,
    gate_poll_s=0.05,
    worker_timeout_ms=20,
)


@pytest.fixture
def ex() -> MemoryExchange:
    return memory_exchange()


@pytest.fixture
def runtime(ex: MemoryExchange) -> Iterator[WorkerRuntime]:
    rt = WorkerRuntime(ex.app, FAST)
    rt.start()
    wait_for(rt.started.is_set, what="worker start")
    yield rt
    rt.stop()


def test_a_refresh_lands_as_the_members_snapshot(
    ex: MemoryExchange, runtime: WorkerRuntime
) -> None:
    rid = ex.approved(64500)
    runtime.drain()
    assert ex.status(rid) is S.ACTIVE
    ex.fleet.filtered[64500] = (
        FilteredRoute("10.10.0.0/16", "AS64500_v4", ("bogon prefix",), (3,)),
    )
    lg = LookingGlass(ex.app.uow_factory, ex.app.clock)  # the web's: no fleet
    assert lg.refresh(ADMIN, rid).queued
    runtime.drain()
    view = lg.view(ADMIN, rid)
    assert view.snapshot is not None and not view.pending and view.observed_at is not None
    assert [s.server for s in view.snapshot.servers] == ["rs1", "rs2"]
    assert view.snapshot.servers[0].filtered_routes[0].reasons == ("bogon prefix",)
    assert ex.fleet.looking_glass_calls == [Asn(64500)]


def test_a_message_with_a_bad_asn_is_dropped(ex: MemoryExchange, runtime: WorkerRuntime) -> None:
    runtime.actors.looking_glass.send("AS-nonsense")
    runtime.drain()
    assert ex.fleet.looking_glass_calls == []
    with ex.store() as uow:
        assert not ex.store.tables.looking_glasses
        assert uow.outbox.pending_count() == 0
