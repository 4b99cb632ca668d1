"""Network and member records: zerotier-one's defaults (``DB::initNetwork`` /
``DB::initMember``) and its partial-update rules for POST bodies."""

from __future__ import annotations

import ipaddress
from typing import Any

from ztix_adapters_zerotier.emulator import zt_json
from ztix_adapters_zerotier.emulator.rules import normalise_rules
from ztix_adapters_zerotier.emulator.state import Record

DEFAULT_MTU = 2800
MIN_MTU = 1280
MAX_MTU = 10000
MAX_ARRAY = 16384
_U32 = 0xFFFFFFFF


def init_network(network: Record, now: int) -> None:
    """Fill the defaults a fresh network gets (``DB::initNetwork``)."""
    defaults: dict[str, Any] = {
        "private": True,
        "creationTime": now,
        "name": "",
        "multicastLimit": 32,
        "enableBroadcast": True,
        "v4AssignMode": {"zt": False},
        "v6AssignMode": {"rfc4193": False, "zt": False, "6plane": False},
        "authTokens": [None],
        "capabilities": [],
        "tags": [],
        "routes": [],
        "ipAssignmentPools": [],
        "mtu": DEFAULT_MTU,
        "remoteTraceTarget": None,
        "remoteTraceLevel": 0,
        "rulesSource": "",
        "rules": [{"not": False, "or": False, "type": "ACTION_ACCEPT"}],
        "dns": [],
        "ssoEnabled": False,
        "clientId": "",
        "authorizationEndpoint": "",
        "revision": 0,
    }
    for key, value in defaults.items():
        network.setdefault(key, value)
    network["objtype"] = "network"


def init_member(member: Record, now: int) -> None:
    """Fill the defaults a fresh member gets (``DB::initMember``)."""
    defaults: dict[str, Any] = {
        "authorized": False,
        "ssoExempt": False,
        "ipAssignments": [],
        "activeBridge": False,
        "tags": [],
        "capabilities": [],
        "creationTime": now,
        "noAutoAssignIps": False,
        "revision": 0,
        "lastDeauthorizedTime": 0,
        "lastAuthorizedTime": 0,
        "lastAuthorizedCredentialType": None,
        "lastAuthorizedCredential": None,
        "authenticationExpiryTime": 0,
        "vMajor": -1,
        "vMinor": -1,
        "vRev": -1,
        "vProto": -1,
        "remoteTraceTarget": None,
        "remoteTraceLevel": 0,
    }
    for key, value in defaults.items():
        member.setdefault(key, value)
    member["objtype"] = "member"


def clean(record: Record) -> None:
    """Drop the computed keys the controller never stores (``DB::cleanMember/Network``)."""
    for key in (
        "clock",
        "authorizedMemberCount",
        "activeMemberCount",
        "totalMemberCount",
        "lastModified",
        "physicalAddress",
        "recentLog",
        "lastRequestMetaData",
    ):
        record.pop(key, None)


def normalise_ip_assignments(value: list[Any]) -> list[str]:
    """The controller's ``ipAssignments`` rules: a non-string element raises (a 500), a
    malformed string with ``.`` or ``:`` is stored as ``0.0.0.0`` / ``::`` and one with
    neither is dropped, ``/len`` is stripped, IPv6 is normalised, duplicates stay."""
    out: list[str] = []
    for item in value:
        text = zt_json.get_string(item)
        parsed = zt_json.parse_inet_lenient(text)
        if parsed is not None:
            out.append(zt_json.ip_string(parsed[0]))
            if len(out) >= MAX_ARRAY:
                break
    return out


