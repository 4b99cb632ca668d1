"""The route-server policy's community conventions, shared by rendering and status readers.

All large communities use the route server's ASN as global administrator (``RS``):

=====================  ===============================================================
``(RS, 0, P)``          do not announce to AS P          (standard form ``0:P``)
``(RS, 0, 0)``          announce to nobody               (standard form ``0:RS``)
``(RS, 1, P)``          announce to AS P (even with "nobody") (standard form ``RS:P``)
``(RS, 101, P)``        prepend the announcing member's ASN once towards AS P
``(RS, 102, P)``        ... twice towards AS P
``(RS, 103, P)``        ... three times towards AS P
``(RS, 101..103, 0)``   prepend once / twice / three times towards every peer
``(RS, 1000, n)``       informational RPKI state, see :class:`RpkiState`
``(RS, 1101, n)``       why the import filter rejected the route, see :class:`RejectReason`
=====================  ===============================================================

The numbering follows IXP Manager's route servers (its BIRD 2 templates: the 1000/1101
tables and the per-peer 101/102/103 prepend communities) so looking glasses and members
that know those codes read ours too. ``P = 0`` for "every peer" is how IXP Manager's users
describe the prepend communities (its issue tracker); its template we read acts on the
per-peer form only, so ztix implements both.
Prepending happens on export, towards one peer at a time: a request naming the peer wins
over one for every peer, and of several the largest count wins; the prepended ASN is the
path's first, which the import filter checked is the announcing member's.
Announcement-control and prepend communities are stripped on export; the informational
RPKI ones are kept; members cannot forge 1000/1101 (scrubbed on import).
RFC 7999 BLACKHOLE (65535:666) routes may be more specific than the length bound (up to
/32 and /128) and get NO_EXPORT on export; RFC 8326 GRACEFUL_SHUTDOWN (65535:0) sets the
route server's local preference to 0 and is passed on.
"""

from __future__ import annotations

import enum

INFO_RPKI = 1000
REJECTED = 1101
CONTROL_DO_NOT_ANNOUNCE = 0
CONTROL_ANNOUNCE = 1
#: Second field of the prepend communities, by the number of prepends.
PREPEND = {1: 101, 2: 102, 3: 103}
#: Third field of a prepend community that asks for every peer.
EVERY_PEER = 0
BLACKHOLE = (65535, 666)
GRACEFUL_SHUTDOWN = (65535, 0)
NO_EXPORT = (65535, 65281)


class RejectReason(enum.IntEnum):
    """Third field of ``(RS, 1101, code)`` on a filtered route."""

    PREFIX_TOO_LONG = 1
    PREFIX_TOO_SHORT = 2
    BOGON_PREFIX = 3
    BOGON_ASN = 4
    AS_PATH_TOO_LONG = 5
    FIRST_AS_NOT_PEER = 7
    NEXT_HOP_NOT_PEER = 8
    RPKI_INVALID = 13
    #: A transit-free network (:data:`TRANSIT_FREE_ASNS` by default) in the path of a
    #: member that is not one itself: a leak. IXP Manager's code for it.
    TRANSIT_FREE_ASN = 14
    #: An AS_SET (or AS_CONFED_SET) segment in the path; RFC 9774 deprecates them. Neither
    #: IXP Manager (1-15) nor the Euro-IX list it follows has a code for this, so ztix
    #: takes the next free one.
    AS_SET_IN_PATH = 16


class RpkiState(enum.IntEnum):
    """Third field of ``(RS, 1000, code)``: the route's RPKI origin-validation state."""

    VALID = 1
    UNKNOWN = 2
    INVALID = 4


#: Transit-free ("Tier-1") networks: a route server client is never expected to send a
#: route through one of them, unless it is one itself. The list arouteserver ships as its
#: ``filtering.transit_free.asns`` default (Fredy Kuenzler's list of transit-free
#: networks); IXP Manager's differs slightly (adds 3491 and 4134, not 12956).
TRANSIT_FREE_ASNS: tuple[tuple[int, str], ...] = (
    (174, "Cogent"),
    (701, "Verizon Business (UUNET)"),
    (1299, "Arelion (Telia)"),
    (2914, "NTT"),
    (3257, "GTT"),
    (3320, "Deutsche Telekom"),
    (3356, "Lumen (Level 3)"),
    (5511, "Orange"),
    (6453, "Tata Communications"),
    (6461, "Zayo"),
    (6762, "Telecom Italia Sparkle"),
    (6830, "Liberty Global"),
    (7018, "AT&T"),
    (12956, "Telxius (Telefonica)"),
)


def reject_community(rs_asn: int, reason: RejectReason) -> tuple[int, int, int]:
    """The large community a rejected route carries."""
    return (rs_asn, REJECTED, int(reason))


def rpki_community(rs_asn: int, state: RpkiState) -> tuple[int, int, int]:
    """The informational large community of an RPKI state."""
    return (rs_asn, INFO_RPKI, int(state))


def prepend_community(rs_asn: int, times: int, peer_asn: int = EVERY_PEER) -> tuple[int, int, int]:
    """The large community asking the route server to prepend the announcing member's ASN
    ``times`` (1-3) times towards ``peer_asn`` (default: every peer)."""
    if times not in PREPEND:
        raise ValueError(f"times must be 1, 2 or 3, not {times!r}")
    return (rs_asn, PREPEND[times], peer_asn)
