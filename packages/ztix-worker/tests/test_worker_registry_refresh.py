"""The worker refreshes PeeringDB facts on a schedule: a changed max-prefix reaches both
route servers through the sync the refresh writes to the outbox; PeeringDB down keeps
the members' limits (stale facts) and the worker running."""

from __future__ import annotations

from typing import cast

from ztix_core.memory import InMemoryRegistry
from ztix_core.ports import NetworkFacts
from ztix_core.status import RequestStatus as S
from ztix_core.values import Asn
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings
from ztix_worker.testing import memory_exchange, wait_for

FAST = WorkerSettings(
    min_backoff_ms=10,
    max_backoff_ms=40,
    max_retries=3,
    relay_interval_s=0.01,
    gate_poll_s=0.05,
    worker_timeout_ms=20,
    threads=4,
    registry_check_interval_s=0.05,
)
AS = Asn(64500)


def test_a_peeringdb_change_reaches_the_route_servers_and_an_outage_changes_nothing() -> None:
    ex = memory_exchange()
    registry = cast(InMemoryRegistry, ex.app.registry)
    registry.refresh_interval_s = 0.05  # every check finds the member due
    registry.put(NetworkFacts(AS, "Example", max_prefix_v4=120, max_prefix_v6=30))
    rt = WorkerRuntime(ex.app, FAST)
    rt.start()
    try:
        wait_for(rt.started.is_set, what="worker start")
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.ACTIVE

        def limits() -> set[tuple[str, int, int]]:
            return {
                (server, p.max_prefix_v4, p.max_prefix_v6)
                for server, peers in ex.fleet.applied.items()
                for p in peers
            }

        wait_for(lambda: limits() == {("rs1", 120, 30), ("rs2", 120, 30)}, what="first apply")
        registry.put(NetworkFacts(AS, "Example", max_prefix_v4=777, max_prefix_v6=30))
        wait_for(
            lambda: limits() == {("rs1", 777, 30), ("rs2", 777, 30)},
            what="the new max-prefix applied on both route servers",
        )
        with ex.store() as uow:
            changed = [e for e in uow.audit.recent(50) if e.action == "max_prefix.changed"]
        assert changed[0].metadata["to"] == {"v4": 777, "v6": 30}
        # PeeringDB unreachable: the refreshes go on, the stale limit stays
        registry.unreachable[AS] = "PeeringDB answered 503"
        done = rt.stats.registry_refreshes
        wait_for(lambda: rt.stats.registry_refreshes >= done + 3, what="three more refreshes")
        with ex.store() as uow:
            entry = uow.network_facts.get_many([AS])[AS]
        assert entry.error == "PeeringDB answered 503"
        assert entry.facts is not None and entry.facts.max_prefix_v4 == 777
        assert limits() == {("rs1", 777, 30), ("rs2", 777, 30)}
    finally:
        rt.stop()
