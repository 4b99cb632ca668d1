"""The membership provider ``json_file``: a MembershipProvider whose "controller" is a
JSON file. Useful to see what ztix would do without a controller; above all an example of
implementing a port: every method of ``ztix_core.ports.MembershipProvider``, failures as
``ProviderError`` with a remediation, and the contract suite to prove it."""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ztix_core.errors import ProviderError
from ztix_core.ports import IPAddress, MemberState, NetworkChange, ReadinessCheck, ReadinessReport
from ztix_core.records import ZtNetwork
from ztix_core.values import NetworkId, NodeId


class JsonFileProvider:
    """Networks and members in one JSON file, rewritten atomically on every change."""

    name = "json_file"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the file

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"networks": {}}
        except (OSError, ValueError) as exc:
            raise ProviderError(
                f"cannot read {self.path}: {exc}",
                kind="io",
                transient=False,
                remediation="check [example] provider_file",
            ) from None
        return data

    def _save(self, data: dict[str, Any]) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".json_file-")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ProviderError(
                f"cannot write {self.path}: {exc.strerror}",
                kind="io",
                transient=False,
                remediation="check that the directory of [example] provider_file is writable",
            ) from None

    @staticmethod
    def _member(network_id: NetworkId, node_id: str, raw: dict[str, Any]) -> MemberState:
        return MemberState(
            network_id,
            NodeId(node_id),
            bool(raw["authorized"]),
            tuple(raw["ip_assignments"]),
            str(raw["name"]),
            True,
        )

    # ------------------------------------------------------------------ the port

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        try:
            known = self._load()["networks"]
        except ProviderError as exc:
            return ReadinessReport(
                (ReadinessCheck("file_readable", False, str(exc), exc.remediation),)
            )
        checks = [ReadinessCheck("file_readable", True)]
        for net in networks:
            present = net.id.value in known
            checks.append(
                ReadinessCheck(
                    f"network_present:{net.id}",
                    present,
                    "" if present else f"network {net.id} is not in {self.path}",
                    "" if present else "run `ztix controller reconcile`",
                )
            )
        return ReadinessReport(tuple(checks))

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        with self._lock:
            data = self._load()
            entry = data["networks"].get(network.id.value)
            wanted = {
                "name": network.name,
                "ipv4_prefix": str(network.ipv4_prefix),
                "ipv6_prefix": str(network.ipv6_prefix),
            }
            if entry is None:
                data["networks"][network.id.value] = {**wanted, "members": {}}
                self._save(data)
                return NetworkChange(network.id, created=True)
            repaired = tuple(sorted(k for k, v in wanted.items() if entry.get(k) != v))
            if repaired:
                entry.update(wanted)
                self._save(data)
            return NetworkChange(network.id, repaired=repaired)

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        with self._lock:
            data = self._load()
            network = data["networks"].get(network_id.value)
            if network is None:
                raise ProviderError(
                    f"network {network_id} not found in {self.path}",
                    kind="not_found",
                    transient=False,
                    remediation="run `ztix controller reconcile`",
                    status=404,
                )
            addresses = [str(ipaddress.ip_address(a)) for a in ip_assignments]
            raw = {"authorized": True, "ip_assignments": addresses, "name": name}
            network["members"][node_id.value] = raw
            self._save(data)
            return self._member(network_id, node_id.value, raw)

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        with self._lock:
            data = self._load()
            member = data["networks"].get(network_id.value, {}).get("members", {})
            if node_id.value in member:
                member[node_id.value]["authorized"] = False
                self._save(data)

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        with self._lock:
            data = self._load()
            members = data["networks"].get(network_id.value, {}).get("members", {})
            if members.pop(node_id.value, None) is not None:
                self._save(data)

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        members = self._load()["networks"].get(network_id.value, {}).get("members", {})
        raw = members.get(node_id.value)
        return None if raw is None else self._member(network_id, node_id.value, raw)

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        members = self._load()["networks"].get(network_id.value, {}).get("members", {})
        return [self._member(network_id, n, raw) for n, raw in sorted(members.items())]
