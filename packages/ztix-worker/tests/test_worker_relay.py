"""The outbox relay: publish, mark sent, wait through broker outages, never double-claim."""

from __future__ import annotations

import threading
from typing import cast

import pytest

from ztix_core.memory import InMemoryStore, RecordingQueue
from ztix_core.memory.clock import SystemClock
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.records import JsonDict, OutboxMessage, new_id
from ztix_worker.relay import OutboxRelay, UnknownTopic

CLOCK = SystemClock()


def _store_with(n: int, topic: str = "provision_request") -> InMemoryStore:
    store = InMemoryStore()
    with store() as uow:
        for i in range(n):
            uow.outbox.add(
                OutboxMessage(
                    new_id(), topic, {"request_id": f"r{i}"}, CLOCK.now(), correlation_id=f"r{i}"
                )
            )
        uow.commit()
    return store


def _uows(store: InMemoryStore) -> UnitOfWorkFactory:
    return cast(UnitOfWorkFactory, store)


def _pending(store: InMemoryStore) -> int:
    with store() as uow:
        return uow.outbox.pending_count()


def test_relay_publishes_in_order_and_marks_sent() -> None:
    store, queue = _store_with(3), RecordingQueue()
    result = OutboxRelay(_uows(store), CLOCK, queue.dispatch).run_once()
    assert (result.sent, result.failed) == (3, 0)
    assert [c for _, _, c in queue.sent] == ["r0", "r1", "r2"]
    assert _pending(store) == 0
    assert OutboxRelay(_uows(store), CLOCK, queue.dispatch).run_once().sent == 0


def test_broker_outage_only_delays_delivery() -> None:
    store, queue = _store_with(3), RecordingQueue()
    queue.down = True
    relay = OutboxRelay(_uows(store), CLOCK, queue.dispatch)
    result = relay.run_once()
    assert (result.sent, result.failed) == (0, 1)
    assert _pending(store) == 3
    with store() as uow:
        attempts = sorted(m.attempts for m in uow.tables.outbox.values())
    assert attempts == [0, 0, 1]
    queue.down = False
    assert relay.run_once().sent == 3
    assert _pending(store) == 0
    assert len(queue.sent) == 3


def test_unknown_topic_is_dropped_with_an_audit_event_and_does_not_block() -> None:
    store, queue = _store_with(1, topic="no_such_topic"), RecordingQueue()
    with store() as uow:
        uow.outbox.add(
            OutboxMessage(
                new_id(), "provision_request", {"request_id": "x"}, CLOCK.now(), correlation_id="x"
            )
        )
        uow.commit()

    def publish(topic: str, payload: JsonDict, cid: str) -> None:
        if topic != "provision_request":
            raise UnknownTopic(topic)
        queue.dispatch(topic, payload, cid)

    result = OutboxRelay(_uows(store), CLOCK, publish).run_once()
    assert (result.sent, result.dropped) == (1, 1)
    with store() as uow:
        events = uow.audit.recent(action="outbox.undeliverable")
    assert len(events) == 1 and events[0].metadata["topic"] == "no_such_topic"


def test_several_relays_never_publish_a_row_twice() -> None:
    store, queue = _store_with(300), RecordingQueue()
    relays = [OutboxRelay(_uows(store), CLOCK, queue.dispatch, batch=7) for _ in range(4)]

    def drain(relay: OutboxRelay) -> None:
        while relay.run_once().sent:
            pass

    threads = [threading.Thread(target=drain, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [c for _, _, c in queue.sent]
    assert len(ids) == 300 and len(set(ids)) == 300


def test_run_forever_backs_off_during_an_outage_and_stops() -> None:
    store, queue = _store_with(2), RecordingQueue()
    queue.down = True
    stop = threading.Event()
    relay = OutboxRelay(_uows(store), CLOCK, queue.dispatch, interval_s=0.01, max_backoff_s=0.05)
    thread = threading.Thread(target=relay.run_forever, args=(stop,))
    thread.start()
    stop.wait(0.2)
    queue.down = False
    for _ in range(100):
        if _pending(store) == 0:
            break
        stop.wait(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert _pending(store) == 0 and len(queue.sent) == 2


def test_a_storage_outage_is_logged_once_and_backed_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    store = _store_with(1)
    calls = {"n": 0}
    stop = threading.Event()

    def broken() -> object:
        calls["n"] += 1
        if calls["n"] >= 6:
            stop.set()
        raise ConnectionError("database unreachable")

    relay = OutboxRelay(
        cast(UnitOfWorkFactory, broken),
        CLOCK,
        RecordingQueue().dispatch,
        interval_s=0.001,
        max_backoff_s=0.004,
    )
    caplog.set_level(logging.DEBUG, logger="ztix_worker.relay")
    relay.run_forever(stop)
    failures = [r for r in caplog.records if "relay pass failed" in r.getMessage()]
    assert calls["n"] == 6 and len(failures) == 6
    assert [r.levelno for r in failures] == [logging.WARNING] + [logging.DEBUG] * 5
    assert _pending(store) == 1
