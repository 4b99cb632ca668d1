"""The worker's composition root: broker, actors, relay, reconciler, readiness gate.

:class:`WorkerRuntime` wires the core's :class:`~ztix_core.bootstrap.App` to Dramatiq. With
a ``REDIS_URL`` it uses a RedisBroker (several processes may consume); without one it is
the **embedded mode**: a StubBroker consumed by an in-process Dramatiq worker, so the same
actors, retries and coalescing run inside one process (the demo, single-box installs).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications

from ztix_core.bootstrap import App, configured_networks
from ztix_core.notifications import CONTROLLER_NOT_READY, notify
from ztix_core.ports import ProvisioningEvents, ReadinessReport
from ztix_core.records import JsonDict, ZtNetwork
from ztix_core.usecases import (
    DriftCheck,
    LookingGlass,
    Observer,
    check_route_servers,
    sync_networks,
)
from ztix_core.usecases._common import TOPIC_LOOKING_GLASS
from ztix_core.usecases.notify import NotificationDeliveries
from ztix_worker.actors import Actors, declare_actors, sync_kwargs
from ztix_worker.audit import audit
from ztix_worker.coalesce import LocalSyncCoordinator, RedisSyncCoordinator, SyncCoordinator
from ztix_worker.delivery import DeliveryTracker, LocalDeliveryTracker, RedisDeliveryTracker
from ztix_worker.gate import GateClosed, ReadinessGate
from ztix_worker.health import (
    HealthMonitor,
    default_health_file,
    ping_redis,
    probe_database,
    quiet_dramatiq_connection_errors,
)
from ztix_worker.notify.loop import NotificationLoop
from ztix_worker.notify.senders import Senders
from ztix_worker.notify.settings import NotificationSettings, load_notification_settings
from ztix_worker.provisioner import CoalescingProvisioner
from ztix_worker.reconciler import Reconciler
from ztix_worker.relay import OutboxRelay, UnknownTopic
from ztix_worker.settings import WorkerSettings

log = logging.getLogger(__name__)


@attrs.define
class Stats:
    """Counters a runtime keeps (for tests, the bench and logs)."""

    syncs: int = 0
    registry_refreshes: int = 0


def redis_client(url: str) -> redis.Redis:
    """A Redis client whose calls fail fast during an outage instead of hanging."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def build_broker(
    app: App,
    ws: WorkerSettings,
    client: redis.Redis | None,
    extra: Sequence[dramatiq.Middleware] = (),
) -> dramatiq.Broker:
    """RedisBroker when ``client`` is given, else StubBroker; no time or age limit (the
    readiness gate may hold a message for as long as the controller is not ready)."""
    middleware = [
        ShutdownNotifications(),
        CurrentMessage(),
        Retries(
            max_retries=ws.max_retries, min_backoff=ws.min_backoff_ms, max_backoff=ws.max_backoff_ms
        ),
        *extra,
    ]
    if client is None:
        return StubBroker(middleware=middleware)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=ws.redis_namespace,
        middleware=middleware,
        heartbeat_timeout=ws.heartbeat_timeout_ms,
        maintenance_chance=ws.maintenance_chance,
    )


