"""Concurrency with real threads: racing deciders, racing submissions, racing relays.

On PostgreSQL the races are made to overlap for certain: either every thread is held at a
barrier after its read, or one transaction holds its write open until the other is seen
waiting on its lock. SQLite serialises writers (units begin IMMEDIATE); the same use-case
races must give the same answers there.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine, text

from ztix_adapters_sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from ztix_core.errors import Conflict, DuplicateLiveRequest, DuplicateRecord, InvalidTransition
from ztix_core.memory import FixedClock, InMemoryRegistry
from ztix_core.policies import ManualAdminPolicy
from ztix_core.ports import RequestFilter
from ztix_core.records import Actor, JoinRequest, User, ZtNetwork
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import RequestWorkflow

THREADS = 6


def _setup(factory: SqlUnitOfWorkFactory) -> tuple[User, User, ZtNetwork]:
    operator, admin, network = b.user("op"), b.user("admin", is_admin=True), b.network()
    with factory() as uow:
        uow.users.add(operator)
        uow.users.add(admin)
        uow.networks.add(network)
        uow.asn_links.add(b.link(operator.id, 64500))
        uow.commit()
    return operator, admin, network


def _workflow(factory: Callable[[], Any]) -> RequestWorkflow:
    return RequestWorkflow(
        factory,
        FixedClock(),
        ManualAdminPolicy(),
        InMemoryRegistry(),
        allow_documentation_asns=True,
    )


class _PauseAfterGet:
    """Wraps a unit's requests repository: every reader waits at the barrier after its read,
    so all racers decide on the same stale status."""

    def __init__(self, inner: Any, barrier: threading.Barrier) -> None:
        self._inner = inner
        self._barrier = barrier

    def get(self, request_id: uuid.UUID) -> JoinRequest | None:
        found: JoinRequest | None = self._inner.get(request_id)
        self._barrier.wait(timeout=20)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _pausing(factory: SqlUnitOfWorkFactory, barrier: threading.Barrier) -> Callable[[], Any]:
    def make() -> SqlUnitOfWork:
        uow = factory()
        uow.requests = _PauseAfterGet(uow.requests, barrier)  # type: ignore[assignment]
        return uow

    return make


def _race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs at once; each result is its return value or the exception it raised."""

    def run(job: Callable[[], Any]) -> Any:
        try:
            return job()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _wait_for_lock_waiter(engine: Engine, timeout: float = 10.0) -> None:
    """Block until some PostgreSQL backend waits on a lock."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting.scalar_one() > 0:
                return
            conn.rollback()
            time.sleep(0.01)
    raise AssertionError("no transaction ever waited on the lock")


def test_racing_approve_and_reject_have_exactly_one_winner(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    operator, admin, network = _setup(sql_factory)
    request = _workflow(sql_factory).submit(operator.id, 64500, network.id, "abcdef0001")
    barrier = threading.Barrier(THREADS)
    # SQLite takes the write lock at the first statement, so there only one racer reads at a
    # time; the barrier would deadlock it.
    racing = (
        _pausing(sql_factory, barrier)
        if sql_factory.engine.dialect.name == "postgresql"
        else sql_factory
    )
    workflow, actor = _workflow(racing), Actor.user(admin)
    jobs: list[Callable[[], Any]] = []
    for i in range(THREADS):
        if i % 2:
            jobs.append(lambda: workflow.approve(actor, request.id))
        else:
            jobs.append(lambda: workflow.reject(actor, request.id, "no"))
    results = _race(jobs)
    winners = [r for r in results if isinstance(r, JoinRequest)]
    losers = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(winners) == 1, results
    assert len(losers) == THREADS - 1, results
    final = winners[0].status.value
    assert {loser.current_status for loser in losers} == {final}
    with sql_factory() as uow:
        stored = uow.requests.get(request.id)
        assert stored is not None and stored.status.value == final
        decisions = [
            e
            for e in uow.audit.for_target("request", str(request.id))
            if e.action != "request.submitted"
        ]
        assert [e.action for e in decisions] == [f"request.{final}"]
        assert uow.outbox.pending_count() == (1 if final == "approved" else 0)


def test_racing_identical_submissions_make_one_request(sql_factory: SqlUnitOfWorkFactory) -> None:
    operator, _, network = _setup(sql_factory)
    workflow = _workflow(sql_factory)
    results = _race(
        [lambda: workflow.submit(operator.id, 64500, network.id, "abcdef0001")] * THREADS
    )
    made = [r for r in results if isinstance(r, JoinRequest)]
    assert len(made) == 1, results
    refused = [r for r in results if not isinstance(r, JoinRequest)]
    assert all(isinstance(r, Conflict) for r in refused), results
    # Whichever rule caught it (same node, or the live slot), it names the winner.
    assert {r.details["existing_request_id"] for r in refused} == {str(made[0].id)}
    with sql_factory() as uow:
        assert uow.requests.count(RequestFilter()) == 1


def _hold_then_commit(first: SqlUnitOfWork, engine: Engine, second: Callable[[], Any]) -> Any:
    """Run ``second`` in a thread while ``first`` holds its writes; commit ``first`` once
    ``second`` waits on its lock; return what ``second`` returned or raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(second())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for_lock_waiter(engine)
    first.commit()
    thread.join(timeout=20)
    assert not thread.is_alive()
    return outcome[0]


