"""The Dramatiq actors: provision_request, deprovision_request, sync_route_servers,
looking_glass, update_member.

Actors are declared per broker (not on dramatiq's global broker), so the Redis worker,
embedded mode and tests each get their own set over the same functions. Every actor runs
inside a log context carrying the request id (the outbox message's correlation id) and the
Dramatiq message id.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import attrs
import dramatiq
from dramatiq.middleware import CurrentMessage

from ztix_core.errors import InvalidValue, ProviderError
from ztix_core.status import RequestStatus
from ztix_core.usecases._common import (
    TOPIC_DEPROVISION,
    TOPIC_LOOKING_GLASS,
    TOPIC_MEMBER_UPDATE,
    TOPIC_PROVISION,
    TOPIC_SYNC,
)
from ztix_core.values import Asn
from ztix_worker.logs import current_request_id, log_context

if TYPE_CHECKING:
    from ztix_worker.runtime import WorkerRuntime

log = logging.getLogger(__name__)


@attrs.frozen
class Actors:
    """The actors of one broker, by outbox topic."""

    provision: dramatiq.Actor[..., None]
    deprovision: dramatiq.Actor[..., None]
    sync: dramatiq.Actor[..., None]
    looking_glass: dramatiq.Actor[..., None]
    update_member: dramatiq.Actor[..., None]

    def for_topic(self, topic: str) -> dramatiq.Actor[..., None] | None:
        """The actor that handles an outbox topic, or None."""
        return {
            TOPIC_PROVISION: self.provision,
            TOPIC_DEPROVISION: self.deprovision,
            TOPIC_SYNC: self.sync,
            TOPIC_LOOKING_GLASS: self.looking_glass,
            TOPIC_MEMBER_UPDATE: self.update_member,
        }.get(topic)


def _parse_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        log.error("message carries a bad request id %r; dropped", raw)
        return None


def _job_context(request_id: str | None) -> AbstractContextManager[None]:
    """The log context of one job: its request id and the Dramatiq message id."""
    message = CurrentMessage.get_current_message()
    return log_context(
        request_id=request_id, message_id=message.message_id if message is not None else None
    )


def _attempt() -> int:
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else 0


def declare_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> Actors:
    """Declare the actors on ``broker``; they call into ``runtime``."""
    ws = runtime.worker_settings
    retry_opts: dict[str, Any] = {
        "max_retries": ws.max_retries,
        "min_backoff": ws.min_backoff_ms,
        "max_backoff": ws.max_backoff_ms,
    }

    def provision_request(request_id: str, correlation_id: str = "") -> None:
        """Bring an approved request to provisioning → (after the coalesced sync) active.

        Idempotent; transient controller errors are re-raised for Dramatiq's backoff
        until the last attempt, which fails the request."""
        with _job_context(correlation_id or request_id):
            rid = _parse_id(request_id)
            if rid is None:
                return
            runtime.gate.wait()
            attempt = _attempt()
            final = attempt >= ws.max_retries
            try:
                with runtime.coordinator.in_flight():
                    status = runtime.provisioner.provision(rid, final_attempt=final, sync=False)
                if status is RequestStatus.PROVISIONING:  # authorized: its peers are due
                    runtime.request_sync()
            except ProviderError as exc:
                log.warning(
                    "transient controller error on attempt %d: %s; retrying",
                    attempt + 1,
                    exc.message,
                    extra={"kind": exc.kind, "attempt": attempt + 1},
                )
                raise
            log.info("provision_request done: %s", status, extra={"attempt": attempt + 1})

    def deprovision_request(request_id: str, correlation_id: str = "") -> None:
        """Take a leaving member off the route servers and the controller. Idempotent."""
        with _job_context(correlation_id or request_id):
            rid = _parse_id(request_id)
            if rid is None:
                return
            runtime.gate.wait()
            status = runtime.provisioner.deprovision(rid)
            log.info("deprovision_request done: %s", status)

    def update_member(request_id: str, correlation_id: str = "") -> None:
        """An admin moved a member's addresses: authorize the node again with them on the
        controller, then ask for a coalesced route-server sync. Idempotent; transient
        controller errors are retried like provisioning's."""
        with _job_context(correlation_id or request_id):
            rid = _parse_id(request_id)
            if rid is None:
                return
            runtime.gate.wait()
            final = _attempt() >= ws.max_retries
            done = runtime.provisioner.update_member(rid, final_attempt=final)
            log.info("update_member done: %s", "readdressed" if done else "nothing to do")

    def sync_route_servers(
        correlation_id: str = "", force: bool = False, request_id: str = ""
    ) -> None:
        """Render the desired state from every member, apply where behind, settle."""
        with _job_context(correlation_id or request_id or None):
            result = runtime.provisioner.run_sync(force=force)
            runtime.stats.syncs += 1
            for out in result.outcomes:
                if not out.ok:
                    log.warning(
                        "route server %s failed at %s: %s",
                        out.server,
                        out.stage,
                        out.message,
                        extra={"server": out.server, "stage": out.stage},
                    )
            log.info(
                "route-server sync: generation %d, %s; %d active, %d failed, %d removed",
                result.generation,
                ", ".join(f"{o.server}={o.result}" for o in result.outcomes) or "nothing behind",
                len(result.activated),
                len(result.failed),
                len(result.removed),
                extra={
                    "generation": result.generation,
                    "activated": [str(r) for r in result.activated],
                    "failed": [str(r) for r in result.failed],
                },
            )

    def looking_glass(asn: Any, request_id: str = "", correlation_id: str = "") -> None:
        """Read one member on every route server and store it as its looking glass.

        Not retried: a server that cannot be asked is recorded with the reason, and the
        member's Refresh button asks again."""
        with _job_context(correlation_id or request_id or None):
            try:
                member = Asn.parse(str(asn))
            except InvalidValue:
                log.error("looking_glass message carries a bad ASN %r; dropped", asn)
                return
            snapshot = runtime.looking_glass.run(member)
            log.info(
                "looking glass of %s: %s",
                member,
                ", ".join(
                    f"{s.server}={'error' if s.error else f'{len(s.sessions)} sessions'}"
                    for s in snapshot.servers
                )
                or "no route servers",
            )

    def declare(fn: Any, queue: str, **extra: Any) -> dramatiq.Actor[..., None]:
        options = {**retry_opts, **extra}
        decorate = dramatiq.actor(
            broker=broker, actor_name=fn.__name__, queue_name=queue, **options
        )
        actor: dramatiq.Actor[..., None] = decorate(fn)
        return actor

    return Actors(
        provision=declare(provision_request, ws.queue),
        deprovision=declare(deprovision_request, ws.queue),
        sync=declare(sync_route_servers, f"{ws.queue}_sync"),
        # its own queue: a slow route server never holds provisioning up, nor the reverse
        looking_glass=declare(looking_glass, f"{ws.queue}_lg", max_retries=0),
        update_member=declare(update_member, ws.queue),
    )


def sync_kwargs() -> dict[str, Any]:
    """Keyword arguments of a sync message sent from the current context."""
    return {"correlation_id": current_request_id() or ""}
