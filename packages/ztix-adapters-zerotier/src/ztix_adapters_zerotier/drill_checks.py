"""Offline checks of a restored controller home, run by the restore drill before any
controller is started: the identity pair is consistent, every network and member file
parses into the records ztix needs, and the required networks are present.

None of these need a controller; each failure names the file and what is wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ztix_adapters_zerotier import network_spec
from ztix_adapters_zerotier.backup import CONTROLLER_DIR
from ztix_adapters_zerotier.emulator.identity import IdentityError, read_identity
from ztix_core.errors import SettingsError
from ztix_core.records import ZtNetwork
from ztix_core.settings import NetworkSettings

_NWID = re.compile(r"[0-9a-f]{16}")
_NODE = re.compile(r"[0-9a-f]{10}")


class HomeCheckError(Exception):
    """A restored home fails an offline check; ``stage`` names which one."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


@attrs.frozen
class HomeRecords:
    """What the restored ``controller.d`` holds: network id -> number of members."""

    networks: dict[str, int]

    @property
    def members(self) -> int:
        return sum(self.networks.values())


def check_identity(home: Path, controller: str) -> None:
    """``identity.secret`` and ``identity.public`` are well formed, the public part of the
    secret equals ``identity.public``, and the address is the manifest's ``controller``.
    (Whether the address derives from the key is checked by a real binary, if any.)"""
    try:
        identity = read_identity(home)
    except (IdentityError, OSError) as exc:
        raise HomeCheckError("identity", str(exc)) from None
    if identity.address != controller:
        raise HomeCheckError(
            "identity",
            f"identity.secret is {identity.address}'s, the manifest says {controller}",
        )


def _load(path: Path, home: Path) -> dict[str, Any]:
    name = path.relative_to(home).as_posix()
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise HomeCheckError(
            "records", f"{name} is not valid JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(value, dict):
        raise HomeCheckError("records", f"{name} is not a JSON object")
    return value


def _check_network(record: dict[str, Any], nwid: str, name: str, controller: str) -> None:
    if str(record.get("id", "")).lower() != nwid or str(record.get("nwid", nwid)).lower() != nwid:
        raise HomeCheckError("records", f"{name}: its id is not {nwid}")
    if not nwid.startswith(controller):
        raise HomeCheckError("records", f"{name}: network {nwid} is not under {controller}")
    routes = record.get("routes", [])
    if not isinstance(routes, list) or not all(
        isinstance(r, dict) and isinstance(r.get("target"), str) for r in routes
    ):
        raise HomeCheckError("records", f"{name}: routes is not a list of {{target, via}}")
    if not isinstance(record.get("private", True), bool):
        raise HomeCheckError("records", f"{name}: private is not a boolean")


def _check_member(record: dict[str, Any], nwid: str, node: str, name: str) -> None:
    if str(record.get("id", "")).lower() != node:
        raise HomeCheckError("records", f"{name}: its id is not {node}")
    if str(record.get("nwid", "")).lower() != nwid:
        raise HomeCheckError("records", f"{name}: its nwid is not {nwid}")
    if not isinstance(record.get("authorized", False), bool):
        raise HomeCheckError("records", f"{name}: authorized is not a boolean")
    ips = record.get("ipAssignments", [])
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise HomeCheckError("records", f"{name}: ipAssignments is not a list of strings")
    if not isinstance(record.get("name", ""), str):
        raise HomeCheckError("records", f"{name}: name is not a string")


def check_records(home: Path, controller: str) -> HomeRecords:
    """Every ``controller.d/network/<nwid>.json`` and ``…/<nwid>/member/<node>.json``
    parses into the fields ztix reads (ids matching their file names, ``authorized``,
    ``ipAssignments``, ``name``, ``routes``, ``private``). A member without its network
    file, or a file name that is not an id, fails too."""
    root = home / CONTROLLER_DIR / "network"
    networks: dict[str, int] = {}
    if not root.is_dir():
        return HomeRecords(networks)
    for path in sorted(root.glob("*.json")):
        nwid = path.stem.lower()
        name = path.relative_to(home).as_posix()
        if not _NWID.fullmatch(nwid):
            raise HomeCheckError("records", f"{name}: the file name is not a network id")
        _check_network(_load(path, home), nwid, name, controller)
        networks[nwid] = 0
    for path in sorted(root.glob("*/member/*.json")):
        nwid, node = path.parent.parent.name.lower(), path.stem.lower()
        name = path.relative_to(home).as_posix()
        if nwid not in networks:
            raise HomeCheckError("records", f"{name}: member of a network without its file")
        if not _NODE.fullmatch(node):
            raise HomeCheckError("records", f"{name}: the file name is not a node id")
        _check_member(_load(path, home), nwid, node, name)
        networks[nwid] += 1
    return HomeRecords(networks)


def check_required_networks(
    records: HomeRecords,
    controller: str,
    required_ids: Sequence[str],
    networks: Sequence[ZtNetwork | NetworkSettings],
) -> None:
    """Every required id (``ZT_CONTROLLER_REQUIRED_NETWORK_IDS``) and configured network
    under this controller is in the backup."""
    try:
        specs, _refused = network_spec.resolve(required_ids, networks, controller)
    except SettingsError as exc:
        raise HomeCheckError("networks", str(exc)) from None
    missing = sorted(str(s.id) for s in specs if str(s.id) not in records.networks)
    if missing:
        raise HomeCheckError(
            "networks", f"the backup lacks required network(s) {', '.join(missing)}"
        )
