"""An in-memory RouteServerFleet: renders a simple text config, can be told to fail."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ztix_core.ports import ApplyOutcome, PeerSpec, SessionStatus
from ztix_core.records import RouteServer
from ztix_core.values import Asn


class InMemoryFleet:
    """Route servers that only remember the peers applied to them. Put a server name in
    ``down`` to make its applies fail at stage ``connect``."""

    def __init__(self, servers: Sequence[RouteServer]) -> None:
        self._servers = tuple(sorted(servers, key=lambda s: s.name))
        self.applied: dict[str, tuple[PeerSpec, ...]] = {s.name: () for s in self._servers}
        self.digests: dict[str, str] = {}
        self.down: set[str] = set()
        self.apply_count: dict[str, int] = {s.name: 0 for s in self._servers}

    def servers(self) -> Sequence[RouteServer]:
        return self._servers

    def render(self, peers: Sequence[PeerSpec]) -> Mapping[str, Mapping[str, bytes]]:
        ordered = sorted(peers, key=lambda p: (p.asn, p.network_id))
        out: dict[str, dict[str, bytes]] = {}
        for server in self._servers:
            files = {
                f"AS{p.asn.value}.conf": (
                    f"peer {p.asn.value} {p.ipv4} {p.ipv6} {p.max_prefix_v4} {p.max_prefix_v6}\n"
                ).encode()
                for p in ordered
            }
            files["main.conf"] = f"# {server.name} AS{server.asn.value}\n".encode()
            out[server.name] = dict(sorted(files.items()))
        return out

    def apply(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        rendered = self.render(peers)
        names = [s.name for s in self._servers if servers is None or s.name in servers]
        outcomes = []
        for name in names:
            digest = hashlib.sha256(b"".join(rendered[name].values())).hexdigest()
            if name in self.down:
                outcomes.append(
                    ApplyOutcome(name, "failed", digest, "connect", f"{name}: connection refused")
                )
            elif self.digests.get(name) == digest:
                outcomes.append(ApplyOutcome(name, "unchanged", digest))
            else:
                self.applied[name] = tuple(peers)
                self.digests[name] = digest
                self.apply_count[name] += 1
                outcomes.append(ApplyOutcome(name, "applied", digest))
        return outcomes

    def session_status(self, asn: Asn | None = None) -> list[SessionStatus]:
        return [
            SessionStatus(name, p.asn, f"AS{p.asn.value}_{fam}", "up")
            for name, peers in sorted(self.applied.items())
            for p in peers
            for fam in (4, 6)
            if asn is None or p.asn == asn
        ]
