"""End to end: submit → approve → active on the controller and both route servers; bursts;
leaving. Real PostgreSQL, Redis, controller emulator, BIRD over SSH, ``ztix worker``."""

from __future__ import annotations

import ipaddress
import json
import time

from ztix_core.status import RequestStatus as S
from ztix_core.values import Asn
from ztix_worker.lab import ADMIN, ExchangeLab
from ztix_worker.testing import wait_for

TRANSITIONS = ["request.submitted", "request.approved", "request.provisioning", "request.active"]
STATUS_ACTIONS = {f"request.{s.value}" for s in S} | {"request.submitted"}


def transitions(lab: ExchangeLab, rid: object) -> list[str]:
    """The status changes in a request's audit trail, in order."""
    return [a for a in lab.actions(rid) if a in STATUS_ACTIONS]  # type: ignore[arg-type]


def test_submit_approve_active_everywhere(lab: ExchangeLab) -> None:
    lab.worker()
    rid = lab.submit(21000)
    lab.approve(rid)
    lab.wait_status([rid], S.ACTIVE, timeout=60)
    with lab.app.uow_factory() as uow:
        membership = uow.memberships.get_for_request(rid)
    assert membership is not None and membership.authorized
    member = lab.member(21000)
    assert member is not None and member.authorized
    assert {str(ipaddress.ip_address(a)) for a in member.ip_assignments} == {
        str(membership.ipv4),
        str(membership.ipv6),
    }
    assert membership.ipv4 in ipaddress.ip_network("10.77.0.0/22")
    assert str(membership.ipv4) not in ("10.77.0.1", "10.77.0.2")  # the route servers'
    for server in ("rs1", "rs2"):
        assert lab.peers_on(server) == {21000}, server
    actions = lab.actions(rid)
    assert [a for a in actions if a in STATUS_ACTIONS] == TRANSITIONS
    assert actions.count("membership.authorized") == 1
    loggers = set()
    for line in lab.workers[0].logs().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("request_id") == str(rid):
                loggers.add(record["logger"].split(".")[0])
    # one request id from the outbox through the actor, the controller's HTTP client and
    # the route servers' SSH sessions
    assert {"ztix_worker", "httpx", "asyncssh"} <= loggers, loggers


def test_burst_of_200_approvals_coalesces(lab: ExchangeLab) -> None:
    asns = [20000 + i for i in range(200)]
    rids = [lab.submit(asn) for asn in asns]
    # two worker instances: two outbox relays on one database, three consumer processes
    lab.worker("--processes", "2")
    lab.worker()
    started = time.monotonic()
    for rid in rids:
        lab.approve(rid)
    lab.wait_status(rids, S.ACTIVE, timeout=120)
    took = time.monotonic() - started
    applies = lab.applies()
    print(f"\n200 approvals → all active in {took:.1f} s; applies per route server: {applies}")
    assert all(0 < n <= 40 for n in applies.values()), applies
    for server in ("rs1", "rs2"):
        assert lab.peers_on(server) == set(asns)
    with lab.app.uow_factory() as uow:
        memberships = uow.memberships.list()
        assert len(memberships) == 200
        assert len({m.ipv4 for m in memberships}) == 200
        assert len({m.ipv6 for m in memberships}) == 200
    for rid in rids[::20]:
        assert transitions(lab, rid) == TRANSITIONS
    lab.check_consistent(rids, asns)
    relayed = [
        json.loads(line)["msg"].split()[3]
        for worker in lab.workers
        for line in worker.logs().splitlines()
        if line.startswith("{") and "relayed outbox message" in line
    ]
    assert len(relayed) == 200 and len(set(relayed)) == 200  # each row published once


