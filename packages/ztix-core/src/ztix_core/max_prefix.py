"""A member's effective max-prefix: an admin's override, else the registry's limit (from
PeeringDB's count with headroom and floor), else ztix's default — per address family."""

from __future__ import annotations

import attrs

from ztix_core.ports import CachedFacts, MaxPrefixOverride


@attrs.frozen
class MaxPrefix:
    """A member's max-prefix per family and where each value comes from
    (``override``, ``peeringdb`` or ``default``)."""

    v4: int
    v6: int
    source_v4: str
    source_v6: str


def effective_max_prefix(
    cached: CachedFacts | None,
    override: MaxPrefixOverride | None,
    default_v4: int,
    default_v6: int,
) -> MaxPrefix:
    """Override, else the registry's limit, else the default — per family."""
    facts = cached.facts if cached is not None else None

    def pick(forced: int | None, limit: int | None, default: int) -> tuple[int, str]:
        if forced is not None:
            return forced, "override"
        if limit:
            return limit, "peeringdb"
        return default, "default"

    v4, s4 = pick(
        override.max_prefix_v4 if override else None,
        facts.max_prefix_v4 if facts else None,
        default_v4,
    )
    v6, s6 = pick(
        override.max_prefix_v6 if override else None,
        facts.max_prefix_v6 if facts else None,
        default_v6,
    )
    return MaxPrefix(v4, v6, s4, s6)
