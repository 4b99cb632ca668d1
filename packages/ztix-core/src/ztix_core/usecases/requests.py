"""Use cases of the request workflow: submit, approve, reject, retry, leave."""

from __future__ import annotations

import datetime as dt
import uuid

from ztix_core.api_ports import IdempotencyEntry
from ztix_core.asns import join_refusal
from ztix_core.errors import (
    Conflict,
    DuplicateRecord,
    IdempotencyKeyReused,
    InvalidTransition,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
)
from ztix_core.notifications import REQUEST_SUBMITTED, notify
from ztix_core.policies.base import ApprovalContext, ApprovalPolicy, Verdict
from ztix_core.ports import Clock, NetworkRegistry, RequestFilter, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, JoinRequest, new_id
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.usecases._common import (
    TOPIC_DEPROVISION,
    TOPIC_PROVISION,
    audit,
    enqueue,
    move,
    request_facts,
)
from ztix_core.usecases.registry import RegistryFacts
from ztix_core.values import Asn, NetworkId, NodeId

MAX_NOTES = 2000
MAX_REASON = 1000
AUTO_ACTOR = Actor.system("policy_auto")
#: An Idempotency-Key is remembered this long; older keys are purged as new ones arrive.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
#: Statuses whose request may hold a membership (addresses, controller member, RS peers).
HOLDING_STATUSES = LIVE_STATUSES | {RequestStatus.FAILED, RequestStatus.DEPROVISIONING}


def _load(uow: UnitOfWork, request_id: uuid.UUID) -> JoinRequest:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"request {request_id} not found", request_id=str(request_id))
    return request


