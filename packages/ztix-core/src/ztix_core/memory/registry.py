"""An in-memory NetworkRegistry."""

from __future__ import annotations

from ztix_core.ports import NetworkFacts
from ztix_core.values import Asn


class InMemoryRegistry:
    """PeeringDB facts held in a dict (tests, demo, and until the PeeringDB adapter)."""

    def __init__(self, facts: dict[Asn, NetworkFacts] | None = None) -> None:
        self.facts: dict[Asn, NetworkFacts] = dict(facts or {})

    def put(self, facts: NetworkFacts) -> None:
        self.facts[facts.asn] = facts

    def lookup(self, asn: Asn) -> NetworkFacts | None:
        return self.facts.get(asn)
