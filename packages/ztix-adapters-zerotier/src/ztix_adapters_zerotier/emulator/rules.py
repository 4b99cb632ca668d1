"""Flow rules as the controller stores them: each posted rule is parsed into the node's
binary rule (``_parseRule``) and rendered back (``_renderRule``), so unknown types are
dropped, fields are coerced and masked, and actions lose their ``not``/``or`` flags."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from ztix_adapters_zerotier.emulator import zt_json

Rule = dict[str, Any]
_U64 = 0xFFFFFFFFFFFFFFFF
_U32 = 0xFFFFFFFF


def hex_u64(text: str) -> int:
    """``Utils::hexStrToU64``: the leading hex digits of ``text`` (0 when none)."""
    match = re.match(r"\s*(?:0[xX])?([0-9a-fA-F]+)", text)
    return int(match.group(1)[-16:], 16) if match else 0


def _int(rule: Rule, key: str, mask: int, default: int = 0) -> int:
    return zt_json.json_int(rule.get(key), default) & mask


def _address(rule: Rule, key: str) -> str:
    return f"{hex_u64(zt_json.json_string(rule.get(key), '0')) & 0xFFFFFFFFFF:010x}"


def _mac(rule: Rule) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", zt_json.json_string(rule.get("mac"), "0"))
    raw = bytes.fromhex(digits[: len(digits) // 2 * 2][:12]).ljust(6, b"\0")
    return ":".join(f"{b:02x}" for b in raw)


def _ip(rule: Rule, version: int) -> str:
    default = "0.0.0.0" if version == 4 else "::0"
    parsed = zt_json.parse_inet(zt_json.json_string(rule.get("ip"), default))
    limit = 32 if version == 4 else 128
    if parsed is None or parsed[0].version != version:
        address: zt_json.Address = ipaddress.ip_address(0 if version == 4 else "::")
        bits = parsed[1] if parsed is not None else 0
    else:
        address, bits = parsed
    return f"{zt_json.ip_string(address)}/{min(bits & 0xFF, limit)}"


def _range(rule: Rule, mask: int) -> Rule:
    start = _int(rule, "start", mask)
    return {"start": start, "end": _int(rule, "end", mask, start)}


def _icmp(rule: Rule) -> Rule:
    code = rule.get("icmpCode")
    return {
        "icmpType": _int(rule, "icmpType", 0xFF),
        "icmpCode": None if code is None else zt_json.json_int(code, 0) & 0xFF,
    }


def _characteristics(rule: Rule) -> Rule:
    value = rule.get("mask", 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value) & _U64
    else:
        number = hex_u64(zt_json.get_string(value))  # a non-string raises like nlohmann
    return {"mask": f"{number:016x}"}


def _tag(rule: Rule) -> Rule:
    return {"id": _int(rule, "id", _U32), "value": _int(rule, "value", _U32)}


def _integer_range(rule: Rule) -> Rule:
    def number(key: str) -> int:
        value = rule.get(key)
        return hex_u64(value) if isinstance(value, str) else zt_json.json_int(value, 0)

    start = number("start") & _U64
    length = (number("end") - start) & _U32
    bits = ((zt_json.json_int(rule.get("bits"), 1) - 1) & 63) + 1
    return {
        "start": f"{start:016x}",
        "end": f"{(start + length) & _U64:016x}",
        "idx": zt_json.json_int(rule.get("idx"), 0) & 0xFFFF,
        "little": zt_json.json_bool(rule.get("little"), False),
        "bits": bits,
    }


_ACTIONS: dict[str, Callable[[Rule], Rule]] = {
    "ACTION_DROP": lambda r: {},
    "ACTION_ACCEPT": lambda r: {},
    "ACTION_BREAK": lambda r: {},
    "ACTION_TEE": lambda r: {
        "address": _address(r, "address"),
        "flags": _int(r, "flags", _U32),
        "length": _int(r, "length", 0xFFFF),
    },
    "ACTION_WATCH": lambda r: {
        "address": _address(r, "address"),
        "flags": _int(r, "flags", _U32),
        "length": _int(r, "length", 0xFFFF),
    },
    "ACTION_REDIRECT": lambda r: {
        "address": _address(r, "address"),
        "flags": _int(r, "flags", _U32),
    },
}

_MATCHES: dict[str, Callable[[Rule], Rule]] = {
    "MATCH_SOURCE_ZEROTIER_ADDRESS": lambda r: {"zt": _address(r, "zt")},
    "MATCH_DEST_ZEROTIER_ADDRESS": lambda r: {"zt": _address(r, "zt")},
    "MATCH_VLAN_ID": lambda r: {"vlanId": _int(r, "vlanId", 0xFFFF)},
    "MATCH_VLAN_PCP": lambda r: {"vlanPcp": _int(r, "vlanPcp", 0xFF)},
    "MATCH_VLAN_DEI": lambda r: {"vlanDei": _int(r, "vlanDei", 0xFF)},
    "MATCH_MAC_SOURCE": lambda r: {"mac": _mac(r)},
    "MATCH_MAC_DEST": lambda r: {"mac": _mac(r)},
    "MATCH_IPV4_SOURCE": lambda r: {"ip": _ip(r, 4)},
    "MATCH_IPV4_DEST": lambda r: {"ip": _ip(r, 4)},
    "MATCH_IPV6_SOURCE": lambda r: {"ip": _ip(r, 6)},
    "MATCH_IPV6_DEST": lambda r: {"ip": _ip(r, 6)},
    "MATCH_IP_TOS": lambda r: {
        "mask": _int(r, "mask", 0xFF),
        "start": _int(r, "start", 0xFF),
        "end": _int(r, "end", 0xFF),
    },
    "MATCH_IP_PROTOCOL": lambda r: {"ipProtocol": _int(r, "ipProtocol", 0xFF)},
    "MATCH_ETHERTYPE": lambda r: {"etherType": _int(r, "etherType", 0xFFFF)},
    "MATCH_ICMP": _icmp,
    "MATCH_IP_SOURCE_PORT_RANGE": lambda r: _range(r, 0xFFFF),
    "MATCH_IP_DEST_PORT_RANGE": lambda r: _range(r, 0xFFFF),
    "MATCH_CHARACTERISTICS": _characteristics,
    "MATCH_FRAME_SIZE_RANGE": lambda r: _range(r, 0xFFFF),
    "MATCH_RANDOM": lambda r: {"probability": _int(r, "probability", _U32)},
    "MATCH_TAGS_DIFFERENCE": _tag,
    "MATCH_TAGS_BITWISE_AND": _tag,
    "MATCH_TAGS_BITWISE_OR": _tag,
    "MATCH_TAGS_BITWISE_XOR": _tag,
    "MATCH_TAGS_EQUAL": _tag,
    "MATCH_TAG_SENDER": _tag,
    "MATCH_TAG_RECEIVER": _tag,
    "INTEGER_RANGE": _integer_range,
}


def normalise_rule(rule: Any) -> Rule | None:
    """The rule as the controller stores it, or None when it drops it (not an object, or
    an unknown ``type``)."""
    if not isinstance(rule, dict):
        return None
    kind = zt_json.json_string(rule.get("type"), "")
    if kind in _ACTIONS:
        return {"type": kind, **_ACTIONS[kind](rule)}
    if kind in _MATCHES:
        return {
            "type": kind,
            **_MATCHES[kind](rule),
            "not": zt_json.json_bool(rule.get("not"), False),
            "or": zt_json.json_bool(rule.get("or"), False),
        }
    return None


def normalise_rules(rules: list[Any], limit: int) -> list[Rule]:
    """Every rule the controller keeps, in order."""
    return [r for r in map(normalise_rule, rules) if r is not None][:limit]
