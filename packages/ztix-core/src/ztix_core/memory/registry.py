"""An in-memory NetworkRegistry."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection

from ztix_core.ports import NetworkFacts, RegistryFetch
from ztix_core.values import Asn


class InMemoryRegistry:
    """PeeringDB facts held in a dict (tests, the demo). An ASN missing from the dict is
    one PeeringDB has no network for; an ASN in ``unreachable`` cannot be asked (with the
    reason), as when PeeringDB is down."""

    def __init__(
        self, facts: dict[Asn, NetworkFacts] | None = None, *, refresh_interval_s: float = 3600.0
    ) -> None:
        self.facts: dict[Asn, NetworkFacts] = dict(facts or {})
        self.unreachable: dict[Asn, str] = {}
        self.refresh_interval_s = refresh_interval_s
        #: the ASNs of the latest fetches (bounded: the demo's worker runs for days)
        self.fetches: deque[tuple[Asn, ...]] = deque(maxlen=1000)

    def put(self, facts: NetworkFacts) -> None:
        self.facts[facts.asn] = facts

    def lookup(self, asn: Asn) -> NetworkFacts | None:
        return self.facts.get(asn)

    def fetch(self, asns: Collection[Asn], *, patient: bool = True) -> RegistryFetch:
        wanted = tuple(sorted(set(asns), key=lambda a: a.value))
        self.fetches.append(wanted)
        failed = {a: self.unreachable[a] for a in wanted if a in self.unreachable}
        found = {a: self.facts[a] for a in wanted if a in self.facts and a not in failed}
        absent = frozenset(a for a in wanted if a not in found and a not in failed)
        return RegistryFetch(found, absent, failed, calls=1 if wanted else 0)
