"""The reconciler: stuck requests re-dispatched, lagging servers re-synced, drift audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from ztix_core.errors import ProviderError
from ztix_core.ports import FileDrift, RouteServerDrift
from ztix_core.records import AsnLink, LinkSource
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN
from ztix_core.usecases import ImportEntry, MemberImport
from ztix_core.values import Asn, NodeId
from ztix_worker.reconciler import Reconciler
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import DriftMode, WorkerSettings
from ztix_worker.testing import MemoryExchange, memory_exchange, wait_for

FAST = WorkerSettings(
    min_backoff_ms=10,
    max_backoff_ms=40,
    relay_interval_s=0.01,
    worker_timeout_ms=20,
    threads=2,
    stuck_after_s=0.2,
    reconcile_interval_s=3600,
)


def _runtime(ex: MemoryExchange, **kw: Any) -> WorkerRuntime:
    rt = WorkerRuntime(ex.app, attrs.evolve(FAST, **kw))
    rt.start()
    wait_for(rt.started.is_set)
    return rt


def test_a_lost_message_is_redispatched_at_once_and_only_once() -> None:
    ex = memory_exchange()
    rid = ex.approved(64500)
    with ex.store() as uow:  # the message was "sent" but lost with a crashed broker
        for m in list(uow.tables.outbox.values()):
            uow.outbox.mark_sent(m.id, ex.app.clock.now())
        uow.commit()
    rt = _runtime(ex, stuck_after_s=3600)
    try:
        rec = rt.reconciler
        # no age threshold: the evidence (no unsent row, no message) is enough
        assert rec.run_once().redispatched == (rid,)
        assert rec.run_once().redispatched == ()  # its new message is on its way
        rt.drain()
        assert ex.status(rid) is S.ACTIVE
        assert ex.actions(rid).count("request.redispatched") == 1
        assert ex.actions(rid).count("request.provisioning") == 1
    finally:
        rt.stop()


def _pending(ex: MemoryExchange) -> int:
    with ex.store() as uow:
        return uow.outbox.pending_count()


def test_a_queued_message_is_never_redispatched_however_old() -> None:
    ex = memory_exchange()
    rt = WorkerRuntime(ex.app, attrs.evolve(FAST, stuck_after_s=0.01))
    rt.start(consume=False)  # the relay publishes; nobody consumes yet (a busy worker)
    try:
        rid = ex.approved(64500)
        wait_for(lambda: _pending(ex) == 0, what="the relay")
        rt.stop_event.wait(0.05)  # older than stuck_after: age must not matter
        assert rt.reconciler.run_once().redispatched == ()
        assert ex.status(rid) is S.APPROVED
    finally:
        rt.stop()


def test_redispatch_memory_is_shared_between_reconcilers() -> None:
    ex = memory_exchange()
    rid = ex.approved(64500)
    with ex.store() as uow:
        for m in list(uow.tables.outbox.values()):
            uow.outbox.mark_sent(m.id, ex.app.clock.now())
        uow.commit()
    first = WorkerRuntime(ex.app, attrs.evolve(FAST, stuck_after_s=3600))
    second = WorkerRuntime(ex.app, attrs.evolve(FAST, stuck_after_s=3600))
    assert first.reconciler.run_once().redispatched == (rid,)
    with ex.store() as uow:  # that message is lost too
        for m in list(uow.tables.outbox.values()):
            uow.outbox.mark_sent(m.id, ex.app.clock.now())
        uow.commit()
    # another instance (the lease moved): it knows from the audit trail
    assert second.reconciler.run_once().redispatched == ()
    assert ex.actions(rid).count("request.redispatched") == 1


def test_a_failed_request_whose_servers_caught_up_is_settled_by_the_reconciler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ex = memory_exchange()
    rt = _runtime(ex)
    try:
        ex.fleet.down.add("rs2")
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.FAILED
        ex.fleet.down.clear()

        def unreachable(*args: object) -> None:
            raise ProviderError("controller unreachable", kind="network", transient=True)

        # rs2 catches up while the controller cannot confirm the member: stays failed
        monkeypatch.setattr(ex.provider, "read_member", unreachable)
        assert rt.reconciler.run_once().sync_requested
        rt.drain()
        assert ex.status(rid) is S.FAILED
        monkeypatch.undo()
        assert rt.reconciler.run_once().recovered == (rid,)
        assert ex.status(rid) is S.ACTIVE
        assert ex.actions(rid)[-1] == "request.active"
    finally:
        rt.stop()


def test_server_behind_is_resynced() -> None:
    ex = memory_exchange()
    rt = _runtime(ex)
    try:
        ex.fleet.down.add("rs2")
        rid = ex.approved(64500)
        rt.drain()
        assert ex.status(rid) is S.FAILED
        ex.fleet.down.clear()
        assert rt.reconciler.run_once().sync_requested
        rt.drain()
        with ex.store() as uow:
            states = {
                s.name: (s.desired_generation, s.applied_generation)
                for s in uow.route_servers.list()
            }
        assert states == {"rs1": (1, 1), "rs2": (1, 1)}
        assert ex.fleet.apply_count == {"rs1": 1, "rs2": 1}
        assert not rt.reconciler.run_once().sync_requested
    finally:
        rt.stop()


def _active(ex: MemoryExchange, rt: WorkerRuntime) -> NodeId:
    rid = ex.approved(64500)
    rt.drain()
    assert ex.status(rid) is S.ACTIVE
    return NodeId(f"{64500:010x}")


def test_drift_is_reported_only_once_in_report_only_mode() -> None:
    ex = memory_exchange()
    rt = _runtime(ex)
    try:
        node = _active(ex, rt)
        ex.provider.deauthorize_member(ex.network.id, node)
        drift = rt.reconciler.run_once().drift
        assert [(d.problem, d.repaired) for d in drift] == [("deauthorized", False)]
        assert not ex.provider.members[(ex.network.id, node)].authorized
        rt.reconciler.run_once()
        with ex.store() as uow:
            events = uow.audit.recent(action="membership.drift")
        assert len(events) == 1 and events[0].metadata["mode"] == "report-only"
    finally:
        rt.stop()


def test_drift_is_repaired_in_repair_mode() -> None:
    ex = memory_exchange()
    rt = _runtime(ex, membership_drift=DriftMode.REPAIR)
    try:
        node = _active(ex, rt)
        key = (ex.network.id, node)
        ex.provider.members[key] = attrs.evolve(
            ex.provider.members[key], ip_assignments=("10.1.0.99",)
        )
        drift = rt.reconciler.run_once().drift
        assert [(d.problem, d.found, d.repaired) for d in drift] == [
            ("addresses_changed", ("10.1.0.99",), True)
        ]
        assert ex.provider.members[key].ip_assignments == ("10.1.0.3", "fd00:1::3")
        ex.provider.members.pop(key)
        assert [d.problem for d in rt.reconciler.run_once().drift] == ["missing"]
        assert ex.provider.members[key].authorized
        assert rt.reconciler.run_once().drift == ()
        with ex.store() as uow:
            assert len(uow.audit.recent(action="membership.repaired")) == 2
    finally:
        rt.stop()


HAND_EDIT = RouteServerDrift("rs1", files=(FileDrift("peers/AS64500.conf", "changed"),))


def test_route_server_drift_is_reported_in_report_only_mode() -> None:
    ex = memory_exchange()
    rt = _runtime(ex)
    try:
        _active(ex, rt)
        ex.fleet.drift["rs1"] = HAND_EDIT
        count = dict(ex.fleet.apply_count)
        assert rt.reconciler.run_once().route_server_drift == ("rs1",)
        assert rt.reconciler.run_once().route_server_drift == ("rs1",)
        assert ex.fleet.apply_count == count  # nothing applied
        with ex.store() as uow:
            assert len(uow.audit.recent(action="route_server.drift")) == 1
            state = uow.route_servers.get("rs1")
            assert state is not None and state.drift == "file peers/AS64500.conf: changed"
    finally:
        rt.stop()


def test_route_server_drift_is_repaired_in_repair_mode() -> None:
    ex = memory_exchange()
    rt = _runtime(ex, membership_drift=DriftMode.REPAIR)
    try:
        _active(ex, rt)
        ex.fleet.drift["rs1"] = HAND_EDIT
        count = dict(ex.fleet.apply_count)
        assert rt.reconciler.run_once().route_server_drift == ("rs1",)
        assert ex.fleet.apply_count == {**count, "rs1": count["rs1"] + 1}
        assert rt.reconciler.run_once().route_server_drift == ()
        with ex.store() as uow:
            assert len(uow.audit.recent(action="route_server.repaired")) == 1
            state = uow.route_servers.get("rs1")
            assert state is not None and state.drift is None
    finally:
        rt.stop()


def test_reconciler_alone_with_a_fixed_cutoff() -> None:
    ex = memory_exchange()
    asked: list[int] = []
    rec = Reconciler(
        ex.app.uow_factory,
        ex.app.clock,
        ex.provider,
        lambda: asked.append(1),
        stuck_after=dt.timedelta(hours=1),
    )
    ex.approved(64500)
    result = rec.run_once()
    assert result.redispatched == () and not result.sync_requested and asked == []


class _Crash(Exception):
    """The import's process dies."""