class WorkerRuntime:
    """Everything one worker process runs. ``start()`` returns at once; ``stop()`` ends it.

    ``relay`` and ``reconcile`` choose whether this process also runs the outbox relay and
    the reconciler (a ``ztix worker`` with several processes runs them once, in the first).
    ``events`` hears of every activation, failure and route-server apply (the metrics).
    """

    def __init__(
        self,
        app: App,
        worker_settings: WorkerSettings,
        notification_settings: NotificationSettings | None = None,
        *,
        events: ProvisioningEvents | None = None,
    ) -> None:
        if app.provider is None or app.fleet is None or app.provisioner is None:
            raise ValueError("the worker needs an App built with provisioning")
        self.app = app
        self.worker_settings = ws = worker_settings
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.stats = Stats()
        self.redis = redis_client(app.settings.redis_url) if app.settings.redis_url else None
        self.delivery: DeliveryTracker
        if self.redis is not None:
            remote = RedisDeliveryTracker(self.redis, ws.redis_namespace)
            self.delivery = remote
            self.broker = build_broker(app, ws, self.redis, [remote])
        else:
            local = LocalDeliveryTracker()
            self.delivery = local
            self.broker = build_broker(app, ws, None, [local])
        self.coordinator: SyncCoordinator
        if self.redis is not None:
            self.coordinator = RedisSyncCoordinator(
                self.redis,
                ws.redis_namespace,
                lock_ttl_s=ws.sync_lock_ttl_s,
                pending_ttl_s=ws.sync_pending_ttl_s,
                min_interval_s=ws.sync_min_interval_s,
                batch_window_s=ws.sync_batch_window_s,
            )
        else:
            self.coordinator = LocalSyncCoordinator(ws.sync_min_interval_s, ws.sync_batch_window_s)
        self.provisioner = CoalescingProvisioner(
            app.uow_factory,
            app.clock,
            app.provider,
            app.fleet,
            app.registry,
            # the worker's gate (below) runs before every provision and waits instead
            # of failing; the core's per-request gate would only repeat its HTTP calls
            attrs.evolve(app.settings.provisioning, readiness_gate=False),
            sync_lock=self.coordinator.hold,
            allocation_lock=self.coordinator.allocation,
            request_sync=self.request_sync,
            events=events,
        )
        self.gate = ReadinessGate(
            app.provider,
            self.networks,
            enabled=app.settings.provisioning.readiness_gate,
            poll_s=ws.gate_poll_s,
            stop=self.stop_event,
            on_change=self._gate_changed,
        )
        self.actors: Actors = declare_actors(self.broker, self)
        self.relay = OutboxRelay(
            app.uow_factory,
            app.clock,
            self.publish,
            batch=ws.relay_batch,
            interval_s=ws.relay_interval_s,
        )
        self.reconciler = Reconciler(
            app.uow_factory,
            app.clock,
            app.provider,
            self.request_sync,
            stuck_after=dt.timedelta(seconds=ws.stuck_after_s),
            alive=self.delivery.alive,
            settle_recovered=self.provisioner.settle_recovered,
            drift_mode=ws.membership_drift,
            interval_s=ws.reconcile_interval_s,
            check_route_servers=self._check_route_servers,
        )
        self.observer = Observer(app.uow_factory, app.clock, app.provider, app.fleet)
        ns = notification_settings or load_notification_settings(app.settings)
        self.notification_settings = ns
        self.senders = Senders(ns)
        self.notifications = NotificationLoop(
            NotificationDeliveries(app.uow_factory, app.clock, ns.targets(), ns.schedule),
            self.senders,
            concurrency=ns.concurrency,
            interval_s=ns.interval_s,
            attempt_timeout_s=max(
                [ns.email.timeout_s if ns.email else 0.0, *(w.timeout_s for w in ns.webhooks)],
                default=10.0,
            ),
        )
        self.looking_glass = LookingGlass(app.uow_factory, app.clock, app.fleet)
        self.worker: dramatiq.Worker | None = None
        self._threads: list[threading.Thread] = []
        redis_url = app.settings.redis_url or ""
        self.health = HealthMonitor(
            lambda: ping_redis(self.redis, redis_url),
            lambda: probe_database(app.uow_factory),
            lambda: self.worker is not None and self._broker_ok,
            Path(ws.health_file) if ws.health_file else default_health_file(ws.redis_namespace),
            ws.health_interval_s,
        )
        self._broker_ok = True

    @property
    def embedded(self) -> bool:
        """True without Redis: everything runs in this process."""
        return self.redis is None

    def networks(self) -> Sequence[ZtNetwork]:
        """The exchange networks the gate checks: from the settings, else the database."""
        configured = configured_networks(self.app.settings)
        if configured:
            return configured
        with self.app.uow_factory() as uow:
            return uow.networks.list()

    def _gate_changed(self, report: ReadinessReport) -> None:
        """Audit each time the gate closes or opens again (with the remediation)."""
        failure = report.first_failure
        meta: JsonDict = {"pid": os.getpid()}
        if failure is not None:
            meta.update(
                check=failure.name, message=failure.message, remediation=failure.remediation
            )
        assert self.app.provider is not None
        try:
            with self.app.uow_factory() as uow:
                audit(
                    uow,
                    self.app.clock.now(),
                    "controller.gate_closed" if failure else "controller.gate_opened",
                    "controller",
                    self.app.provider.name,
                    meta,
                )
                if failure is not None:
                    notify(
                        uow,
                        self.app.clock.now(),
                        CONTROLLER_NOT_READY,
                        {"provider": self.app.provider.name, **meta},
                    )
                uow.commit()
        except Exception:
            log.exception("could not audit the readiness gate change")

    # ------------------------------------------------------------------ messages

    def publish(self, topic: str, payload: JsonDict, correlation_id: str) -> None:
        """Send an outbox message to its actor (the relay's ``publish``)."""
        actor = self.actors.for_topic(topic)
        if actor is None:
            raise UnknownTopic(topic)
        message = actor.send_with_options(kwargs={**payload, "correlation_id": correlation_id})
        request_id = payload.get("request_id")
        # the reconciler's evidence is the request's last provisioning message; a
        # looking-glass read must not stand in for it
        if isinstance(request_id, str) and topic != TOPIC_LOOKING_GLASS:
            # before the relay marks the row sent: the reconciler never sees neither
            self.delivery.record(request_id, message)

    def _check_route_servers(self, repair: bool) -> DriftCheck:
        """The reconciler's route-server drift check (repairs through the real sync)."""
        return check_route_servers(self.provisioner, repair=repair)

    def request_sync(self) -> None:
        """Ask for a coalesced route-server sync."""

        def send() -> None:
            self.actors.sync.send_with_options(kwargs=sync_kwargs())

        self.coordinator.request(send)

    def _lease(self, name: str, interval_s: float) -> bool:
        """True when this process may run the periodic task ``name`` now: one worker
        instance per period (the lease expires a little before the next period)."""
        if self.redis is None:
            return True
        ttl = max(int(interval_s * 900), 1000)
        key = f"{self.worker_settings.redis_namespace}:{name}:lease"
        return bool(self.redis.set(key, str(os.getpid()), nx=True, px=ttl))

    def _reconciler_lease(self) -> bool:
        return self._lease("reconciler", self.worker_settings.reconcile_interval_s)

    def _observe_forever(self) -> None:
        """Record sessions and controller readiness at start and every
        ``observe_interval_s`` (also while the readiness gate is closed: that is when
        the controller page matters most)."""
        interval = self.worker_settings.observe_interval_s
        while not self.stop_event.is_set():
            try:
                if self._lease("observer", interval):
                    self.observer.observe()
            except Exception as exc:
                log.warning("observation failed: %s: %s", type(exc).__name__, exc)
            self.stop_event.wait(interval)

    def _refresh_registry_forever(self) -> None:
        """Refresh the PeeringDB facts that are due, at start and every
        ``registry_check_interval_s`` (at most the registry's refresh interval). A change of
        a member's max-prefix writes a route-server sync to the outbox (the core does it),
        which the relay delivers like any other; PeeringDB being down keeps the stale facts
        and is only logged."""
        interval = min(
            self.worker_settings.registry_check_interval_s, self.app.registry.refresh_interval_s
        )
        while not self.stop_event.is_set():
            try:
                if self._lease("registry-refresh", interval):
                    self.app.facts.refresh()
                    self.stats.registry_refreshes += 1
            except Exception as exc:
                log.warning("PeeringDB refresh failed: %s: %s", type(exc).__name__, exc)
            self.stop_event.wait(interval)

    # ------------------------------------------------------------------ lifecycle

    def _thread(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def start(self, *, consume: bool = True, relay: bool = True, reconcile: bool = True) -> None:
        """Bring the stored exchange networks in line with the settings (Conflict, with
        nothing written, when that would strand members); start the relay; wait for the
        readiness gate in the background, then start consuming messages and reconciling."""
        synced = sync_networks(
            self.app.uow_factory, self.app.clock, configured_networks(self.app.settings)
        )
        for line in synced.lines():
            log.info(line)
        quiet_dramatiq_connection_errors()
        self._thread("health", self._watch_health)
        if reconcile:
            self._thread("observer", self._observe_forever)
            self._thread("registry-refresh", self._refresh_registry_forever)
        if relay:
            self._thread("outbox-relay", lambda: self.relay.run_forever(self.stop_event))
            self._thread("notifications", lambda: self.notifications.run_forever(self.stop_event))

        def boot() -> None:
            if not self._wait_for_broker():
                return
            try:
                self.gate.wait()
            except GateClosed:
                return
            if consume:
                self.worker = dramatiq.Worker(
                    self.broker,
                    worker_threads=self.worker_settings.threads,
                    worker_timeout=self.worker_settings.worker_timeout_ms,
                )
                self.worker.start()
            if reconcile:
                self._thread(
                    "reconciler",
                    lambda: self.reconciler.run_forever(self.stop_event, self._reconciler_lease),
                )
            log.info(
                "worker consuming (%s, %d threads)",
                "embedded" if self.embedded else "redis",
                self.worker_settings.threads,
            )
            self.started.set()

        self._thread("boot", boot)

    def _watch_health(self) -> None:
        while not self.stop_event.is_set():
            try:
                report = self.health.check()
                self._broker_ok = report.broker.ok
            except Exception as exc:
                log.warning("health check failed: %s: %s", type(exc).__name__, exc)
            self.stop_event.wait(self.health.interval_s)

    def _wait_for_broker(self) -> bool:
        """Block until the broker answers (a back-off from 0.5 s to 30 s; the health
        monitor says once what is wrong). False when stopped meanwhile."""
        delay = 0.5
        while not self.stop_event.is_set():
            check = ping_redis(self.redis, self.app.settings.redis_url or "")
            if check.ok:
                return True
            self._broker_ok = False
            self.stop_event.wait(delay)
            delay = min(delay * 2, 30.0)
        return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop consuming (messages in flight are finished or requeued), stop the threads."""
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout_s)
        if self.worker is not None:
            self.worker.stop(timeout=int(timeout_s * 1000))
            self.worker = None
        self.broker.close()
        self.senders.close()
        self.health.remove()

    def drain(self, timeout_s: float = 30.0) -> None:
        """Embedded mode: wait until the outbox is empty and no message is queued or in
        flight (including retries waiting for their backoff)."""
        if not isinstance(self.broker, StubBroker):
            raise TypeError("drain() is for embedded mode; poll the database instead")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.app.uow_factory() as uow:
                pending = uow.outbox.pending_count()
            busy = pending > 0 or self.worker is None
            if not busy:
                for queue in sorted(self.broker.get_declared_queues()):
                    left = max(int((deadline - time.monotonic()) * 1000), 1)
                    self.broker.join(queue, timeout=left, fail_fast=False)
                self.worker.join()  # type: ignore[union-attr]
                with self.app.uow_factory() as uow:
                    pending = uow.outbox.pending_count()
                queued = any(self.broker.queues[q].unfinished_tasks for q in self.broker.queues)
                if pending == 0 and not queued:
                    return
            time.sleep(0.02)
        raise TimeoutError("the worker did not drain its queues in time")