def check_text(field: str, value: str) -> None:
    """Refuse text storage cannot keep: NUL (PostgreSQL text) and lone surrogates (not
    UTF-8)."""
    if "\x00" in value:
        raise InvalidValue(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(field, "must be valid Unicode text (no lone surrogates)") from None


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only an admin may do this")


class RequestWorkflow:
    """Submit, approve, reject, retry and leave, each in one unit of work with its audit
    event (approve/retry/leave also write an outbox message)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        policy: ApprovalPolicy,
        registry: NetworkRegistry,
        *,
        allow_documentation_asns: bool = False,
        facts: RegistryFacts | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.policy = policy
        self.registry = registry
        self.facts = facts or RegistryFacts(uow_factory, clock, registry)
        self.allow_documentation_asns = allow_documentation_asns

    def _check_joinable(self, asn: Asn) -> None:
        refusal = join_refusal(asn.value, allow_documentation=self.allow_documentation_asns)
        if refusal is not None:
            raise NotEligible(refusal, asn=asn.value)

    def submit(
        self,
        user_id: uuid.UUID,
        asn: object,
        network_id: object,
        node_id: object,
        notes: str = "",
    ) -> JoinRequest:
        """File a join request for ``asn`` on ``network_id`` with ``node_id``.

        Eligibility: the ASN must be linked to the user; a user with network-access rows
        may request only those networks (no rows: unrestricted); one live request per
        (ASN, network) — a second raises DuplicateLiveRequest naming the first. The
        approval policy then decides at once (approve / reject / leave pending).
        """
        return self._submit(user_id, asn, network_id, node_id, notes, None)[0]

    def submit_once(
        self,
        user_id: uuid.UUID,
        key: str,
        fingerprint: str,
        asn: object,
        network_id: object,
        node_id: object,
        notes: str = "",
    ) -> tuple[JoinRequest, bool]:
        """:meth:`submit` under the client's idempotency ``key``: the first call files the
        request and records the key with it in the same unit of work; a later call with the
        same key and ``fingerprint`` (a digest of the body) returns that request and True
        (replayed) without filing another; the same key with another fingerprint raises
        IdempotencyKeyReused. A call that was refused records nothing. Keys are kept for
        :data:`IDEMPOTENCY_TTL`; filing a request purges the expired ones."""
        if not key or len(key) > 200:
            raise InvalidValue("Idempotency-Key", "1 to 200 characters")
        oldest = self.clock.now() - IDEMPOTENCY_TTL
        with self.uow_factory() as uow:
            found = uow.idempotency.get(user_id, key)
            if found is not None and found.created_at >= oldest:
                return self._replay(uow, found, key, fingerprint), True
        try:
            return self._submit(user_id, asn, network_id, node_id, notes, (key, fingerprint))
        except DuplicateRecord:
            # A concurrent call with the same key won the insert: answer with its request.
            with self.uow_factory() as uow:
                found = uow.idempotency.get(user_id, key)
                if found is None:
                    raise
                return self._replay(uow, found, key, fingerprint), True

    @staticmethod
    def _replay(
        uow: UnitOfWork, entry: IdempotencyEntry, key: str, fingerprint: str
    ) -> JoinRequest:
        if entry.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key, entry.request_id)
        return _load(uow, entry.request_id)

    def _submit(
        self,
        user_id: uuid.UUID,
        asn: object,
        network_id: object,
        node_id: object,
        notes: str,
        idempotency: tuple[str, str] | None,
    ) -> tuple[JoinRequest, bool]:
        parsed_asn = Asn.parse(asn)
        parsed_net = network_id if isinstance(network_id, NetworkId) else NetworkId(network_id)
        parsed_node = node_id if isinstance(node_id, NodeId) else NodeId(node_id)
        self._check_joinable(parsed_asn)
        if len(notes) > MAX_NOTES:
            raise InvalidValue("notes", f"at most {MAX_NOTES} characters")
        check_text("notes", notes)
        # asked before the unit of work opens (no transaction waits on PeeringDB) and
        # stored inside it, so a refused submission writes nothing
        facts = self.facts.ask(parsed_asn)
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            links = {lk.asn: lk for lk in uow.asn_links.list_for_user(user_id)}
            link = links.get(parsed_asn)
            if link is None:
                raise NotEligible(
                    f"{parsed_asn} is not linked to your account", asn=parsed_asn.value
                )
            network = uow.networks.get(parsed_net)
            if network is None or network.retired:
                raise NotFound(f"network {parsed_net} is not an exchange network")
            access = uow.network_access.list_for_user(user_id)
            if access and parsed_net not in {a.network_id for a in access}:
                raise NotEligible(f"your account may not request network {parsed_net}")
            self._check_holders(uow, parsed_asn, parsed_net, parsed_node)
            now = self.clock.now()
            request = JoinRequest(
                new_id(),
                user_id,
                parsed_asn,
                parsed_net,
                parsed_node,
                RequestStatus.PENDING,
                now,
                now,
                notes=notes,
            )
            uow.requests.add(request)
            if idempotency is not None:
                uow.idempotency.purge_before(now - IDEMPOTENCY_TTL)
                uow.idempotency.put(
                    IdempotencyEntry(user_id, idempotency[0], idempotency[1], request.id, now)
                )
            audit(
                uow,
                now,
                Actor.user(user),
                "request.submitted",
                "request",
                str(request.id),
                {
                    "to": "pending",
                    "asn": parsed_asn.value,
                    "network_id": parsed_net.value,
                    "node_id": parsed_node.value,
                },
            )
            notify(uow, now, REQUEST_SUBMITTED, {**request_facts(request), "notes": notes})
            self.facts.remember(uow, facts)
            since = now - dt.timedelta(hours=1)
            ctx = ApprovalContext(
                request,
                user,
                link,
                facts.facts,
                uow.audit.count_since("request.approved", str(AUTO_ACTOR), since),
                now,
                facts_known=facts.known,
                facts_fetched_at=facts.fetched_at,
                facts_error=facts.error,
            )
            decision = self.policy.decide(ctx)
            meta = {
                "policy": self.policy.name,
                "reasons": list(decision.reasons),
                "checks": {name: ok for name, ok in decision.checks},
            }
            if decision.verdict is Verdict.APPROVE:
                request = move(
                    uow,
                    self.clock,
                    request,
                    RequestStatus.APPROVED,
                    Actor.system(self.policy.name),
                    meta,
                    decided_at=now,
                    decided_by=f"system:{self.policy.name}",
                )
                enqueue(uow, now, TOPIC_PROVISION, request)
            elif decision.verdict is Verdict.REJECT:
                request = move(
                    uow,
                    self.clock,
                    request,
                    RequestStatus.REJECTED,
                    Actor.system(self.policy.name),
                    meta,
                    decided_at=now,
                    decided_by=f"system:{self.policy.name}",
                    reject_reason="; ".join(decision.reasons) or "rejected by policy",
                )
            elif decision.checks:
                audit(
                    uow,
                    now,
                    Actor.system(self.policy.name),
                    "request.policy_evaluated",
                    "request",
                    str(request.id),
                    meta,
                )
            uow.commit()
            return request, False

    @staticmethod
    def _check_holders(uow: UnitOfWork, asn: Asn, network: NetworkId, node: NodeId) -> None:
        """Refuse a node already used on the network, and an ASN whose failed or leaving
        request still holds a membership there (retry or finish leaving it first)."""
        same_node = uow.requests.query(
            RequestFilter(statuses=HOLDING_STATUSES, network_id=network, node_id=node, limit=1)
        )
        if same_node:
            raise Conflict(
                f"node {node} is already used by request {same_node[0].id} "
                f"({same_node[0].status.value})",
                existing_request_id=str(same_node[0].id),
            )
        held = uow.requests.query(
            RequestFilter(
                statuses=HOLDING_STATUSES - LIVE_STATUSES, network_id=network, asn=asn, limit=1
            )
        )
        if held:
            raise Conflict(
                f"{asn} still has request {held[0].id} ({held[0].status.value}) on network "
                f"{network}: retry it or leave first",
                existing_request_id=str(held[0].id),
            )

    def approve(self, actor: Actor, request_id: uuid.UUID) -> JoinRequest:
        """An admin approves a pending request; provisioning is queued via the outbox.

        An ASN that may not join (private, reserved, documentation) is refused here too:
        the request may predate the rule or a change of settings."""
        _require_admin(actor)
        with self.uow_factory() as uow:
            now = self.clock.now()
            current = _load(uow, request_id)
            if current.status is RequestStatus.PENDING:
                self._check_joinable(current.asn)
            request = move(
                uow,
                self.clock,
                current,
                RequestStatus.APPROVED,
                actor,
                decided_at=now,
                decided_by=str(actor),
            )
            enqueue(uow, now, TOPIC_PROVISION, request)
            uow.commit()
            return request

    def reject(self, actor: Actor, request_id: uuid.UUID, reason: str) -> JoinRequest:
        """An admin rejects a pending request; the reason is required."""
        _require_admin(actor)
        reason = (reason or "").strip()
        if not reason:
            raise InvalidValue("reason", "a reason is required to reject a request")
        if len(reason) > MAX_REASON:
            raise InvalidValue("reason", f"at most {MAX_REASON} characters")
        check_text("reason", reason)
        with self.uow_factory() as uow:
            now = self.clock.now()
            request = move(
                uow,
                self.clock,
                _load(uow, request_id),
                RequestStatus.REJECTED,
                actor,
                {"reason": reason},
                decided_at=now,
                decided_by=str(actor),
                reject_reason=reason,
            )
            uow.commit()
            return request

    def retry(self, actor: Actor, request_id: uuid.UUID) -> JoinRequest:
        """An admin sends a failed request back to provisioning (only from failed)."""
        _require_admin(actor)
        with self.uow_factory() as uow:
            current = _load(uow, request_id)
            if current.status is not RequestStatus.FAILED:
                # pending -> approved is a legal move too, but that is approve's job.
                raise InvalidTransition(current.id, current.status.value, "approved (retry)")
            request = move(
                uow,
                self.clock,
                current,
                RequestStatus.APPROVED,
                actor,
                {"retry_count": current.retry_count, "last_error": current.last_error},
            )
            enqueue(uow, self.clock.now(), TOPIC_PROVISION, request)
            uow.commit()
            return request

    def leave(self, actor: Actor, request_id: uuid.UUID) -> JoinRequest:
        """The owner or an admin takes an active (or failed) member off the exchange."""
        with self.uow_factory() as uow:
            current = _load(uow, request_id)
            if not actor.is_admin and str(current.user_id) != actor.id:
                raise PermissionDenied("only the owner or an admin may leave")
            request = move(uow, self.clock, current, RequestStatus.DEPROVISIONING, actor)
            enqueue(uow, self.clock.now(), TOPIC_DEPROVISION, request)
            uow.commit()
            return request
