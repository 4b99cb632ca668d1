"""The operations of ``/api/v1``: each one a row of the route table, calling the same core
use cases as the pages (authorization is theirs; an operator asking for another user's
request is told it does not exist, as on the pages)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from ztix_core.errors import NotFound, PermissionDenied
from ztix_core.ports import ROUTER_FLAVOURS
from ztix_core.records import Actor
from ztix_core.status import RequestStatus
from ztix_core.usecases.members import KEEP
from ztix_core.usecases.queries import RequestDetail
from ztix_core.values import Asn, NetworkId
from ztix_web.api.schemas import (
    ASN,
    NETWORK_ID,
    NODE_ID,
    STATUSES,
    UUID,
    asn_json,
    event_json,
    looking_glass_json,
    member_settings_json,
    membership_json,
    network_json,
    ref,
    request_json,
    route_server_json,
    server_view_json,
    user_json,
)
from ztix_web.api.spec import Call, Operation, Param, Reply, Schema
from ztix_web.context import WebContext
from ztix_web.pages import server_views

V1 = "/api/v1"
MAX_AGE_S = 20 * 365 * 24 * 3600

REQUEST_ID = Param("request_id", "path", UUID, "the request's id")
_LIMIT_VALUE: Schema = {"type": "integer", "minimum": 1}
ROUTER_CONFIG: Schema = {
    "type": "object",
    "required": ["request_id", "flavour", "title", "filename", "text", "member"],
    "properties": {
        "request_id": UUID,
        "flavour": {"type": "string", "enum": list(ROUTER_FLAVOURS)},
        "title": {"type": "string"},
        "filename": {"type": "string"},
        "text": {"type": "string", "description": "the configuration; comments explain it"},
        "member": {
            "type": "object",
            "required": [
                "asn",
                "ipv4",
                "ipv6",
                "accepted_v4",
                "accepted_v6",
                "suggested_v4",
                "suggested_v6",
            ],
            "properties": {
                "asn": ASN,
                "ipv4": {"type": "string", "format": "ipv4"},
                "ipv6": {"type": "string", "format": "ipv6"},
                "accepted_v4": _LIMIT_VALUE,
                "accepted_v6": _LIMIT_VALUE,
                "suggested_v4": _LIMIT_VALUE,
                "suggested_v6": _LIMIT_VALUE,
            },
        },
    },
}
LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "page size",
)
OFFSET = Param(
    "offset",
    "query",
    {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
    "items to skip",
)


def _page_schema(item: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    }


def _actor(call: Call) -> Actor:
    assert call.caller is not None
    return call.caller.actor


def body_fingerprint(body: Any) -> str:
    """The digest an Idempotency-Key remembers: the body's canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: A max-prefix as the core accepts it (null clears a member's own limit).
MAX_PREFIX: Schema = {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000_000}