def test_leave_removes_everything_and_frees_addresses(lab: ExchangeLab) -> None:
    lab.worker()
    rid = lab.submit(21000)
    lab.approve(rid)
    lab.wait_status([rid], S.ACTIVE)
    before = lab.request(rid)
    with lab.app.uow_factory() as uow:
        held = uow.memberships.get_for_request(rid)
    assert held is not None and before.status is S.ACTIVE
    lab.app.workflow.leave(ADMIN, rid)
    lab.wait_status([rid], S.REMOVED)
    for server in ("rs1", "rs2"):
        assert lab.peers_on(server) == set()
    member = lab.member(21000)
    assert member is None or not member.authorized
    with lab.app.uow_factory() as uow:
        assert uow.memberships.get_for_request(rid) is None
        assert uow.allocations.for_request(rid) == []
    actions = lab.actions(rid)
    assert actions.count("request.deprovisioning") == 1 and actions.count("request.removed") == 1
    assert actions.count("membership.removed") == 1
    # the same addresses are handed out again
    rid2 = lab.submit(21001)
    lab.approve(rid2)
    lab.wait_status([rid2], S.ACTIVE)
    with lab.app.uow_factory() as uow:
        again = uow.memberships.get_for_request(rid2)
    assert again is not None and again.ipv4 == held.ipv4
    # SIGTERM: the worker finishes what it holds and exits cleanly
    proc = lab.workers[0]
    assert proc.proc is not None
    popen = proc.proc
    proc.stop(timeout=30)
    assert popen.returncode == 0
    assert "ztix worker stopped" in proc.logs()


def test_embedded_worker_without_redis(lab: ExchangeLab) -> None:
    """No REDIS_URL: the same actors run in-process (single-box installs, the demo)."""
    worker = lab.worker(env={"REDIS_URL": ""})
    asns = [22000 + i for i in range(10)]
    rids = [lab.submit(asn) for asn in asns]
    for rid in rids:
        lab.approve(rid)
    lab.wait_status(rids, S.ACTIVE, timeout=60)
    lab.check_consistent(rids, asns)
    assert "embedded (no REDIS_URL)" in worker.logs()


def test_a_member_the_route_servers_refuse_fails_alone(lab: ExchangeLab) -> None:
    # The exchange admits documentation ASNs (a lab setting); these BIRD route servers do
    # not (their policy rejects them as bogons): that member must fail alone, with the
    # reason, while the members before and after it are configured everywhere.
    lab.worker()
    before = lab.submit(21100)
    lab.approve(before)
    lab.wait_status([before], S.ACTIVE, timeout=60)
    bad = lab.submit(64500)
    after = lab.submit(21101)
    lab.approve(bad)
    lab.approve(after)
    lab.wait_status([after], S.ACTIVE, timeout=60)
    lab.wait_status([bad], S.FAILED, timeout=60)
    error = lab.request(bad).last_error or ""
    assert "route servers refuse this member" in error and "bogon" in error, error
    for server in ("rs1", "rs2"):
        assert lab.peers_on(server) == {21100, 21101}, server
    assert lab.request(before).status is S.ACTIVE


def test_the_worker_records_real_bgp_sessions_and_an_unreachable_server() -> None:
    """What the pages show comes from real BIRD: the member's protocols on both servers
    (not established: no member router runs in this lab), then a stopped BIRD recorded as
    unreachable with BIRD's own reason, and no stale sessions kept for it."""
    with ExchangeLab(worker_settings={"observe_interval_s": 0.5}) as lab:
        _observe_real_sessions(lab)


def _observe_real_sessions(lab: ExchangeLab) -> None:
    lab.worker()
    rid = lab.submit(21010)
    lab.approve(rid)
    lab.wait_status([rid], S.ACTIVE, timeout=60)

    def seen() -> list[tuple[str, str, str]]:
        with lab.app.uow_factory() as uow:
            found = uow.observations.sessions_for_asn(Asn(21010))
        return [(s.server, s.protocol, s.state) for s in found]

    wait_for(lambda: {s for s, _, _ in seen()} == {"rs1", "rs2"}, timeout=60, what="sessions")
    rows = seen()
    assert all(state != "up" for _, _, state in rows), rows
    assert {p for _, p, _ in rows if _ == "rs1"} == {p for _, p, _ in rows if _ == "rs2"}
    lab.daemons["rs2"].stop()

    def rs2_down() -> bool:
        with lab.app.uow_factory() as uow:
            by_name = {o.server: o for o in uow.observations.route_servers()}
        return "rs2" in by_name and not by_name["rs2"].reachable

    wait_for(rs2_down, timeout=60, what="rs2 recorded unreachable")
    with lab.app.uow_factory() as uow:
        by_name = {o.server: o for o in uow.observations.route_servers()}
    assert by_name["rs1"].reachable and by_name["rs1"].sessions_total >= 1
    assert by_name["rs2"].message, by_name["rs2"]
    assert {s for s, _, _ in seen()} == {"rs1"}