def update_member(member: Record, body: Any, now: int) -> None:
    """Apply a POST body to ``member`` in place (``memberPost``); other keys are ignored.
    Raises JsonError (a 500) for a non-string ipAssignments element."""
    if not isinstance(body, dict):
        return  # `[]`, a bare string, a number: nothing counts, a silent no-op
    if "activeBridge" in body:
        member["activeBridge"] = zt_json.json_bool(body["activeBridge"], False)
    if "noAutoAssignIps" in body:
        member["noAutoAssignIps"] = zt_json.json_bool(body["noAutoAssignIps"], False)
    if "authenticationExpiryTime" in body:
        member["authenticationExpiryTime"] = zt_json.json_int(body["authenticationExpiryTime"], 0)
    if "authenticationURL" in body:
        member["authenticationURL"] = zt_json.json_string(body["authenticationURL"], "")
    if "name" in body:
        member["name"] = zt_json.json_string(body["name"], "")
    _remote_trace(member, body)
    if "authorized" in body:
        new_auth = zt_json.json_bool(body["authorized"], False)
        if new_auth != zt_json.json_bool(member.get("authorized"), False):
            member["authorized"] = new_auth
            member["lastAuthorizedTime" if new_auth else "lastDeauthorizedTime"] = now
            if new_auth:
                member["lastAuthorizedCredentialType"] = "api"
                member["lastAuthorizedCredential"] = None
    if "ipAssignments" in body and isinstance(body["ipAssignments"], list):
        member["ipAssignments"] = normalise_ip_assignments(body["ipAssignments"])
    if "tags" in body and isinstance(body["tags"], list):
        tags: dict[int, int] = {}
        for tag in body["tags"]:
            if isinstance(tag, list) and len(tag) == 2:
                tags[zt_json.json_int(tag[0], 0) & _U32] = zt_json.json_int(tag[1], 0) & _U32
        member["tags"] = [[k, v] for k, v in sorted(tags.items())][:MAX_ARRAY]
    if "capabilities" in body and isinstance(body["capabilities"], list):
        caps = {zt_json.json_int(c, 0) for c in body["capabilities"][:MAX_ARRAY]}
        member["capabilities"] = sorted(caps)


def _route(item: Any) -> Record | None:
    if not isinstance(item, dict) or not isinstance(item.get("target"), str):
        return None
    target = zt_json.parse_inet(item["target"])
    if target is None:
        return None
    address, bits = target
    if bits > (32 if isinstance(address, ipaddress.IPv4Address) else 128):
        return None
    via_value = item.get("via")
    via = zt_json.parse_inet(via_value) if isinstance(via_value, str) else None
    return {
        "target": f"{zt_json.ip_string(address)}/{bits}",
        "via": zt_json.ip_string(via[0])
        if via is not None and via[0].version == address.version
        else None,
    }


def _pools(value: list[Any]) -> list[Record]:
    # a bad entry is skipped, the others kept; a malformed address with "." or ":" becomes
    # 0.0.0.0 / :: (see parse_inet_lenient)
    pools: list[Record] = []
    for item in value:
        if not isinstance(item, dict) or "ipRangeStart" not in item or "ipRangeEnd" not in item:
            continue
        start = zt_json.parse_inet_lenient(zt_json.json_string(item["ipRangeStart"], ""))
        end = zt_json.parse_inet_lenient(zt_json.json_string(item["ipRangeEnd"], ""))
        if start is None or end is None or start[0].version != end[0].version:
            continue
        pools.append(
            {"ipRangeStart": zt_json.ip_string(start[0]), "ipRangeEnd": zt_json.ip_string(end[0])}
        )
        if len(pools) >= MAX_ARRAY:
            break
    return pools


def _v6_assign_mode(value: Any) -> Record:
    if isinstance(value, str):
        modes = set(zt_json.json_string(value, "").split(","))
        return {name: name in modes for name in ("rfc4193", "zt", "6plane")}
    if isinstance(value, dict):
        # a partial object drops the keys left out
        return {
            name: zt_json.json_bool(value[name], False)
            for name in ("rfc4193", "zt", "6plane")
            if name in value
        }
    return {"rfc4193": False, "zt": False, "6plane": False}