class Routes:
    """The handlers, over the web's wiring."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.core = ctx.core

    # ---------------------------------------------------------------- me, asns, networks

    def me(self, call: Call) -> Reply:
        assert call.caller is not None
        scope = "admin" if call.caller.actor.is_admin else "operator"
        return Reply(
            {
                "user": user_json(call.caller.user),
                "scope": scope,
                "auth": "token" if call.caller.token_id else "session",
            }
        )

    def asns(self, call: Call) -> Reply:
        return Reply([asn_json(a) for a in self.core.queries.asns(_actor(call))])

    def networks(self, call: Call) -> Reply:
        return Reply([network_json(n) for n in self.core.queries.networks(_actor(call))])

    # ---------------------------------------------------------------- requests

    def list_requests(self, call: Call) -> Reply:
        p = call.params
        statuses = frozenset(RequestStatus(s) for s in p["status"]) if p.get("status") else None
        limit, offset = p.get("limit", 50), p.get("offset", 0)
        page = self.core.queries.list_requests(
            _actor(call),
            statuses=statuses,
            asn=Asn(p["asn"]) if "asn" in p else None,
            network_id=NetworkId(p["network_id"]) if "network_id" in p else None,
            older_than=dt.timedelta(seconds=p["min_age_s"]) if "min_age_s" in p else None,
            newer_than=dt.timedelta(seconds=p["max_age_s"]) if "max_age_s" in p else None,
            limit=limit,
            offset=offset,
        )
        return Reply(
            {
                "items": [request_json(r) for r in page.items],
                "total": page.total,
                "limit": limit,
                "offset": offset,
            }
        )

    def submit(self, call: Call) -> Reply:
        assert call.caller is not None
        body = call.body
        key = call.params.get("idempotency-key")
        # JSON Schema's integers include 64500.0: the core wants an int.
        args = (int(body["asn"]), body["network_id"], body["node_id"], body.get("notes", ""))
        headers: dict[str, str] = {}
        if key is None:
            request = self.core.workflow.submit(call.caller.user.id, *args)
        else:
            request, replayed = self.core.workflow.submit_once(
                call.caller.user.id, key, body_fingerprint(body), *args
            )
            headers["Idempotency-Replayed"] = "true" if replayed else "false"
        headers["Location"] = f"{V1}/requests/{request.id}"
        return Reply(request_json(request), 201, headers)

    def _visible(self, call: Call) -> RequestDetail:
        request_id = uuid.UUID(call.params["request_id"])
        try:
            return self.core.queries.detail(_actor(call), request_id)
        except PermissionDenied:
            raise NotFound(f"request {request_id} not found") from None

    def detail(self, call: Call) -> Reply:
        d = self._visible(call)
        servers = server_views(self.core.queries.route_server_states(), d.membership)
        return Reply(
            {
                "request": request_json(d.request),
                "membership": membership_json(d.membership),
                "timeline": [event_json(e) for e in d.timeline],
                "route_servers": [server_view_json(v) for v in servers],
            }
        )

    def approve(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        return Reply(request_json(self.core.workflow.approve(_actor(call), rid)))

    def member_settings(self, call: Call) -> Reply:
        rid = self.core.members.find(call.params["request_id"])  # NotFound when unknown
        return Reply(member_settings_json(self.core.members.get(rid)))

    def change_member_settings(self, call: Call) -> Reply:
        rid = self.core.members.find(call.params["request_id"])
        body: dict[str, Any] = call.body

        def limit(name: str) -> Any:
            if name not in body:
                return KEEP
            value = body[name]
            return None if value is None else int(value)  # JSON Schema admits 5000.0

        change = self.core.members.set(
            _actor(call),
            rid,
            display_name=body.get("display_name", KEEP),
            max_prefix_v4=limit("max_prefix_v4"),
            max_prefix_v6=limit("max_prefix_v6"),
            ipv4=body.get("ipv4", KEEP),
            ipv6=body.get("ipv6", KEEP),
        )
        return Reply(member_settings_json(change.facts))

    def reject(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        reason = call.body["reason"]
        return Reply(request_json(self.core.workflow.reject(_actor(call), rid, reason)))

    def retry(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        return Reply(request_json(self.core.workflow.retry(_actor(call), rid)))

    def remove(self, call: Call) -> Reply:
        detail = self._visible(call)
        return Reply(request_json(self.core.workflow.leave(_actor(call), detail.request.id)))

    def router_config(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        try:
            config = self.core.router_config.for_request(_actor(call), rid)
        except PermissionDenied:
            raise NotFound(f"request {rid} not found") from None
        snippet = config.snippet(call.params["flavour"])
        m = config.member
        return Reply(
            {
                "request_id": str(rid),
                "flavour": snippet.flavour,
                "title": snippet.title,
                "filename": snippet.filename,
                "text": snippet.text,
                "member": {
                    "asn": m.asn.value,
                    "ipv4": str(m.ipv4),
                    "ipv6": str(m.ipv6),
                    "accepted_v4": m.accepted_v4,
                    "accepted_v6": m.accepted_v6,
                    "suggested_v4": m.suggested_v4,
                    "suggested_v6": m.suggested_v6,
                },
            }
        )

    # ---------------------------------------------------------------- looking glass

    def looking_glass(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        try:
            return Reply(looking_glass_json(self.ctx.looking_glass.view(_actor(call), rid)))
        except PermissionDenied:
            raise NotFound(f"request {rid} not found") from None

    def refresh_looking_glass(self, call: Call) -> Reply:
        rid = uuid.UUID(call.params["request_id"])
        try:
            view = self.ctx.looking_glass.refresh(_actor(call), rid)
        except PermissionDenied:
            raise NotFound(f"request {rid} not found") from None
        return Reply(looking_glass_json(view), 202)

    # ---------------------------------------------------------------- oversight

    def route_servers(self, call: Call) -> Reply:
        return Reply([route_server_json(o) for o in self.ctx.oversight.route_servers(_actor(call))])

    def audit(self, call: Call) -> Reply:
        p = call.params
        limit, offset = p.get("limit", 50), p.get("offset", 0)
        page = self.core.queries.audit(
            _actor(call),
            action=p.get("action"),
            target_type=p.get("target_type"),
            target_id=p.get("target_id"),
            limit=limit,
            offset=offset,
        )
        return Reply(
            {
                "items": [event_json(e) for e in page.items],
                "more": page.more,
                "limit": limit,
                "offset": offset,
            }
        )

    # ---------------------------------------------------------------- the table

    def operations(self) -> list[Operation]:
        """Every ``/api/v1`` operation but the document and the IX-F export."""
        action_errors = ("not_found", "invalid_transition", "conflict")
        return [
            Operation(
                "GET",
                f"{V1}/me",
                "getMe",
                "The caller: account and scope",
                "user",
                self.me,
                {
                    "type": "object",
                    "required": ["user", "scope", "auth"],
                    "properties": {
                        "user": ref("User"),
                        "scope": {"type": "string", "enum": ["operator", "admin"]},
                        "auth": {"type": "string", "enum": ["token", "session"]},
                    },
                },
                tag="account",
            ),
            Operation(
                "GET",
                f"{V1}/asns",
                "listAsns",
                "The caller's ASNs; an ineligible one says why",
                "user",
                self.asns,
                {"type": "array", "items": ref("Asn")},
                tag="account",
            ),
            Operation(
                "GET",
                f"{V1}/networks",
                "listNetworks",
                "The exchange networks the caller may request",
                "user",
                self.networks,
                {"type": "array", "items": ref("Network")},
                tag="account",
            ),
            Operation(
                "GET",
                f"{V1}/requests",
                "listRequests",
                "Join requests newest first (an operator's own; every one for an admin)",
                "user",
                self.list_requests,
                _page_schema(ref("Request")),
                params=(
                    Param(
                        "status",
                        "query",
                        {
                            "type": "array",
                            "items": {"type": "string", "enum": STATUSES},
                            "maxItems": len(STATUSES),
                        },
                        "statuses, comma-separated",
                    ),
                    Param("asn", "query", ASN, "only this ASN"),
                    Param("network_id", "query", NETWORK_ID, "only this network"),
                    Param(
                        "min_age_s",
                        "query",
                        {"type": "integer", "minimum": 0, "maximum": MAX_AGE_S},
                        "submitted at least this many seconds ago",
                    ),
                    Param(
                        "max_age_s",
                        "query",
                        {"type": "integer", "minimum": 0, "maximum": MAX_AGE_S},
                        "submitted at most this many seconds ago",
                    ),
                    LIMIT,
                    OFFSET,
                ),
                tag="requests",
            ),
            Operation(
                "POST",
                f"{V1}/requests",
                "createRequest",
                "File a join request (the approval policy decides at once)",
                "user",
                self.submit,
                ref("Request"),
                params=(
                    Param(
                        "Idempotency-Key",
                        "header",
                        {"type": "string", "minLength": 1, "maxLength": 200},
                        "the same key and body again answer with the first request",
                    ),
                ),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["asn", "network_id", "node_id"],
                    "properties": {
                        "asn": ASN,
                        "network_id": NETWORK_ID,
                        "node_id": NODE_ID,
                        "notes": {"type": "string", "maxLength": 2000},
                    },
                },
                status=201,
                errors=(
                    "not_found",
                    "not_eligible",
                    "conflict",
                    "duplicate_live_request",
                    "idempotency_key_reused",
                ),
                response_headers=("Location", "Idempotency-Replayed"),
                tag="requests",
            ),
            Operation(
                "GET",
                f"{V1}/requests/{{request_id}}",
                "getRequest",
                "A request with its membership, timeline and per-route-server state",
                "user",
                self.detail,
                ref("RequestDetail"),
                params=(REQUEST_ID,),
                errors=("not_found",),
                tag="requests",
            ),
            Operation(
                "GET",
                f"{V1}/requests/{{request_id}}/router-config",
                "getRouterConfig",
                "An active request's router configuration for one flavour (BIRD 2 or FRR)",
                "user",
                self.router_config,
                ROUTER_CONFIG,
                params=(
                    REQUEST_ID,
                    Param(
                        "flavour",
                        "query",
                        {"type": "string", "enum": list(ROUTER_FLAVOURS)},
                        "the router software: bird or frr",
                        required=True,
                    ),
                ),
                errors=("not_found", "conflict"),
                tag="requests",
                description="The snippet the member pastes into its own router: a session "
                "to every route server on IPv4 and IPv6 from its own peering-LAN addresses, "
                "the suggested max-prefix and the exchange's communities in comments. "
                "`conflict` unless the request is active (details.current_status); "
                "`not_found` also when the exchange has no route servers (nothing to "
                "configure).",
            ),
            Operation(
                "POST",
                f"{V1}/requests/{{request_id}}/approve",
                "approveRequest",
                "Approve a pending request (admin)",
                "admin",
                self.approve,
                ref("Request"),
                params=(REQUEST_ID,),
                errors=(*action_errors, "not_eligible"),
                tag="admin",
            ),
            Operation(
                "GET",
                f"{V1}/requests/{{request_id}}/member",
                "getMemberSettings",
                "A member's settings: display name, max-prefix, fixed addresses (admin)",
                "admin",
                self.member_settings,
                ref("MemberSettings"),
                params=(REQUEST_ID,),
                errors=("not_found",),
                tag="admin",
            ),
            Operation(
                "PATCH",
                f"{V1}/requests/{{request_id}}/member",
                "changeMemberSettings",
                "Change a member's settings (admin); null clears a name or a limit",
                "admin",
                self.change_member_settings,
                ref("MemberSettings"),
                params=(REQUEST_ID,),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "display_name": {"type": ["string", "null"], "maxLength": 120},
                        "max_prefix_v4": MAX_PREFIX,
                        "max_prefix_v6": MAX_PREFIX,
                        "ipv4": {"type": "string", "maxLength": 45},
                        "ipv6": {"type": "string", "maxLength": 45},
                    },
                },
                errors=("not_found", "conflict"),
                tag="admin",
                description="Audited as `member.settings_changed`. A name or limit change "
                "makes the route servers follow; an address change (approved or active "
                "members only) also re-authorizes the node on the controller.",
            ),
            Operation(
                "POST",
                f"{V1}/requests/{{request_id}}/reject",
                "rejectRequest",
                "Reject a pending request with a reason (admin)",
                "admin",
                self.reject,
                ref("Request"),
                params=(REQUEST_ID,),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["reason"],
                    "properties": {
                        "reason": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 1000,
                            "pattern": "\\S",
                        },
                    },
                },
                errors=action_errors,
                tag="admin",
            ),
            Operation(
                "POST",
                f"{V1}/requests/{{request_id}}/retry",
                "retryRequest",
                "Send a failed request back to provisioning (admin)",
                "admin",
                self.retry,
                ref("Request"),
                params=(REQUEST_ID,),
                errors=action_errors,
                tag="admin",
            ),
            Operation(
                "POST",
                f"{V1}/requests/{{request_id}}/remove",
                "removeRequest",
                "Take an active or failed member off the exchange (admin or owner)",
                "user",
                self.remove,
                ref("Request"),
                params=(REQUEST_ID,),
                errors=(*action_errors, "permission_denied"),
                tag="admin",
            ),
            Operation(
                "GET",
                f"{V1}/requests/{{request_id}}/looking-glass",
                "getLookingGlass",
                "The member's sessions and filtered routes on every route server, as the "
                "worker last read them (owner or admin)",
                "user",
                self.looking_glass,
                ref("LookingGlass"),
                params=(REQUEST_ID,),
                errors=("not_found",),
                tag="requests",
            ),
            Operation(
                "POST",
                f"{V1}/requests/{{request_id}}/looking-glass",
                "refreshLookingGlass",
                "Ask the worker for a fresh looking-glass reading (owner or admin); "
                "queued is false when one is on its way or the last is seconds old",
                "user",
                self.refresh_looking_glass,
                ref("LookingGlass"),
                params=(REQUEST_ID,),
                status=202,
                errors=("not_found", "conflict"),
                tag="requests",
            ),
            Operation(
                "GET",
                f"{V1}/route-servers",
                "listRouteServers",
                "Every route server's apply state, reachability and last apply (admin)",
                "admin",
                self.route_servers,
                {"type": "array", "items": ref("RouteServer")},
                tag="admin",
            ),
            Operation(
                "GET",
                f"{V1}/audit",
                "listAudit",
                "The audit trail, newest first (admin)",
                "admin",
                self.audit,
                {
                    "type": "object",
                    "required": ["items", "more", "limit", "offset"],
                    "properties": {
                        "items": {"type": "array", "items": ref("AuditEvent")},
                        "more": {"type": "boolean"},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                    },
                },
                params=(
                    Param(
                        "action",
                        "query",
                        {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
                        "only this action",
                    ),
                    Param(
                        "target_type",
                        "query",
                        {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
                        "with target_id: only events about this target",
                    ),
                    Param(
                        "target_id",
                        "query",
                        {"type": "string", "minLength": 1, "maxLength": 200},
                        "with target_type",
                    ),
                    LIMIT,
                    Param(
                        "offset",
                        "query",
                        {"type": "integer", "minimum": 0, "maximum": 9_999},
                        "events to skip (offset + limit at most 10,000)",
                    ),
                ),
                tag="admin",
            ),
        ]
