"""The self-hosted controller's JSON API (zerotier-one's service + embedded controller),
as a pure function from Request to Reply. ``docs/zerotier.md`` lists the behaviour ztix
relies on."""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ztix_adapters_zerotier.emulator import records, zt_json
from ztix_adapters_zerotier.emulator.http_types import (
    Reply,
    Request,
    empty_reply,
    json_reply,
    raw_json_reply,
)
from ztix_adapters_zerotier.emulator.state import ControllerState

VERSION = (1, 14, 1)
API_VERSION = 4
PRIMARY_PORT = 9993
#: paths the service answers without a token (from an allowed source address)
NO_AUTH_PATHS = frozenset({"/health", "/sso"})

_NWID = "([0-9a-fA-F]{16})"
_NODE = "([0-9a-fA-F]{10})"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_management_from(entries: Sequence[str]) -> list[Network]:
    """``settings.allowManagementFrom`` entries as networks. Like zerotier-one, an entry
    without ``/bits`` has a zero-length mask, so it matches every source of its family."""
    out: list[Network] = []
    for entry in entries:
        parsed = zt_json.parse_inet(entry)
        if parsed is None:
            continue
        address, bits = parsed
        out.append(ipaddress.ip_network(f"{address}/{bits}", strict=False))
    return out


def read_local_conf(home: Path) -> dict[str, object]:
    """``local.conf`` from the home (JSON), or an empty object."""
    try:
        value = json.loads((home / "local.conf").read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _management_allowed(client: str, allowed: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return True
    return any(address.version == net.version and address in net for net in allowed)


def _internal_error(description: str) -> Reply:
    # The controller formats this with snprintf into a 1024-byte buffer, unescaped.
    return raw_json_reply(500, f'{{"error": 500, "description": "{description}"}}'[:1023])


class ControllerApi:
    """Routes and handlers of a zerotier-one controller.

    ``database_ready`` is a fault switch: while False, ``GET /controller`` answers 503.
    """

    def __init__(
        self,
        state: ControllerState,
        *,
        allow_management_from: Sequence[str] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.state = state
        self.clock = clock or state.clock
        self.database_ready = True
        local_conf = read_local_conf(state.home)
        self.local_conf = local_conf
        settings = local_conf.get("settings")
        if allow_management_from is None:
            raw = settings.get("allowManagementFrom") if isinstance(settings, dict) else None
            allow_management_from = [str(x) for x in raw] if isinstance(raw, list) else []
        self.allow_management_from = list(allow_management_from)
        self._allowed = parse_allow_management_from(self.allow_management_from)
        self.port = PRIMARY_PORT
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile("/status"), self._status),
            ("GET", re.compile("/health"), self._health),
            ("GET", re.compile("/network"), self._joined_networks),
            ("GET", re.compile("/peer"), self._peers),
            ("GET", re.compile("/controller"), self._controller),
            ("GET", re.compile("/controller/network"), self._network_list),
            ("POST", re.compile("/controller/network"), self._network_create_new),
            ("POST", re.compile(f"/controller/network/{_NODE}______"), self._network_create),
            ("GET", re.compile(f"/controller/network/{_NWID}"), self._network_get),
            ("POST", re.compile(f"/controller/network/{_NWID}"), self._network_post),
            ("DELETE", re.compile(f"/controller/network/{_NWID}"), self._network_delete),
            ("GET", re.compile(f"/controller/network/{_NWID}/member"), self._member_list),
            ("GET", re.compile(f"/controller/network/{_NWID}/member/{_NODE}"), self._member_get),
            ("POST", re.compile(f"/controller/network/{_NWID}/member/{_NODE}"), self._member_post),
            (
                "DELETE",
                re.compile(f"/controller/network/{_NWID}/member/{_NODE}"),
                self._member_delete,
            ),
            ("GET", re.compile("/unstable/controller/network"), self._unstable_networks),
            (
                "GET",
                re.compile(f"/unstable/controller/network/{_NWID}/member"),
                self._unstable_members,
            ),
        ]

    # ------------------------------------------------------------------ dispatch

    def authorized(self, request: Request) -> bool:
        """The service's auth check: loopback or allowManagementFrom, then the token from
        X-ZT1-Auth, else ``?auth=``, else ``Authorization: Bearer``."""
        if not _management_allowed(request.client, self._allowed):
            return False
        if request.path in NO_AUTH_PATHS:
            return True
        token = self.state.token
        supplied: str | None
        if "x-zt1-auth" in request.headers:
            supplied = request.headers["x-zt1-auth"]
        elif request.param("auth") is not None:
            supplied = request.param("auth")
        elif "authorization" in request.headers:
            value = request.headers["authorization"].strip()
            scheme, _, rest = value.partition(" ")
            supplied = rest.strip() if scheme.lower() == "bearer" else None
        else:
            supplied = None
        return supplied is not None and hmac.compare_digest(supplied.encode(), token.encode())

    def handle(self, request: Request) -> Reply:
        """Answer one request."""
        if not self.authorized(request):
            return raw_json_reply(401, "{}")
        # httplib routes HEAD like GET; the controller registers PUT like POST
        method = {"HEAD": "GET", "PUT": "POST"}.get(request.method, request.method)
        for route_method, pattern, handler in self._routes:
            if route_method != method:
                continue
            match = pattern.fullmatch(request.path)
            if match is not None:
                try:
                    with self.state.lock:
                        return handler(request, *match.groups())
                except zt_json.JsonError as exc:
                    return _internal_error(str(exc))
        return empty_reply(404)

    # ------------------------------------------------------------------ service

    def _version(self) -> dict[str, object]:
        major, minor, rev = VERSION
        return {
            "version": f"{major}.{minor}.{rev}",
            "versionBuild": 0,
            "versionMajor": major,
            "versionMinor": minor,
            "versionRev": rev,
            "clock": self.clock(),
        }

    def _status(self, request: Request) -> Reply:
        config = json.loads(json.dumps(self.local_conf))
        settings = config.get("settings")
        if not isinstance(settings, dict):
            settings = config["settings"] = {}
        settings.update(
            {
                "allowManagementFrom": self.allow_management_from,
                "allowTcpFallbackRelay": zt_json.json_bool(
                    settings.get("allowTcpFallbackRelay"), True
                ),
                "forceTcpRelay": zt_json.json_bool(settings.get("forceTcpRelay"), False),
                "primaryPort": self.port,
                "homeDir": str(self.state.home),
                "listeningOn": [],
            }
        )
        return json_reply(
            200,
            {
                "address": self.state.address,
                "config": config,
                "online": True,
                "planetWorldId": 149604618,
                "planetWorldTimestamp": 1644592324813,
                "publicIdentity": self.state.identity.public,
                "tcpFallbackActive": False,
                **self._version(),
            },
        )

    def _health(self, request: Request) -> Reply:
        return json_reply(200, {"online": True, **self._version()})

    def _joined_networks(self, request: Request) -> Reply:
        return json_reply(200, [])  # a controller that has joined no network itself

    def _peers(self, request: Request) -> Reply:
        return json_reply(200, [])

    def _controller(self, request: Request) -> Reply:
        ready = self.database_ready
        text = (
            f'{{\n\t"controller": true,\n\t"apiVersion": {API_VERSION},\n\t"clock": '
            f'{self.clock()},\n\t"databaseReady": {"true" if ready else "false"}\n}}\n'
        )
        return raw_json_reply(200 if ready else 503, text)

    # ------------------------------------------------------------------ networks

    def _network_list(self, request: Request) -> Reply:
        return json_reply(200, self.state.network_ids())

    def _update_and_save_network(self, nwid: str, body: bytes) -> Reply:
        parsed = zt_json.parse(body)
        network = self.state.get_network(nwid) or {}
        records.init_network(network, self.clock())
        records.update_network(network, parsed)
        network["id"] = nwid
        network["nwid"] = nwid
        records.clean(network)
        return json_reply(200, self.state.save_network(network))

    def _network_create(self, request: Request, node: str) -> Reply:
        if node != self.state.address:
            return empty_reply(400)
        return self._update_and_save_network(self.state.fresh_network_id(), request.body)

    def _network_create_new(self, request: Request) -> Reply:
        return self._update_and_save_network(self.state.fresh_network_id(), request.body)

    def _network_post(self, request: Request, nwid: str) -> Reply:
        return self._update_and_save_network(nwid.lower(), request.body)

    def _network_get(self, request: Request, nwid: str) -> Reply:
        network = self.state.get_network(nwid)
        return empty_reply(404) if network is None else json_reply(200, network)

    def _network_delete(self, request: Request, nwid: str) -> Reply:
        network = self.state.delete_network(nwid)
        return empty_reply(404) if network is None else json_reply(200, network)

    # ------------------------------------------------------------------ members

    def _member_list(self, request: Request, nwid: str) -> Reply:
        if not self.state.has_network(nwid):
            return empty_reply(404)
        out: dict[str, int] = {}
        for raw_id, revision in self.state.member_revisions(nwid):
            member_id = zt_json.json_string(raw_id, "")
            if len(member_id) == 10:
                out[member_id] = zt_json.json_int(revision, 0)
        return json_reply(200, out)

    def _member_get(self, request: Request, nwid: str, member_id: str) -> Reply:
        member = self.state.get_member(nwid, member_id)
        return empty_reply(404) if member is None else json_reply(200, member)

    def _member_post(self, request: Request, nwid: str, member_id: str) -> Reply:
        if not self.state.has_network(nwid):
            return empty_reply(404)
        now = self.clock()
        member = self.state.get_member(nwid, member_id) or {}
        records.init_member(member, now)
        records.update_member(member, zt_json.parse(request.body), now)
        # the path's spelling is stored verbatim, uppercase included
        member["id"] = member_id
        member["address"] = member_id
        member["nwid"] = nwid
        records.clean(member)
        return json_reply(200, self.state.save_member(nwid, member_id, member))

    def _member_delete(self, request: Request, nwid: str, member_id: str) -> Reply:
        if not self.state.has_network(nwid):
            return empty_reply(404)
        member = self.state.delete_member(nwid, member_id)
        return empty_reply(404) if member is None else json_reply(200, member)

    # ------------------------------------------------------------------ unstable

    def _unstable_networks(self, request: Request) -> Reply:
        networks = []
        for nwid in self.state.network_ids():
            network = self.state.get_network(nwid)
            if network is None:
                continue
            members = self.state.members(nwid)
            network["meta"] = {
                "totalMemberCount": len(members),
                "authorizedMemberCount": sum(
                    1 for m in members if zt_json.json_bool(m.get("authorized"), False)
                ),
            }
            networks.append(network)
        return json_reply(200, {"data": networks, "meta": {"networkCount": len(networks)}})

    def _unstable_members(self, request: Request, nwid: str) -> Reply:
        if not self.state.has_network(nwid):
            return empty_reply(404)
        members = self.state.members(nwid)
        authorized = sum(1 for m in members if zt_json.json_bool(m.get("authorized"), False))
        return json_reply(
            200,
            {
                "data": members,
                "meta": {"totalCount": len(members), "authorizedCount": authorized},
            },
        )