def update_network(network: Record, body: Any) -> None:
    """Apply a POST body to ``network`` in place (the controller's network update)."""
    if not isinstance(body, dict):
        return
    if "name" in body:
        network["name"] = zt_json.json_string(body["name"], "")
    if "private" in body:
        network["private"] = zt_json.json_bool(body["private"], True)
    if "enableBroadcast" in body:
        network["enableBroadcast"] = zt_json.json_bool(body["enableBroadcast"], False)
    if "multicastLimit" in body:
        network["multicastLimit"] = zt_json.json_int(body["multicastLimit"], 32)
    if "mtu" in body:
        mtu = zt_json.json_int(body["mtu"], DEFAULT_MTU) & _U32
        network["mtu"] = max(min(mtu, MAX_MTU), MIN_MTU)
    _remote_trace(network, body)
    if "v4AssignMode" in body:
        v4 = body["v4AssignMode"]
        if isinstance(v4, str):
            network["v4AssignMode"] = {"zt": v4 == "zt"}
        elif isinstance(v4, dict):
            network["v4AssignMode"] = {"zt": zt_json.json_bool(v4.get("zt"), False)}
        else:
            network["v4AssignMode"] = {"zt": False}
    if "v6AssignMode" in body:
        network["v6AssignMode"] = _v6_assign_mode(body["v6AssignMode"])
    if "routes" in body and isinstance(body["routes"], list):
        network["routes"] = [r for r in map(_route, body["routes"]) if r is not None][:MAX_ARRAY]
    if "ipAssignmentPools" in body and isinstance(body["ipAssignmentPools"], list):
        network["ipAssignmentPools"] = _pools(body["ipAssignmentPools"])
    if "rules" in body and isinstance(body["rules"], list):
        network["rules"] = normalise_rules(body["rules"], MAX_ARRAY)
    if "authTokens" in body:
        tokens = body["authTokens"]
        network["authTokens"] = (
            {k: v for k, v in tokens.items() if _is_number(v) and v >= 0}
            if isinstance(tokens, dict)
            else [None]
        )
    if "capabilities" in body and isinstance(body["capabilities"], list):
        caps: dict[int, Record] = {}
        for cap in body["capabilities"]:
            if isinstance(cap, dict):
                cap_id = zt_json.json_int(cap.get("id"), 0)
                rules = cap.get("rules")
                caps[cap_id] = {
                    "id": cap_id,
                    "default": zt_json.json_bool(cap.get("default"), False),
                    "rules": normalise_rules(rules, MAX_ARRAY) if isinstance(rules, list) else [],
                }
        network["capabilities"] = [caps[k] for k in sorted(caps)][:MAX_ARRAY]
    if "tags" in body and isinstance(body["tags"], list):
        tags: dict[int, Record] = {}
        for tag in body["tags"]:
            if isinstance(tag, dict):
                tag_id = zt_json.json_int(tag.get("id"), 0)
                default = tag.get("default")
                tags[tag_id] = {
                    "id": tag_id,
                    "default": None if default is None else zt_json.json_int(default, 0),
                }
        network["tags"] = [tags[k] for k in sorted(tags)][:MAX_ARRAY]
    if "dns" in body and isinstance(body["dns"], dict):
        dns = body["dns"]
        new_dns: Record = {"domain": dns.get("domain")}
        if isinstance(dns.get("servers"), list):
            new_dns["servers"] = list(dns["servers"])  # kept as sent
        network["dns"] = new_dns


def _remote_trace(record: Record, body: dict[str, Any]) -> None:
    if "remoteTraceTarget" in body:
        target = zt_json.json_string(body["remoteTraceTarget"], "")
        record["remoteTraceTarget"] = target if len(target) == 10 else None
    if "remoteTraceLevel" in body:
        record["remoteTraceLevel"] = zt_json.json_int(body["remoteTraceLevel"], 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
