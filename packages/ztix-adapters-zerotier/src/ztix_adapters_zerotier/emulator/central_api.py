"""ZeroTier Central API v1 (compatibility mode), served under ``/api/v1``.

Members and networks are stored in the same controller-format records as the self-hosted
emulation; Central's shape (``config`` sub-object, ``<nwid>-<node>`` ids, top-level
``name`` / ``description`` / ``hidden``) is a view over them. A fixed one-second window
rate limit answers 429 with ``X-Ratelimit-Limit/Remaining/Reset`` headers.
"""

from __future__ import annotations

import hmac
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ztix_adapters_zerotier.emulator import records, zt_json
from ztix_adapters_zerotier.emulator.http_types import Reply, Request, empty_reply, json_reply
from ztix_adapters_zerotier.emulator.state import ControllerState, Record

PREFIX = "/api/v1"
_NWID = "([0-9a-fA-F]{16})"
_NODE = "([0-9a-fA-F]{10})"

_CONFIG_BOOLS = ("authorized", "activeBridge", "noAutoAssignIps")


class BadRequest(Exception):
    """A body Central refuses (400)."""


def _message(status: int, message: str) -> Reply:
    return json_reply(status, {"message": message})


class CentralApi:
    """The Central API v1 over a ControllerState. ``forbidden`` holds network ids that
    belong to another account (403)."""

    def __init__(
        self,
        state: ControllerState,
        *,
        rate_limit: int | None = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.rate_limit = rate_limit
        self.clock = clock
        self.forbidden: set[str] = set()
        self._window = 0
        self._used = 0
        self._lock = threading.Lock()
        node = f"{PREFIX}/network/{_NWID}/member/{_NODE}"
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(f"{PREFIX}/status"), self._status),
            ("GET", re.compile(f"{PREFIX}/network"), self._network_list),
            ("POST", re.compile(f"{PREFIX}/network"), self._network_create),
            ("GET", re.compile(f"{PREFIX}/network/{_NWID}"), self._network_get),
            ("POST", re.compile(f"{PREFIX}/network/{_NWID}"), self._network_post),
            ("DELETE", re.compile(f"{PREFIX}/network/{_NWID}"), self._network_delete),
            ("GET", re.compile(f"{PREFIX}/network/{_NWID}/member"), self._member_list),
            ("GET", re.compile(node), self._member_get),
            ("POST", re.compile(node), self._member_post),
            ("DELETE", re.compile(node), self._member_delete),
        ]

    # ------------------------------------------------------------------ dispatch

    def authorized(self, request: Request) -> bool:
        """``Authorization: token <t>`` (``Bearer`` is accepted too)."""
        scheme, _, supplied = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return False
        return hmac.compare_digest(supplied.strip().encode(), self.state.token.encode())

    def _rate(self) -> tuple[bool, dict[str, str]]:
        if self.rate_limit is None:
            return True, {}
        now = self.clock()
        with self._lock:
            window = math.floor(now)
            if window != self._window:
                self._window, self._used = window, 0
            self._used += 1
            allowed = self._used <= self.rate_limit
            remaining = max(0, self.rate_limit - self._used)
        headers = {
            "X-Ratelimit-Limit": str(self.rate_limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Reset": str(window + 1),
        }
        return allowed, headers

    def handle(self, request: Request) -> Reply:
        """Answer one request."""
        allowed, headers = self._rate()
        reply = self._handle(request) if allowed else _message(429, "rate limit exceeded")
        reply.headers.update(headers)
        return reply

    def _handle(self, request: Request) -> Reply:
        if not self.authorized(request):
            return _message(401, "Unauthorized")
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method != request.method or match is None:
                continue
            args = [g.lower() for g in match.groups()]
            if args and args[0] in self.forbidden:
                return _message(403, "Forbidden")
            try:
                with self.state.lock:
                    return handler(request, *args)
            except BadRequest as exc:
                return _message(400, str(exc))
        return _message(404, "Not Found")

    # ------------------------------------------------------------------ views

    def _network_view(self, network: Record) -> Record:
        nwid = str(network["id"])
        members = self.state.members(nwid)
        config = {k: v for k, v in network.items() if k not in ("description", "rulesSource")}
        config.pop("objtype", None)
        return {
            "id": nwid,
            "type": "Network",
            "clock": int(self.clock() * 1000),
            "config": config,
            "description": network.get("description", ""),
            "rulesSource": network.get("rulesSource", ""),
            "permissions": {},
            "ownerId": "",
            "onlineMemberCount": 0,
            "authorizedMemberCount": sum(1 for m in members if m.get("authorized") is True),
            "totalMemberCount": len(members),
            "capabilitiesByName": {},
            "tagsByName": {},
        }

    def _member_view(self, member: Record) -> Record:
        nwid, node = str(member["nwid"]).lower(), str(member["id"]).lower()
        config = {k: v for k, v in member.items() if k not in ("name", "description", "hidden")}
        return {
            "id": f"{nwid}-{node}",
            "type": "Member",
            "clock": int(self.clock() * 1000),
            "networkId": nwid,
            "nodeId": node,
            "controllerId": nwid[:10],
            "hidden": member.get("hidden", False),
            "name": member.get("name", ""),
            "description": member.get("description", ""),
            "config": config,
            "lastOnline": 0,
            "lastSeen": 0,
            "physicalAddress": None,
            "clientVersion": "",
            "protocolVersion": 0,
            "supportsRulesEngine": False,
        }

    # ------------------------------------------------------------------ handlers

    def _status(self, request: Request) -> Reply:
        return json_reply(
            200,
            {
                "id": "central-emulator",
                "type": "CentralStatus",
                "clock": int(self.clock() * 1000),
                "version": "emulated",
                "apiVersion": "4",
                "readOnlyMode": False,
                "user": {"id": "emulated-user"},
            },
        )

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = zt_json.parse(request.body) if request.body.strip() else {}
        except zt_json.JsonError:
            raise BadRequest("request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        return body

    def create_network(self, name: str = "", nwid: str | None = None) -> str:
        """Create a network (a random id under the account's prefix unless given)."""
        new_id = (nwid or self.state.fresh_network_id()).lower()
        network: Record = {}
        records.init_network(network, int(self.clock() * 1000))
        records.update_network(network, {"name": name})
        network["id"] = network["nwid"] = new_id
        self.state.save_network(network)
        return new_id

    def _apply_network_body(self, network: Record, body: dict[str, Any]) -> None:
        config = body.get("config", {})
        if not isinstance(config, dict):
            raise BadRequest("config must be an object")
        records.update_network(network, config)
        for key in ("description", "rulesSource"):
            if key in body:
                if not isinstance(body[key], str):
                    raise BadRequest(f"{key} must be a string")
                network[key] = body[key]

    def _network_list(self, request: Request) -> Reply:
        networks = [self.state.get_network(n) for n in self.state.network_ids()]
        return json_reply(
            200,
            [self._network_view(n) for n in networks if n and n["id"] not in self.forbidden],
        )

    def _network_create(self, request: Request) -> Reply:
        body = self._body(request)
        nwid = self.create_network()
        network = self.state.get_network(nwid) or {}
        self._apply_network_body(network, body)
        return json_reply(200, self._network_view(self.state.save_network(network)))

    def _network_get(self, request: Request, nwid: str) -> Reply:
        network = self.state.get_network(nwid)
        if network is None:
            return _message(404, "Not Found")
        return json_reply(200, self._network_view(network))

    def _network_post(self, request: Request, nwid: str) -> Reply:
        network = self.state.get_network(nwid)
        if network is None:
            return _message(404, "Not Found")
        self._apply_network_body(network, self._body(request))
        return json_reply(200, self._network_view(self.state.save_network(network)))

    def _network_delete(self, request: Request, nwid: str) -> Reply:
        if self.state.delete_network(nwid) is None:
            return _message(404, "Not Found")
        return empty_reply(200)

    def _member_list(self, request: Request, nwid: str) -> Reply:
        if not self.state.has_network(nwid):
            return _message(404, "Not Found")
        return json_reply(200, [self._member_view(m) for m in self.state.members(nwid)])

    def _member_get(self, request: Request, nwid: str, node: str) -> Reply:
        member = self.state.get_member(nwid, node)
        if member is None:
            return _message(404, "Not Found")
        return json_reply(200, self._member_view(member))

    def _member_post(self, request: Request, nwid: str, node: str) -> Reply:
        if not self.state.has_network(nwid):
            return _message(404, "Not Found")
        body = self._body(request)
        config = body.get("config", {})
        if not isinstance(config, dict):
            raise BadRequest("config must be an object")
        for key in _CONFIG_BOOLS:
            if key in config and not isinstance(config[key], bool):
                raise BadRequest(f"config.{key} must be a boolean")
        ips = config.get("ipAssignments")
        if ips is not None and (
            not isinstance(ips, list) or not all(isinstance(i, str) for i in ips)
        ):
            raise BadRequest("config.ipAssignments must be a list of strings")
        for key in ("name", "description"):
            if key in body and not isinstance(body[key], str):
                raise BadRequest(f"{key} must be a string")
        if "hidden" in body and not isinstance(body["hidden"], bool):
            raise BadRequest("hidden must be a boolean")
        now = int(self.clock() * 1000)
        member = self.state.get_member(nwid, node) or {}
        records.init_member(member, now)
        update = {k: v for k, v in config.items() if k != "name"}
        if "name" in body:
            update["name"] = body["name"]
        records.update_member(member, update, now)
        for key in ("description", "hidden"):
            if key in body:
                member[key] = body[key]
        member["id"] = member["address"] = node
        member["nwid"] = nwid
        records.clean(member)
        return json_reply(200, self._member_view(self.state.save_member(nwid, node, member)))

    def _member_delete(self, request: Request, nwid: str, node: str) -> Reply:
        if not self.state.has_network(nwid):
            return _message(404, "Not Found")
        if self.state.delete_member(nwid, node) is None:
            return _message(404, "Not Found")
        return empty_reply(200)
