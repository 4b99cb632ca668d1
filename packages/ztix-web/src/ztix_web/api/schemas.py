"""JSON shapes of the API: the records as the API shows them, and their JSON Schemas (the
``components.schemas`` of the OpenAPI document). Each ``*_json`` function and its schema
sit together so that one cannot change without the other in sight."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ztix_core.api_ports import ApiToken
from ztix_core.looking_glass import servers_to_json
from ztix_core.records import AuditEvent, JoinRequest, MemberFacts, Membership, User, ZtNetwork
from ztix_core.status import RequestStatus
from ztix_core.usecases.looking_glass import LookingGlassView
from ztix_core.usecases.oversight import RouteServerOverview
from ztix_core.usecases.queries import AsnEligibility
from ztix_web.pages import ServerView

Schema = dict[str, Any]

STATUSES = [s.value for s in RequestStatus]
UUID: Schema = {"type": "string", "format": "uuid"}
TIME: Schema = {"type": "string", "format": "date-time"}
# The same rules as ztix_core.values (Asn, NodeId): what these admit, the core accepts.
ASN: Schema = {
    "type": "integer",
    "minimum": 1,
    "maximum": 4294967294,
    "not": {"enum": [23456, 65535]},
}
NETWORK_ID: Schema = {"type": "string", "pattern": "^[0-9a-f]{16}$"}
NODE_ID: Schema = {
    "type": "string",
    "pattern": "^([0-9a-e][0-9a-f]|f[0-9a-e])[0-9a-f]{8}$",
    "not": {"const": "0000000000"},
}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    """A reference to ``components.schemas.<name>``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Schema]) -> Schema:
    return {"type": "object", "required": sorted(props), "properties": props}


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "is_admin": user.is_admin,
    }


def request_json(r: JoinRequest) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "user_id": str(r.user_id),
        "asn": r.asn.value,
        "network_id": r.network_id.value,
        "node_id": r.node_id.value,
        "status": r.status.value,
        "notes": r.notes,
        "reject_reason": r.reject_reason,
        "last_error": r.last_error,
        "retry_count": r.retry_count,
        "requested_at": _time(r.requested_at),
        "updated_at": _time(r.updated_at),
        "decided_at": _time(r.decided_at),
        "decided_by": r.decided_by,
        "provisioned_at": _time(r.provisioned_at),
    }


def membership_json(m: Membership | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "ipv4": str(m.ipv4),
        "ipv6": str(m.ipv6),
        "authorized": m.authorized,
        "config_generation": m.config_generation,
    }


def event_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "at": _time(e.at),
        "actor": e.actor,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "metadata": e.metadata,
    }


def server_view_json(v: ServerView) -> dict[str, Any]:
    return {
        "name": v.name,
        "state": v.state,
        "applied_generation": v.applied_generation,
        "desired_generation": v.desired_generation,
        "last_error": v.last_error,
    }


def network_json(n: ZtNetwork) -> dict[str, Any]:
    return {
        "id": n.id.value,
        "name": n.name,
        "description": n.description,
        "ipv4_prefix": str(n.ipv4_prefix),
        "ipv6_prefix": str(n.ipv6_prefix),
    }


def asn_json(a: AsnEligibility) -> dict[str, Any]:
    return {"asn": a.asn.value, "name": a.name, "eligible": a.refusal is None, "reason": a.refusal}


def route_server_json(o: RouteServerOverview) -> dict[str, Any]:
    st, rd, la = o.state, o.reading, o.last_apply
    return {
        "name": o.name,
        "desired_generation": st.desired_generation if st else None,
        "applied_generation": st.applied_generation if st else None,
        "behind": st.behind if st else None,
        "last_error": st.last_error if st else None,
        "last_attempt_at": _time(st.last_attempt_at) if st else None,
        "reachable": rd.reachable if rd else None,
        "observed_at": _time(rd.observed_at) if rd else None,
        "sessions_total": rd.sessions_total if rd else None,
        "sessions_established": rd.sessions_established if rd else None,
        "last_apply": None
        if la is None
        else {
            "at": _time(la.at),
            "result": la.result,
            "generation": la.generation,
            "stage": la.stage,
            "message": la.message,
        },
    }


def member_settings_json(f: MemberFacts) -> dict[str, Any]:
    return {
        "request_id": str(f.request_id),
        "display_name": f.display_name,
        "max_prefix_v4": f.max_prefix_v4,
        "max_prefix_v6": f.max_prefix_v6,
        "ipv4": str(f.ipv4) if f.ipv4 is not None else None,
        "ipv6": str(f.ipv6) if f.ipv6 is not None else None,
        "updated_at": _time(f.updated_at),
        "updated_by": f.updated_by,
    }


def token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "name": t.name,
        "scope": t.scope.value,
        "prefix": t.prefix,
        "created_at": _time(t.created_at),
        "expires_at": _time(t.expires_at),
        "last_used_at": _time(t.last_used_at),
        "revoked_at": _time(t.revoked_at),
    }


def looking_glass_json(view: LookingGlassView) -> dict[str, Any]:
    snapshot = view.snapshot
    return {
        "request_id": str(view.request.id),
        "asn": view.asn.value,
        "available": view.available,
        "observed_at": _time(view.observed_at),
        "requested_at": _time(snapshot.requested_at if snapshot else None),
        "pending": view.pending,
        "queued": view.queued,
        "servers": servers_to_json(snapshot.servers) if snapshot and view.observed_at else [],
    }


_STR_OR_NULL = _nullable({"type": "string"})
_INT_OR_NULL = _nullable({"type": "integer"})
_TIME_OR_NULL = _nullable(TIME)
_COUNT: Schema = {"type": "integer", "minimum": 0}
_STR: Schema = {"type": "string"}

