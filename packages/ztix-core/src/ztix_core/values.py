"""Value types that validate on construction and say what is wrong."""

from __future__ import annotations

import enum
import ipaddress
import re
from typing import Any

import attrs

from ztix_core.asns import SPECIAL_ASNS
from ztix_core.errors import InvalidValue

ASN_MAX = 4_294_967_294
_REFUSED_ASNS = {
    0: "AS0 is reserved (RFC 7607)",
    23456: "AS23456 is AS_TRANS (RFC 6793)",
    65535: "AS65535 is reserved (RFC 7300)",
    4_294_967_295: "AS4294967295 is reserved",
}


class AsnKind(enum.Enum):
    """Which registry range an ASN falls in."""

    PUBLIC = "public"
    PRIVATE = "private"
    DOCUMENTATION = "documentation"
    RESERVED = "reserved"


def _classify(value: int) -> AsnKind:
    for rng in SPECIAL_ASNS:
        if value in rng:
            if rng.documentation:
                return AsnKind.DOCUMENTATION
            return AsnKind.PRIVATE if "private" in rng.reason else AsnKind.RESERVED
    return AsnKind.PUBLIC


@attrs.frozen(order=True)
class Asn:
    """An autonomous system number usable for peering (1–4294967294 minus special ones)."""

    value: int

    def __attrs_post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise InvalidValue("asn", f"must be an integer, got {self.value!r}")
        if self.value in _REFUSED_ASNS:
            raise InvalidValue("asn", _REFUSED_ASNS[self.value])
        if not 1 <= self.value <= ASN_MAX:
            raise InvalidValue("asn", f"{self.value} is outside 1-{ASN_MAX}")

    @classmethod
    def parse(cls, raw: object) -> Asn:
        """Accept 64500, "64500", "AS64500" or "as64500"."""
        if isinstance(raw, Asn):
            return raw
        if isinstance(raw, str):
            text = raw.strip()
            if text[:2].upper() == "AS":
                text = text[2:]
            if not text.isdigit():
                raise InvalidValue("asn", f"{raw!r} is not an AS number")
            return cls(int(text))
        if isinstance(raw, int) and not isinstance(raw, bool):
            return cls(raw)
        raise InvalidValue("asn", f"{raw!r} is not an AS number")

    @property
    def kind(self) -> AsnKind:
        return _classify(self.value)

    def __str__(self) -> str:
        return f"AS{self.value}"

    def __int__(self) -> int:
        return self.value


def _lower(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("id", f"{raw!r} is not a string")
    return raw.strip().lower()


_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX10 = re.compile(r"[0-9a-f]{10}")


@attrs.frozen(order=True)
class NetworkId:
    """A ZeroTier network id: 16 hex digits, stored lowercase.

    The first 10 digits are the controller's node address.
    """

    value: str = attrs.field(converter=_lower)

    def __attrs_post_init__(self) -> None:
        if not _HEX16.fullmatch(self.value):
            raise InvalidValue("network_id", f"{self.value!r} is not 16 hex digits")

    @property
    def controller(self) -> str:
        """The controller's 10-hex address embedded in the id."""
        return self.value[:10]

    def __str__(self) -> str:
        return self.value


@attrs.frozen(order=True)
class NodeId:
    """A ZeroTier node address: 10 hex digits, lowercase; not 0000000000, not ff…."""

    value: str = attrs.field(converter=_lower)

    def __attrs_post_init__(self) -> None:
        if not _HEX10.fullmatch(self.value):
            raise InvalidValue("node_id", f"{self.value!r} is not 10 hex digits")
        if self.value == "0" * 10:
            raise InvalidValue("node_id", "0000000000 is not a valid node address")
        if self.value.startswith("ff"):
            raise InvalidValue("node_id", "addresses starting with ff are reserved")

    def __str__(self) -> str:
        return self.value


def ipv4_prefix(raw: object, field: str = "ipv4_prefix") -> ipaddress.IPv4Network:
    """Parse a peering-LAN IPv4 prefix (strict: host bits must be zero, /8–/30)."""
    try:
        net = ipaddress.IPv4Network(str(raw), strict=True)
    except ValueError as exc:
        raise InvalidValue(field, f"{raw!r} is not an IPv4 prefix: {exc}") from None
    if not 8 <= net.prefixlen <= 30:
        raise InvalidValue(field, f"{net} must be between /8 and /30")
    return net


def ipv6_prefix(raw: object, field: str = "ipv6_prefix") -> ipaddress.IPv6Network:
    """Parse a peering-LAN IPv6 prefix (strict, /32–/120)."""
    try:
        net = ipaddress.IPv6Network(str(raw), strict=True)
    except ValueError as exc:
        raise InvalidValue(field, f"{raw!r} is not an IPv6 prefix: {exc}") from None
    if not 32 <= net.prefixlen <= 120:
        raise InvalidValue(field, f"{net} must be between /32 and /120")
    return net


def peering_ipv4(raw: object, field: str = "ipv4") -> ipaddress.IPv4Address:
    """Parse a unicast IPv4 address usable on a peering LAN."""
    try:
        addr = ipaddress.IPv4Address(str(raw))
    except ValueError:
        raise InvalidValue(field, f"{raw!r} is not an IPv4 address") from None
    if (
        addr.is_multicast
        or addr.is_unspecified
        or addr.is_loopback
        or addr == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise InvalidValue(field, f"{addr} cannot be a peering address")
    return addr


def peering_ipv6(raw: object, field: str = "ipv6") -> ipaddress.IPv6Address:
    """Parse a unicast IPv6 address usable on a peering LAN."""
    try:
        addr = ipaddress.IPv6Address(str(raw))
    except ValueError:
        raise InvalidValue(field, f"{raw!r} is not an IPv6 address") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback or addr.is_link_local:
        raise InvalidValue(field, f"{addr} cannot be a peering address")
    return addr


def coerce(kind: type[Any], raw: object) -> Any:
    """Build a value type from its raw form (used by cattrs hooks)."""
    if isinstance(raw, kind):
        return raw
    if kind is Asn:
        return Asn.parse(raw)
    return kind(raw)
