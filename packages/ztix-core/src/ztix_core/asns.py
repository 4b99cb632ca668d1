"""Which AS numbers may join the exchange — the one definition.

The core refuses these at submit and approve; every route-server renderer refuses the same
ones as members and rejects them anywhere in an AS path. A member whose ASN the route
servers would refuse must never get as far as a render.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class SpecialAsnRange:
    """An inclusive range of AS numbers that is not for use on the public Internet."""

    first: int
    last: int
    reason: str
    #: Documentation ranges (RFC 5398) are allowed in labs when a setting says so.
    documentation: bool = False

    def __contains__(self, asn: int) -> bool:
        return self.first <= asn <= self.last


SPECIAL_ASNS: tuple[SpecialAsnRange, ...] = (
    SpecialAsnRange(0, 0, "RFC 7607 AS0"),
    SpecialAsnRange(23456, 23456, "RFC 6793 AS_TRANS"),
    SpecialAsnRange(64496, 64511, "RFC 5398 documentation", documentation=True),
    SpecialAsnRange(64512, 65534, "RFC 6996 private use"),
    SpecialAsnRange(65535, 65535, "RFC 7300 reserved"),
    SpecialAsnRange(65536, 65551, "RFC 5398 documentation", documentation=True),
    SpecialAsnRange(65552, 131071, "IANA reserved"),
    SpecialAsnRange(4_200_000_000, 4_294_967_294, "RFC 6996 private use"),
    SpecialAsnRange(4_294_967_295, 4_294_967_295, "RFC 7300 reserved"),
)


def special_asn_ranges(*, allow_documentation: bool = False) -> tuple[SpecialAsnRange, ...]:
    """The ranges refused as members (and as bogons in paths) under this policy."""
    return tuple(r for r in SPECIAL_ASNS if not (allow_documentation and r.documentation))


def special_asn_reason(asn: int, *, allow_documentation: bool = False) -> str | None:
    """Why ``asn`` is not a public, usable AS number, or ``None`` when it is."""
    for rng in special_asn_ranges(allow_documentation=allow_documentation):
        if asn in rng:
            return rng.reason
    return None


def join_refusal(asn: int, *, allow_documentation: bool = False) -> str | None:
    """The sentence that refuses ``asn`` as an exchange member, or ``None`` when it may join.

    Route servers reject private, reserved and documentation AS numbers anywhere in a
    path, so a member using one could never announce a route: it is refused up front.
    ``allow_documentation`` admits RFC 5398 documentation ASNs (labs and demos only).
    """
    reason = special_asn_reason(asn, allow_documentation=allow_documentation)
    if reason is None:
        return None
    hint = (
        " (set allow_documentation_asns for a lab)"
        if any(r.documentation and asn in r for r in SPECIAL_ASNS)
        else ""
    )
    return f"AS{asn} cannot join an exchange: it is {reason}{hint}"