COMPONENTS: dict[str, Schema] = {
    "User": _obj(
        {
            "id": UUID,
            "username": _STR_OR_NULL,
            "display_name": {"type": "string"},
            "email": _STR_OR_NULL,
            "is_admin": {"type": "boolean"},
        }
    ),
    "Request": _obj(
        {
            "id": UUID,
            "user_id": UUID,
            "asn": ASN,
            "network_id": NETWORK_ID,
            "node_id": NODE_ID,
            "status": {"type": "string", "enum": STATUSES},
            "notes": {"type": "string"},
            "reject_reason": _STR_OR_NULL,
            "last_error": _STR_OR_NULL,
            "retry_count": {"type": "integer", "minimum": 0},
            "requested_at": TIME,
            "updated_at": TIME,
            "decided_at": _TIME_OR_NULL,
            "decided_by": _STR_OR_NULL,
            "provisioned_at": _TIME_OR_NULL,
        }
    ),
    "Membership": _obj(
        {
            "ipv4": {"type": "string", "format": "ipv4"},
            "ipv6": {"type": "string", "format": "ipv6"},
            "authorized": {"type": "boolean"},
            "config_generation": _INT_OR_NULL,
        }
    ),
    "MemberSettings": _obj(
        {
            "request_id": UUID,
            "display_name": _STR_OR_NULL,
            "max_prefix_v4": _INT_OR_NULL,
            "max_prefix_v6": _INT_OR_NULL,
            "ipv4": _STR_OR_NULL,
            "ipv6": _STR_OR_NULL,
            "updated_at": _TIME_OR_NULL,
            "updated_by": {"type": "string"},
        }
    ),
    "AuditEvent": _obj(
        {
            "id": UUID,
            "at": TIME,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "target_type": {"type": "string"},
            "target_id": {"type": "string"},
            "metadata": {"type": "object"},
        }
    ),
    "ServerState": _obj(
        {
            "name": {"type": "string"},
            "state": {
                "type": "string",
                "enum": ["not yet configured", "applied", "failing", "waiting"],
            },
            "applied_generation": {"type": "integer"},
            "desired_generation": {"type": "integer"},
            "last_error": _STR_OR_NULL,
        }
    ),
    "RequestDetail": _obj(
        {
            "request": ref("Request"),
            "membership": _nullable(ref("Membership")),
            "timeline": {"type": "array", "items": ref("AuditEvent")},
            "route_servers": {"type": "array", "items": ref("ServerState")},
        }
    ),
    "Network": _obj(
        {
            "id": NETWORK_ID,
            "name": {"type": "string"},
            "description": {"type": "string"},
            "ipv4_prefix": {"type": "string"},
            "ipv6_prefix": {"type": "string"},
        }
    ),
    "Asn": _obj(
        {
            "asn": ASN,
            "name": _STR_OR_NULL,
            "eligible": {"type": "boolean"},
            "reason": _STR_OR_NULL,
        }
    ),
    "RouteServer": _obj(
        {
            "name": {"type": "string"},
            "desired_generation": _INT_OR_NULL,
            "applied_generation": _INT_OR_NULL,
            "behind": _nullable({"type": "boolean"}),
            "last_error": _STR_OR_NULL,
            "last_attempt_at": _TIME_OR_NULL,
            "reachable": _nullable({"type": "boolean"}),
            "observed_at": _TIME_OR_NULL,
            "sessions_total": _INT_OR_NULL,
            "sessions_established": _INT_OR_NULL,
            "last_apply": _nullable({"type": "object"}),
        }
    ),
    "Token": _obj(
        {
            "id": UUID,
            "name": {"type": "string"},
            "scope": {"type": "string", "enum": ["operator", "admin"]},
            "prefix": {"type": "string"},
            "created_at": TIME,
            "expires_at": _TIME_OR_NULL,
            "last_used_at": _TIME_OR_NULL,
            "revoked_at": _TIME_OR_NULL,
        }
    ),
    "LookingGlass": _obj(
        {
            "request_id": UUID,
            "asn": ASN,
            "available": {
                "type": "boolean",
                "description": "the member may be on the route servers (request status)",
            },
            "observed_at": _TIME_OR_NULL,
            "requested_at": _TIME_OR_NULL,
            "pending": {"type": "boolean", "description": "a newer reading is on its way"},
            "queued": {"type": "boolean", "description": "this call asked for a new reading"},
            "servers": {"type": "array", "items": ref("LookingGlassServer")},
        }
    ),
    "LookingGlassServer": _obj(
        {
            "server": _STR,
            "error": {"type": "string", "description": "why the server could not be asked"},
            "note": {"type": "string", "description": "why the answer is partial"},
            "sessions": {
                "type": "array",
                "items": _obj(
                    {
                        "protocol": _STR,
                        "state": _STR,
                        "established": {"type": "boolean"},
                        "since": _STR,
                        "info": _STR,
                        "last_error": _STR,
                        "received": _COUNT,
                        "accepted": _COUNT,
                        "filtered": _COUNT,
                        "exported": _COUNT,
                        "import_limit_hit": {"type": "boolean"},
                    }
                ),
            },
            "filtered_routes": {
                "type": "array",
                "items": _obj(
                    {
                        "prefix": _STR,
                        "protocol": _STR,
                        "reasons": {"type": "array", "items": _STR},
                        "reason_codes": {"type": "array", "items": {"type": "integer"}},
                        "rpki": {
                            "type": "string",
                            "description": "valid, invalid, unknown, or empty: not checked",
                        },
                        "as_path": _STR,
                        "next_hop": _STR,
                    }
                ),
            },
            "filtered_total": _COUNT,
            "not_shown": _COUNT,
        }
    ),
}
