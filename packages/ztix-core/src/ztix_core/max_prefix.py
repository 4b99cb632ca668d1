"""A member's effective max-prefix, per address family: the first of

1. the member's own limit (an admin's per-member setting, :class:`~ztix_core.records.MemberFacts`);
2. the admin's override for the member's ASN (``max_prefix_overrides``);
3. the registry's suggestion (PeeringDB's prefix count with headroom and floor);
4. ztix's default (``[provisioning] default_max_prefix_v4/v6``).

Every value is capped to :data:`MAX_PREFIX_LIMIT`, the highest import limit ztix renders.
"""

from __future__ import annotations

import attrs

from ztix_core.errors import InvalidValue
from ztix_core.ports import CachedFacts, MaxPrefixOverride
from ztix_core.records import MemberFacts

#: The highest max-prefix ztix accepts from an admin or a setting (and renders): far above
#: the full IPv4 table, low enough that a typo (an extra digit or three) is caught.
MAX_PREFIX_LIMIT = 10_000_000


def check_max_prefix(field: str, value: object) -> int:
    """``value`` as a max-prefix (1 to :data:`MAX_PREFIX_LIMIT`), or InvalidValue naming
    ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"{value!r} is not a whole number")
    if not 1 <= value <= MAX_PREFIX_LIMIT:
        raise InvalidValue(field, f"must be 1-{MAX_PREFIX_LIMIT}, got {value}")
    return value


@attrs.frozen
class MaxPrefix:
    """A member's max-prefix per family and where each value comes from
    (``member``, ``override``, ``peeringdb`` or ``default``)."""

    v4: int
    v6: int
    source_v4: str
    source_v6: str


def effective_max_prefix(
    cached: CachedFacts | None,
    override: MaxPrefixOverride | None,
    default_v4: int,
    default_v6: int,
    member: MemberFacts | None = None,
) -> MaxPrefix:
    """Member's own limit, else the ASN's override, else the registry's limit, else the
    default — per family (see the module docstring)."""
    facts = cached.facts if cached is not None else None

    def pick(
        own: int | None, forced: int | None, limit: int | None, default: int
    ) -> tuple[int, str]:
        if own is not None:
            return min(own, MAX_PREFIX_LIMIT), "member"
        if forced is not None:
            return min(forced, MAX_PREFIX_LIMIT), "override"
        if limit:
            return min(limit, MAX_PREFIX_LIMIT), "peeringdb"
        return default, "default"

    v4, s4 = pick(
        member.max_prefix_v4 if member else None,
        override.max_prefix_v4 if override else None,
        facts.max_prefix_v4 if facts else None,
        default_v4,
    )
    v6, s6 = pick(
        member.max_prefix_v6 if member else None,
        override.max_prefix_v6 if override else None,
        facts.max_prefix_v6 if facts else None,
        default_v6,
    )
    return MaxPrefix(v4, v6, s4, s6)
