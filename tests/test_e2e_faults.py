"""End to end under faults: nothing lost, nothing duplicated — checked in the database, on
the controller and on both route servers. Services that get stopped are throwaway ones
(their own redis-server, their own PostgreSQL cluster), always cleaned up."""

from __future__ import annotations

import time
from pathlib import Path

from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ADMIN, ExchangeLab, PostgresCluster
from ztix_worker.testing import RedisServer, wait_for


def _approve_all(lab: ExchangeLab, asns: list[int]) -> list:  # type: ignore[type-arg]
    rids = [lab.submit(asn) for asn in asns]
    for rid in rids:
        lab.approve(rid)
    return rids


def _applying(lab: ExchangeLab) -> bool:
    """An apply holds its lock directory on a route server right now."""
    return any((Path(d.config_dir) / ".ztix-lock").exists() for d in lab.daemons.values())


def test_worker_sigkilled_mid_provisioning_then_restarted() -> None:
    # Syncs at least 1.5 s apart and no batch window, so that some requests are active and
    # others still provisioning when the kill lands between two applies.
    with ExchangeLab(
        worker_settings={"sync_min_interval_s": 1.5, "sync_batch_window_s": 0.0}
    ) as lab:
        worker = lab.worker()
        asns = [30000 + i for i in range(40)]
        rids = _approve_all(lab, asns)

        def mid_provisioning() -> bool:
            statuses = lab.statuses(rids).values()
            return sum(s is S.ACTIVE for s in statuses) >= 3 and not _applying(lab)

        wait_for(mid_provisioning, timeout=60, interval=0.002, what="first activations")
        worker.kill()
        assert not _applying(lab), "the kill landed in an apply"
        statuses = lab.statuses(rids)
        assert any(s is not S.ACTIVE for s in statuses.values()), "killed too late"
        worker.start()
        lab.wait_status(rids, S.ACTIVE, timeout=90)
        lab.check_consistent(rids, asns)


def test_worker_sigkilled_during_an_apply_recovers_without_waiting_for_the_lock() -> None:
    # The kill lands while an apply holds its lock on the route servers; the restarted
    # worker sees the owner (this host, a dead pid) and takes the lock over at once instead
    # of failing at stage "lock" until it goes stale (300 s).
    with ExchangeLab(worker_settings={"sync_batch_window_s": 0.0}) as lab:
        worker = lab.worker()
        asns = [33000 + i for i in range(40)]
        rids = _approve_all(lab, asns)
        wait_for(lambda: _applying(lab), timeout=60, interval=0.001, what="an apply")
        worker.kill()
        assert _applying(lab), "the kill left no lock behind"
        started = time.monotonic()
        worker.start()
        lab.wait_status(rids, S.ACTIVE, timeout=90)
        assert time.monotonic() - started < 60
        assert not _applying(lab)
        lab.check_consistent(rids, asns)


def test_route_server_down_then_back_retry_replays_only_it() -> None:
    # rs2 stays down past the fleet's (here short) bound for transient failures
    with ExchangeLab(
        worker_settings={"reconcile_interval_s": 3600.0}, bird={"retry_for_s": 1.0}
    ) as lab:
        lab.worker()
        first = _approve_all(lab, [31000])
        lab.wait_status(first, S.ACTIVE)
        before = lab.applies()
        lab.daemons["rs2"].stop()
        rid = _approve_all(lab, [31001])[0]
        lab.wait_status([rid], S.FAILED)
        error = lab.request(rid).last_error or ""
        assert "rs2" in error and "rs1" not in error, error
        assert lab.applies()["rs1"] == before["rs1"] + 1
        assert lab.peers_on("rs1") == {31000, 31001}
        lab.daemons["rs2"].start()
        lab.app.workflow.retry(ADMIN, rid)
        lab.wait_status([rid], S.ACTIVE)
        after = lab.applies()
        assert after["rs1"] == before["rs1"] + 1, "rs1 was in sync and must not be re-applied"
        assert after["rs2"] == before["rs2"] + 1
        lab.check_consistent([*first, rid], [31000, 31001])


