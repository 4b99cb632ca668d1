"""The route-server policy's community conventions, shared by rendering and status readers.

All large communities use the route server's ASN as global administrator (``RS``):

=====================  ===============================================================
``(RS, 0, P)``          do not announce to AS P          (standard form ``0:P``)
``(RS, 0, 0)``          announce to nobody               (standard form ``0:RS``)
``(RS, 1, P)``          announce to AS P (even with "nobody") (standard form ``RS:P``)
``(RS, 1000, n)``       informational RPKI state, see :class:`RpkiState`
``(RS, 1101, n)``       why the import filter rejected the route, see :class:`RejectReason`
=====================  ===============================================================

The numbering follows IXP Manager's route servers so looking glasses that know those
codes read ours too. Announcement-control communities are stripped on export; the
informational RPKI ones are kept; members cannot forge 1000/1101 (scrubbed on import).
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


class RpkiState(enum.IntEnum):
    """Third field of ``(RS, 1000, code)``: the route's RPKI origin-validation state."""

    VALID = 1
    UNKNOWN = 2
    INVALID = 4


def reject_community(rs_asn: int, reason: RejectReason) -> tuple[int, int, int]:
    """The large community a rejected route carries."""
    return (rs_asn, REJECTED, int(reason))


def rpki_community(rs_asn: int, state: RpkiState) -> tuple[int, int, int]:
    """The informational large community of an RPKI state."""
    return (rs_asn, INFO_RPKI, int(state))