def test_an_import_cut_short_before_authorizing_is_finished_by_the_reconciler() -> None:
    ex = memory_exchange()
    asns = [20010, 20011, 20012]
    with ex.store() as uow:
        for asn in asns:
            uow.asn_links.add(AsnLink(ex.user.id, Asn(asn), LinkSource.LOCAL))
        uow.commit()
    assert ex.app.provisioner is not None
    importer = MemberImport(ex.app.workflow, ex.app.members, ex.app.provisioner)

    def crash(*_: object, **__: object) -> bool:
        raise _Crash

    original = ex.app.provisioner.authorize
    ex.app.provisioner.authorize = crash  # type: ignore[method-assign]
    entries = [ImportEntry(ex.user.id, asn, f"{asn:010x}") for asn in asns]
    with pytest.raises(_Crash):
        importer.run(ADMIN, ex.network.id, entries)
    ex.app.provisioner.authorize = original  # type: ignore[method-assign]
    with ex.store() as uow:
        filed = [r.id for r in uow.tables.requests.values()]
        assert uow.outbox.pending_count() == 0  # nothing queued: only the evidence is left
    assert {ex.status(rid) for rid in filed} == {S.PROVISIONING}
    rt = _runtime(ex, stuck_after_s=3600)
    try:
        assert set(rt.reconciler.run_once().redispatched) == set(filed)
        rt.drain()
        assert {ex.status(rid) for rid in filed} == {S.ACTIVE}
        for rid in filed:
            assert ex.actions(rid).count("request.provisioning") == 1
    finally:
        rt.stop()
