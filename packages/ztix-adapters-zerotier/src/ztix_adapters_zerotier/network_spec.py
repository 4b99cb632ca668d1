"""What an exchange network must look like on a self-hosted controller, and how to tell
(and repair) drift: private, no ZeroTier auto-assign (v4 or v6), a route for each peering
prefix, the configured name."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ztix_core.errors import SettingsError
from ztix_core.records import ZtNetwork
from ztix_core.settings import NetworkSettings
from ztix_core.values import NetworkId

REQUIRED_IDS_SETTING = "ZT_CONTROLLER_REQUIRED_NETWORK_IDS"
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_HEX6 = re.compile(r"[0-9a-fA-F]{6}")

V4_ASSIGN = {"zt": False}
V6_ASSIGN = {"rfc4193": False, "6plane": False, "zt": False}


@attrs.frozen
class NetworkSpec:
    """The desired state of one network. ``name`` None leaves the name alone (a required
    id with no configured network); ``routes`` are targets that must be routed on-link."""

    id: NetworkId
    name: str | None = None
    routes: tuple[str, ...] = ()

    @classmethod
    def from_network(cls, net: ZtNetwork | NetworkSettings) -> NetworkSpec:
        """The spec of a configured exchange network."""
        return cls(net.id, net.name, (str(net.ipv4_prefix), str(net.ipv6_prefix)))


def _route_key(target: object) -> str | None:
    try:
        return str(ipaddress.ip_network(str(target), strict=False))
    except ValueError:
        return None


def drift(spec: NetworkSpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Field → value to POST so that ``stored`` satisfies ``spec`` (empty: no drift)."""
    fix: dict[str, Any] = {}
    if spec.name is not None and stored.get("name") != spec.name:
        fix["name"] = spec.name
    if stored.get("private") is not True:
        fix["private"] = True
    v4 = stored.get("v4AssignMode")
    if not isinstance(v4, Mapping) or any(v4.get(k) is not False for k in V4_ASSIGN):
        fix["v4AssignMode"] = dict(V4_ASSIGN)
    v6 = stored.get("v6AssignMode")
    if not isinstance(v6, Mapping) or any(v6.get(k) is not False for k in V6_ASSIGN):
        fix["v6AssignMode"] = dict(V6_ASSIGN)
    routes = stored.get("routes")
    routes = [r for r in routes if isinstance(r, Mapping)] if isinstance(routes, list) else []
    on_link = {_route_key(r.get("target")) for r in routes if not r.get("via")}
    missing = [t for t in spec.routes if _route_key(t) not in on_link]
    if missing:
        fix["routes"] = [dict(r) for r in routes] + [{"target": t, "via": None} for t in missing]
    return fix


def full_body(spec: NetworkSpec) -> dict[str, Any]:
    """The body that creates ``spec`` from nothing."""
    body: dict[str, Any] = {
        "private": True,
        "v4AssignMode": dict(V4_ASSIGN),
        "v6AssignMode": dict(V6_ASSIGN),
        "routes": [{"target": t, "via": None} for t in spec.routes],
    }
    if spec.name is not None:
        body["name"] = spec.name
    return body


def validate_required_ids(raw: Iterable[str]) -> tuple[str, ...]:
    """Check the form of ``ZT_CONTROLLER_REQUIRED_NETWORK_IDS`` entries (16 hex digits, or
    a 6-hex suffix); SettingsError names the setting and the bad entry."""
    out = []
    for entry in raw:
        text = entry.strip()
        if not (_HEX16.fullmatch(text) or _HEX6.fullmatch(text)):
            raise SettingsError(
                REQUIRED_IDS_SETTING,
                f"{text!r} is neither a 16-hex network id nor a 6-hex suffix",
            )
        out.append(text.lower())
    return tuple(out)


@attrs.frozen
class Refusal:
    """A network ztix will not create or use, and why."""

    network_id: str
    reason: str


def resolve(
    required: Sequence[str],
    networks: Sequence[ZtNetwork | NetworkSettings],
    address: str,
) -> tuple[list[NetworkSpec], list[Refusal]]:
    """The specs to enforce on the controller whose address is ``address``: the configured
    networks plus the required ids (suffixes completed with ``address``), merged by id (a
    configured network gives its name and routes to a required id). Ids under another
    controller's prefix are refused: this controller can never serve them."""
    specs: dict[NetworkId, NetworkSpec] = {}
    refused: list[Refusal] = []
    for net in networks:
        specs.setdefault(net.id, NetworkSpec.from_network(net))
    for entry in validate_required_ids(required):
        nwid = NetworkId(address + entry if len(entry) == 6 else entry)
        specs.setdefault(nwid, NetworkSpec(nwid))
    out = []
    for nwid, spec in specs.items():
        if nwid.controller != address:
            refused.append(
                Refusal(
                    str(nwid),
                    f"network {nwid} belongs to controller {nwid.controller}, not to this "
                    f"controller ({address}); it can never serve members here",
                )
            )
        else:
            out.append(spec)
    return out, refused
