"""``none``: an exchange without route servers (bilateral peering only).

An explicit choice, not an accident of configuration: with this fleet a request turns
active as soon as its member is authorized on the controller, and every surface says
"no route servers". A route-server fleet (``bird``) with zero servers stays refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ztix_core.errors import InvalidValue
from ztix_core.looking_glass import LookingGlassReport
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

#: What pages and the CLI print for this fleet.
NO_ROUTE_SERVERS = "no route servers (route_server_fleet = none): members peer bilaterally"


class NoRouteServers:
    """The RouteServerFleet of an exchange that has none: nothing to render or apply."""

    description = NO_ROUTE_SERVERS

    def servers(self) -> Sequence[RouteServer]:
        """No servers."""
        return ()

    def refused_peers(self, peers: Sequence[PeerSpec]) -> Mapping[int, str]:
        """Nothing is refused: there is nothing to configure."""
        return {}

    def render(self, peers: Sequence[PeerSpec]) -> Mapping[str, Mapping[str, bytes]]:
        """No server, no files."""
        return {}

    def apply(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        """Nothing to apply; naming a server is an error (there are none)."""
        if servers:
            raise InvalidValue("servers", f"{NO_ROUTE_SERVERS}; got {', '.join(servers)}")
        return []

    def session_status(self, asn: Asn | None = None) -> list[SessionStatus]:
        """No sessions."""
        return []

    def session_report(self, asn: Asn | None = None) -> SessionReport:
        """No sessions, no server to be unreachable."""
        return SessionReport((), {})

    def check_drift(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[RouteServerDrift]:
        """Nothing can drift; naming a server is an error (there are none)."""
        if servers:
            raise InvalidValue("servers", f"{NO_ROUTE_SERVERS}; got {', '.join(servers)}")
        return []

    def router_snippets(self, member: MemberRouter) -> Sequence[RouterSnippet]:
        """None: with no route server there is no session to configure (members peer
        bilaterally, which ztix does not configure)."""
        return ()

    def looking_glass(self, asn: Asn) -> LookingGlassReport:
        """No server to ask: a report with no servers (the pages say why)."""
        return LookingGlassReport(asn, ())
