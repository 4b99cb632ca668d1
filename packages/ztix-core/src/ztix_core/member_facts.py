"""The rules of what an admin may set per member (:class:`~ztix_core.records.MemberFacts`).

Pure functions: each refuses a bad value with InvalidValue (or Conflict for an address
another request holds) naming the field, so a refused change writes nothing.

- **Display name**: one line of printable text, at most :data:`MAX_DISPLAY_NAME`
  characters, surrounding spaces trimmed; empty means "not set". Control characters
  (line breaks, tabs, escapes) are refused here rather than silently dropped; the BIRD
  renderer still sanitises what it prints (``"`` and ``\\`` cannot appear in a BIRD
  string), so a name can never change a config's meaning.
- **Max-prefix**: 1 to :data:`~ztix_core.max_prefix.MAX_PREFIX_LIMIT` per family.
- **Fixed addresses**: an IPv4 inside the network's IPv4 prefix and an IPv6 inside its
  IPv6 prefix; never the prefix's own network or broadcast address (nor IPv6's
  subnet-router anycast), never a route server's address, never an address another
  request holds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Container

from ztix_core.errors import Conflict, InvalidValue
from ztix_core.records import RouteServer, ZtNetwork

#: Longest display name (the BIRD description's own limit).
MAX_DISPLAY_NAME = 120

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_display_name(value: str | None) -> str | None:
    """The display name to store (trimmed), None for "not set", or InvalidValue."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue("display_name", f"{value!r} is not text")
    bad = sorted({f"U+{ord(ch):04X}" for ch in value if not ch.isprintable() and ch != " "})
    if bad:
        raise InvalidValue(
            "display_name",
            "must be one line of printable text: control characters (line breaks, tabs, "
            f"escapes) are not allowed, found {', '.join(bad[:5])}",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue("display_name", "must be valid Unicode text") from None
    text = value.strip()
    if len(text) > MAX_DISPLAY_NAME:
        raise InvalidValue(
            "display_name", f"at most {MAX_DISPLAY_NAME} characters, got {len(text)}"
        )
    return text or None


def parse_address(family: int, value: object) -> IPAddress:
    """``value`` as an IPv4 (``family`` 4) or IPv6 address, or InvalidValue naming
    ``ipv4``/``ipv6`` (a value of the other family is named as such)."""
    field = f"ipv{family}"
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        addr: IPAddress = value
    else:
        try:
            addr = ipaddress.ip_address(str(value).strip())
        except ValueError:
            raise InvalidValue(field, f"{value!r} is not an IP address") from None
    if addr.version != family:
        raise InvalidValue(
            field, f"{addr} is an IPv{addr.version} address; an IPv{family} address is needed"
        )
    return addr


def check_fixed_address(
    family: int,
    value: object,
    network: ZtNetwork,
    route_servers: Collection[RouteServer],
    taken: Container[IPAddress],
) -> IPAddress:
    """A fixed peering-LAN address on ``network`` (see the module docstring), or
    InvalidValue / Conflict saying why not. ``taken`` holds the addresses other requests
    hold on the network."""
    field = f"ipv{family}"
    addr = parse_address(family, value)
    prefix = network.ipv4_prefix if family == 4 else network.ipv6_prefix
    if addr not in prefix:
        raise InvalidValue(
            field, f"{addr} is outside network {network.id}'s IPv{family} prefix {prefix}"
        )
    if addr == prefix.network_address:
        what = "network address" if family == 4 else "subnet-router anycast address"
        raise InvalidValue(field, f"{addr} is the {what} of {prefix} (reserved)")
    if addr == prefix.broadcast_address:
        what = "broadcast address" if family == 4 else "last address"
        raise InvalidValue(field, f"{addr} is the {what} of {prefix} (reserved)")
    for server in route_servers:
        if addr in (server.ipv4, server.ipv6):
            raise InvalidValue(
                field, f"{addr} is route server {server.name}'s own address (reserved)"
            )
    if addr in taken:
        raise Conflict(
            f"{field}: {addr} is already held by another member on network {network.id}",
            field=field,
        )
    return addr