def test_controller_500s_timeouts_and_refused_token(lab: ExchangeLab) -> None:
    lab.worker()
    asns: list[int] = []
    rids: list = []  # type: ignore[type-arg]
    # 500s: retried (inside the provider, then with Dramatiq's backoff) until they stop
    lab.zt.force_errors(500, count=12)
    asns += [32000, 32001, 32002]
    rids += _approve_all(lab, asns[-3:])
    lab.wait_status(rids, S.ACTIVE, timeout=60)
    # timeouts: the controller hangs longer than the client's timeout, then recovers
    lab.zt.set_latency(3.0)
    asns += [32010, 32011]
    rids += _approve_all(lab, asns[-2:])
    time.sleep(4)
    lab.zt.clear_faults()
    lab.wait_status(rids, S.ACTIVE, timeout=60)
    # a refused token closes the gate: requests wait (not failed), then go through
    token = lab.zt.token
    lab.zt.set_token("0" * 24)
    time.sleep(1.0)
    asns += [32020, 32021]
    new = _approve_all(lab, asns[-2:])
    rids += new

    def token_refused() -> bool:
        return any(
            e.metadata.get("check") == "token_accepted"
            for e in _audited(lab, "controller.gate_closed")
        )

    wait_for(token_refused, timeout=20, what="gate closed on the token")
    time.sleep(1.0)
    assert set(lab.statuses(new).values()) <= {S.APPROVED, S.PROVISIONING}
    lab.zt.set_token(token)
    lab.wait_status(rids, S.ACTIVE, timeout=60)
    lab.check_consistent(rids, asns)
    closed = [
        e
        for e in _audited(lab, "controller.gate_closed")
        if e.metadata.get("check") == "token_accepted"
    ]
    assert closed and closed[0].metadata["remediation"]
    assert _audited(lab, "controller.gate_opened")


def _audited(lab: ExchangeLab, action: str) -> list:  # type: ignore[type-arg]
    with lab.app.uow_factory() as uow:
        return uow.audit.recent(action=action)


def test_redis_stopped_during_approvals() -> None:
    redis_server = RedisServer().start()
    try:
        with ExchangeLab(
            redis_url=redis_server.url,
            worker_settings={"stuck_after_s": 6.0, "reconcile_interval_s": 2.0},
        ) as lab:
            lab.worker()
            asns = [33000 + i for i in range(20)]
            rids = _approve_all(lab, asns[:10])
            redis_server.stop()
            rids += _approve_all(lab, asns[10:])
            time.sleep(2)
            with lab.app.uow_factory() as uow:
                assert uow.outbox.pending_count() > 0  # the rows wait
            redis_server.start()  # empty: what it held is gone; the reconciler recovers it
            lab.wait_status(rids, S.ACTIVE, timeout=90)
            lab.check_consistent(rids, asns)
    finally:
        redis_server.stop()


def test_database_restarted_while_the_worker_runs() -> None:
    cluster = PostgresCluster().start()
    try:
        with ExchangeLab(
            admin_url=cluster.admin_url,
            worker_settings={"stuck_after_s": 6.0, "reconcile_interval_s": 2.0},
        ) as lab:
            lab.worker()
            asns = [34000 + i for i in range(20)]
            rids = _approve_all(lab, asns[:10])
            time.sleep(0.3)
            cluster.stop("immediate")
            time.sleep(2)
            cluster.start()
            rids += _approve_all(lab, asns[10:])
            lab.wait_status(rids, S.ACTIVE, timeout=90)
            lab.check_consistent(rids, asns)
    finally:
        cluster.close()


def test_worker_started_with_a_refused_token_waits_and_says_why(lab: ExchangeLab) -> None:
    token = lab.zt.token
    lab.zt.set_token("1" * 24)
    rid = _approve_all(lab, [35000])[0]
    worker = lab.worker()
    wait_for(
        lambda: "controller readiness gate failed: token_accepted" in worker.logs(),
        timeout=30,
        what="the start-up message",
    )
    time.sleep(1.5)
    assert worker.alive()
    assert lab.request(rid).status is S.APPROVED  # not consumed, not failed
    lab.zt.set_token(token)
    lab.wait_status([rid], S.ACTIVE, timeout=30)
    lab.check_consistent([rid], [35000])


def test_member_deauthorized_by_hand_is_reported_and_repaired() -> None:
    settings = {"membership_drift": "repair", "reconcile_interval_s": 1.0}
    with ExchangeLab(worker_settings=settings) as lab:
        lab.worker()
        rid = _approve_all(lab, [36000])[0]
        lab.wait_status([rid], S.ACTIVE)
        member = lab.member(36000)
        assert member is not None
        lab.provider.deauthorize_member(lab.network_id, member.node_id)  # "by hand"

        def repaired() -> bool:
            again = lab.member(36000)
            return bool(again and again.authorized and _audited(lab, "membership.repaired"))

        wait_for(repaired, timeout=30, what="drift repaired")
        drift = _audited(lab, "membership.drift")
        assert drift[0].metadata["problem"] == "deauthorized"
        assert drift[0].target_id == str(rid)
        lab.check_consistent([rid], [36000])
