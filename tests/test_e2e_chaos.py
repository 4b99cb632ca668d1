"""Faults in waves, and every request still ends active with no admin action.

Two worker instances (each with two consumer processes) on one PostgreSQL and one
throwaway Redis, two real BIRD route servers over SSH. While three waves of requests are
provisioned: SIGKILLs of a random worker, a SIGKILL of the worker that holds a route
server's apply lock (whatever stage the apply is in), a Redis restart that loses every
queued message, and a BIRD daemon down while an apply needs it (back once the fleet
retries). Nobody presses retry. The test prints its fault schedule (with the seed;
``ZTIX_CHAOS_SEED`` replays one) and the time from the last fault to convergence.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from pathlib import Path

import pytest

from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ExchangeLab
from ztix_worker.testing import RedisServer, WorkerProcess, wait_for

WAVE = 25


def _lock_owner_pid(lab: ExchangeLab) -> int | None:
    """The pid in a route server's apply lock (``host:pid:tag``), if one is held now."""
    for daemon in lab.daemons.values():
        try:
            owner = (Path(daemon.config_dir) / ".ztix-lock" / "owner").read_text().strip()
        except OSError:
            continue
        try:
            return int(owner.split(":")[1])
        except (IndexError, ValueError):
            continue
    return None


def _holder(workers: list[WorkerProcess], pid: int) -> WorkerProcess | None:
    for w in workers:
        if w.proc is None:
            continue
        try:
            if os.getpgid(pid) == w.proc.pid:
                return w
        except ProcessLookupError:
            return None
    return None


def test_faults_in_waves_converge_without_an_admin(capsys: pytest.CaptureFixture[str]) -> None:
    seed = int(os.environ.get("ZTIX_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    schedule: list[tuple[float, str]] = []
    t0 = time.monotonic()

    def fault(text: str) -> None:
        schedule.append((time.monotonic() - t0, text))

    redis_server = RedisServer().start()
    try:
        with ExchangeLab(
            redis_url=redis_server.url,
            worker_settings={"reconcile_interval_s": 2.0, "stuck_after_s": 10.0},
        ) as lab:
            workers = [lab.worker("--processes", "2"), lab.worker("--processes", "2")]
            t0 = time.monotonic()
            rids: list[uuid.UUID] = []
            asns: list[int] = []

            def wave(n: int) -> None:
                new = [41000 + len(asns) + i for i in range(WAVE)]
                asns.extend(new)
                for asn in new:
                    rid = lab.submit(asn)
                    lab.approve(rid)
                    rids.append(rid)
                fault(f"wave {n}: {WAVE} approvals")

            def kill_random() -> None:
                w = rng.choice(workers)
                w.kill()
                fault(f"SIGKILL worker {workers.index(w)} (all its processes)")
                w.start()

            # wave 1: a random kill, then the lock holder mid-apply
            wave(1)
            time.sleep(rng.uniform(0.5, 2.0))
            kill_random()
            pid = wait_for(
                lambda: _lock_owner_pid(lab), timeout=90, interval=0.002, what="an apply"
            )
            assert pid is not None
            holder = _holder(workers, pid)
            if holder is not None:
                holder.kill()
                fault(f"SIGKILL worker {workers.index(holder)} holding the apply lock (pid {pid})")
                holder.start()
            # wave 2: Redis restarted empty (every queued message lost)
            wave(2)
            time.sleep(rng.uniform(0.2, 1.0))
            redis_server.stop()
            fault("Redis stopped")
            time.sleep(rng.uniform(0.5, 2.0))
            redis_server.start()
            fault("Redis started (empty)")
            # wave 3: BIRD restarted under an apply: down when the apply asks it, back once
            # the fleet has said it will retry
            name = rng.choice(sorted(lab.daemons))
            lab.daemons[name].stop()
            fault(f"BIRD on {name} stopped")
            wave(3)

            def retrying() -> bool:
                return any(f"route server {name}: transient failure" in w.logs() for w in workers)

            wait_for(retrying, timeout=90, interval=0.05, what="the fleet retrying")
            lab.daemons[name].start()
            fault(f"BIRD on {name} started again (an apply was waiting for it)")
            for _ in range(2):
                time.sleep(rng.uniform(1.0, 4.0))
                kill_random()
            last_fault = time.monotonic()
            lab.wait_status(rids, S.ACTIVE, timeout=240)
            converged = time.monotonic() - last_fault
            with lab.app.uow_factory() as uow:
                events = uow.audit.recent(100_000)
            with capsys.disabled():  # the schedule belongs in the CI log
                print(f"\nchaos seed {seed}; fault schedule (s since the workers started):")
                for at, text in schedule:
                    print(f"  {at:7.2f}  {text}")
                print(f"every request active {converged:.1f} s after the last fault")
                for action in (
                    "request.failed",
                    "request.redispatched",
                    "route_server.retried",
                    "route_server.failed",
                ):
                    print(f"  {action}: {sum(e.action == action for e in events)}")
            assert sum(e.action == "route_server.retried" for e in events) >= 1
            lab.check_consistent(rids, asns)
            with lab.app.uow_factory() as uow:
                by_people = [e for e in uow.audit.recent(100_000) if e.actor.startswith("user:")]
            expected = {"request.submitted", "request.approved"}
            assert {e.action for e in by_people} == expected, "no retry or repair by a person"
            assert sum(e.action == "request.approved" for e in by_people) == len(rids)
    finally:
        redis_server.stop()
