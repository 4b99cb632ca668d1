"""An in-memory MembershipProvider that behaves like a ZeroTier controller, faults included."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ztix_core.errors import ProviderError
from ztix_core.ports import IPAddress, MemberState, NetworkChange, ReadinessCheck, ReadinessReport
from ztix_core.records import ZtNetwork
from ztix_core.values import NetworkId, NodeId


class InMemoryProvider:
    """Holds networks and members in dicts. Set ``fail_next`` to a ProviderError to make the
    next mutating call raise it, or ``ready=False`` to fail the readiness gate."""

    name = "memory"

    def __init__(self, controller: str = "0123456789") -> None:
        self.controller = controller
        self.networks: dict[NetworkId, ZtNetwork] = {}
        self.members: dict[tuple[NetworkId, NodeId], MemberState] = {}
        self.ready = True
        self.fail_next: ProviderError | None = None
        self.calls: list[str] = []

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            err, self.fail_next = self.fail_next, None
            raise err

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        checks = [
            ReadinessCheck(
                "controller_reachable",
                self.ready,
                "" if self.ready else "controller does not answer",
                "" if self.ready else "start the controller",
            )
        ]
        for net in networks:
            present = net.id in self.networks
            checks.append(
                ReadinessCheck(
                    f"network_present:{net.id}",
                    present,
                    "" if present else f"network {net.id} missing on the controller",
                    "" if present else "run `ztix controller reconcile`",
                )
            )
        return ReadinessReport(tuple(checks))

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        self._maybe_fail()
        created = network.id not in self.networks
        self.networks[network.id] = network
        return NetworkChange(network.id, created=created)

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        self.calls.append(f"authorize {network_id} {node_id}")
        self._maybe_fail()
        if network_id not in self.networks:
            raise ProviderError(
                f"network {network_id} not found on the controller",
                kind="not_found",
                transient=False,
                remediation="run `ztix controller reconcile`",
                status=404,
            )
        state = MemberState(
            network_id, node_id, True, tuple(str(a) for a in ip_assignments), name, True
        )
        self.members[(network_id, node_id)] = state
        return state

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        self.calls.append(f"deauthorize {network_id} {node_id}")
        self._maybe_fail()
        member = self.members.get((network_id, node_id))
        if member is not None:
            self.members[(network_id, node_id)] = attrs.evolve(member, authorized=False)

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        self.calls.append(f"remove {network_id} {node_id}")
        self._maybe_fail()
        self.members.pop((network_id, node_id), None)

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        return self.members.get((network_id, node_id))

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        return sorted(
            (m for (nid, _), m in self.members.items() if nid == network_id),
            key=lambda m: m.node_id,
        )