def test_live_slot_race_names_the_committed_request(
    pg_factory: SqlUnitOfWorkFactory,
) -> None:
    operator, _, network = _setup(pg_factory)
    first = b.request(operator.id, network.id)
    second = b.request(operator.id, network.id, node="abcdef0002")

    def add_second() -> None:
        with pg_factory() as uow:
            uow.requests.add(second)  # passes the pre-check, then waits on the index
            uow.commit()

    with pg_factory() as uow:
        uow.requests.add(first)
        result = _hold_then_commit(uow, pg_factory.engine, add_second)
    assert isinstance(result, DuplicateLiveRequest)
    assert result.existing_id == first.id
    with pg_factory() as uow:
        assert [r.id for r in uow.requests.query(RequestFilter())] == [first.id]


def test_compare_and_set_race_reports_the_status_now_stored(
    pg_factory: SqlUnitOfWorkFactory,
) -> None:
    operator, _, network = _setup(pg_factory)
    request = b.request(operator.id, network.id)
    with pg_factory() as uow:
        uow.requests.add(request)
        uow.commit()

    def reject() -> None:
        with pg_factory() as uow:
            rejected = attrs.evolve(request, status=RequestStatus.REJECTED)
            uow.requests.update(rejected, expected_status=RequestStatus.PENDING)
            uow.commit()

    with pg_factory() as uow:
        approved = attrs.evolve(request, status=RequestStatus.APPROVED)
        uow.requests.update(approved, expected_status=RequestStatus.PENDING)
        result = _hold_then_commit(uow, pg_factory.engine, reject)
    assert isinstance(result, InvalidTransition)
    assert result.current_status == "approved"


def test_username_race_is_a_duplicate(pg_factory: SqlUnitOfWorkFactory) -> None:
    def add_other() -> None:
        with pg_factory() as uow:
            uow.users.add(b.user("ALICE"))
            uow.commit()

    with pg_factory() as uow:
        uow.users.add(b.user("alice"))
        result = _hold_then_commit(uow, pg_factory.engine, add_other)
    assert isinstance(result, DuplicateRecord)
    with pg_factory() as uow:
        assert [u.username for u in uow.users.list()] == ["alice"]


def test_concurrent_relays_never_claim_a_message_twice(sql_factory: SqlUnitOfWorkFactory) -> None:
    messages = [b.outbox(at=b.T0) for _ in range(30)]
    with sql_factory() as uow:
        for m in messages:
            uow.outbox.add(m)
        uow.commit()
    postgres = sql_factory.engine.dialect.name == "postgresql"
    # On PostgreSQL every relay holds its claim while the others claim theirs.
    barrier = threading.Barrier(3) if postgres else None
    sent: list[uuid.UUID] = []
    lock = threading.Lock()

    def relay() -> int:
        batches = 0
        while True:
            with sql_factory() as uow:
                claimed = uow.outbox.claim_unsent(4)
                if barrier is not None and batches == 0:
                    barrier.wait(timeout=20)
                if not claimed:
                    return batches
                for m in claimed:
                    uow.outbox.mark_sent(m.id, b.T0)
                uow.commit()
            with lock:
                sent.extend(m.id for m in claimed)
            batches += 1

    results = _race([relay, relay, relay])
    assert all(isinstance(r, int) for r in results), results
    assert sorted(sent) == sorted(m.id for m in messages)  # each exactly once
    with sql_factory() as uow:
        assert uow.outbox.pending_count() == 0


@pytest.mark.parametrize("threads", [4])
def test_relay_claims_are_disjoint_while_held(
    pg_factory: SqlUnitOfWorkFactory, threads: int
) -> None:
    with pg_factory() as uow:
        for _ in range(threads * 3):
            uow.outbox.add(b.outbox(at=b.T0))
        uow.commit()
    barrier = threading.Barrier(threads)

    def claim() -> list[uuid.UUID]:
        with pg_factory() as uow:
            ids = [m.id for m in uow.outbox.claim_unsent(3)]
            barrier.wait(timeout=20)  # nobody commits before everyone has claimed
            return ids

    claims = _race([claim] * threads)
    flat = [i for c in claims for i in c]
    assert len(flat) == threads * 3 == len(set(flat)), claims
