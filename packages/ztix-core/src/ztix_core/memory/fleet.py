"""An in-memory RouteServerFleet: renders a simple text config, can be told to fail."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import attrs

from ztix_core.looking_glass import (
    FilteredRoute,
    LookingGlassReport,
    LookingGlassServer,
    LookingGlassSession,
)
from ztix_core.ports import (
    ApplyOutcome,
    MemberRouter,
    PeerSpec,
    RouterSnippet,
    RouteServerDrift,
    SessionReport,
    SessionStatus,
)
from ztix_core.records import RouteServer
from ztix_core.values import Asn


class InMemoryFleet:
    """Route servers that only remember the peers applied to them. Put a server name in
    ``down`` to make its applies fail at stage ``connect``; put an ASN in ``refuse`` (with
    the reason) to make the fleet refuse that member; put a :class:`RouteServerDrift` in
    ``drift`` to make a server differ from what was applied (a hand edit): ``check_drift``
    reports it and the next apply to that server repairs it (even with an unchanged digest).
    ``filtered`` holds, per ASN, the routes every server's import filter "dropped" (what
    ``looking_glass`` reports; nothing by default)."""

    def __init__(self, servers: Sequence[RouteServer]) -> None:
        self._servers = tuple(sorted(servers, key=lambda s: s.name))
        self.applied: dict[str, tuple[PeerSpec, ...]] = {s.name: () for s in self._servers}
        self.digests: dict[str, str] = {}
        self.down: set[str] = set()
        self.apply_count: dict[str, int] = {s.name: 0 for s in self._servers}
        self.refuse: dict[int, str] = {}
        self.drift: dict[str, RouteServerDrift] = {}
        self.filtered: dict[int, tuple[FilteredRoute, ...]] = {}
        #: Filtered routes read per server at most (what the BIRD fleet caps too).
        self.max_routes = 200
        self.looking_glass_calls: list[Asn] = []

    def servers(self) -> Sequence[RouteServer]:
        return self._servers

    def refused_peers(self, peers: Sequence[PeerSpec]) -> Mapping[int, str]:
        own = {a for s in self._servers for a in (s.ipv4, s.ipv6) if a is not None}
        out: dict[int, str] = {}
        for i, p in enumerate(peers):
            if p.asn.value in self.refuse:
                out[i] = self.refuse[p.asn.value]
            elif p.ipv4 in own or p.ipv6 in own:
                out[i] = f"{p.asn}: an address is a route server's own"
        return out

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
        bad = self.refused_peers(peers)
        if bad:
            raise ValueError(f"refused members reached apply: {sorted(bad.values())}")
        rendered = self.render(peers)
        names = [s.name for s in self._servers if servers is None or s.name in servers]
        outcomes = []
        for name in names:
            digest = hashlib.sha256(b"".join(rendered[name].values())).hexdigest()
            if name in self.down:
                outcomes.append(
                    ApplyOutcome(name, "failed", digest, "connect", f"{name}: connection refused")
                )
            elif self.digests.get(name) == digest and name not in self.drift:
                outcomes.append(ApplyOutcome(name, "unchanged", digest))
            else:
                self.applied[name] = tuple(peers)
                self.digests[name] = digest
                self.apply_count[name] += 1
                self.drift.pop(name, None)
                outcomes.append(ApplyOutcome(name, "applied", digest))
        return outcomes

    def session_status(self, asn: Asn | None = None) -> list[SessionStatus]:
        return [
            SessionStatus(name, p.asn, f"AS{p.asn.value}_{fam}", "up", info="Established")
            for name, peers in sorted(self.applied.items())
            for p in peers
            for fam in (4, 6)
            if asn is None or p.asn == asn
        ]

    def session_report(self, asn: Asn | None = None) -> SessionReport:
        """Sessions of the servers that are up; a down server is unreachable."""
        sessions = [s for s in self.session_status(asn) if s.server not in self.down]
        unreachable = {name: f"{name}: connection refused" for name in sorted(self.down)}
        return SessionReport(sessions, unreachable)

    def check_drift(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[RouteServerDrift]:
        rendered = self.render(peers)
        out = []
        for server in self._servers:
            name = server.name
            if servers is not None and name not in servers:
                continue
            digest = hashlib.sha256(b"".join(rendered[name].values())).hexdigest()
            if name in self.down:
                out.append(RouteServerDrift(name, error=f"{name}: connection refused"))
            elif name in self.drift:
                out.append(attrs.evolve(self.drift[name], server=name))
            elif self.digests.get(name, "") != digest:
                out.append(
                    RouteServerDrift(name, manifest="the server's manifest names another digest")
                )
            else:
                out.append(RouteServerDrift(name))
        return out

    def router_snippets(self, member: MemberRouter) -> Sequence[RouterSnippet]:
        """A one-line-per-session text per flavour (not a router config: for tests of the
        pages and the API). The member's name is reduced to one line."""
        name = " ".join(member.name.split())
        out = []
        for flavour, title in (("bird", "BIRD 2"), ("frr", "FRR")):
            lines = [f"# {title} for AS{member.asn.value} ({name}), in-memory fleet"]
            for server in self._servers:
                for fam, own, limit in (
                    (4, member.ipv4, member.suggested_v4),
                    (6, member.ipv6, member.suggested_v6),
                ):
                    lines.append(
                        f"session {server.name} AS{server.asn.value} ipv{fam} from {own} "
                        f"max-prefix {limit}"
                    )
            text = "\n".join(lines) + "\n"
            out.append(
                RouterSnippet(flavour, title, f"ztix-as{member.asn.value}-{flavour}.conf", text)
            )
        return out

    def looking_glass(self, asn: Asn) -> LookingGlassReport:
        """The member's sessions where it was applied (up, no routes unless ``filtered``
        names some, which then count as received and filtered); a down server is an
        error entry."""
        self.looking_glass_calls.append(asn)
        dropped = self.filtered.get(asn.value, ())
        servers = []
        for server in self._servers:
            name = server.name
            if name in self.down:
                servers.append(LookingGlassServer(name, error=f"{name}: connection refused"))
                continue
            sessions = tuple(
                LookingGlassSession(
                    protocol=f"AS{asn.value}_v{fam}",
                    state="Established",
                    info="Established",
                    received=n,
                    filtered=n,
                )
                for fam in (4, 6)
                for n in [sum(1 for r in dropped if (":" in r.prefix) == (fam == 6))]
                if any(p.asn == asn for p in self.applied[name])
            )
            shown = dropped[: self.max_routes] if sessions else ()
            servers.append(
                LookingGlassServer(
                    name, sessions, shown, filtered_total=len(dropped) if sessions else 0
                )
            )
        return LookingGlassReport(asn, tuple(servers))
