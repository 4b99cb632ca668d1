"""Validated ROA payloads (VRPs) from an rpki-client style JSON file.

The format rpki-client, routinator (``--format json``) and stayrtr share::

    {"metadata": {...}, "roas": [{"prefix": "192.0.2.0/24", "maxLength": 24,
                                  "asn": 64496, "ta": "ripe"}, ...]}

``asn`` may also be written ``"AS64496"``. Every entry is checked; a bad one raises
:class:`InvalidValue` naming its index.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ztix_core.errors import InvalidValue

Prefix = ipaddress.IPv4Network | ipaddress.IPv6Network
_FAMILY = {4: (socket.AF_INET, 32), 6: (socket.AF_INET6, 128)}


class Vrp(NamedTuple):
    """One validated ROA payload: ``prefix`` may be announced by ``asn`` up to ``max_length``.

    A tuple of integers: sorting, hashing and deduplicating stay cheap for real VRP sets
    (~500,000 entries). The order is family, address, length, max length, ASN.
    """

    version: int
    network: int
    length: int
    max_length: int
    asn: int

    @property
    def text(self) -> str:
        """The prefix in canonical text form, e.g. ``192.0.2.0/24``."""
        family, bits = _FAMILY[self.version]
        packed = self.network.to_bytes(bits // 8, "big")
        return f"{socket.inet_ntop(family, packed)}/{self.length}"

    @property
    def prefix(self) -> Prefix:
        """The prefix as an ``ipaddress`` network."""
        if self.version == 4:
            return ipaddress.IPv4Network((self.network, self.length))
        return ipaddress.IPv6Network((self.network, self.length))

    def bird(self) -> str:
        """The static ROA route: ``route 192.0.2.0/24 max 24 as 64496``."""
        return f"route {self.text} max {self.max_length} as {self.asn}"

    def to_json(self) -> dict[str, Any]:
        """The rpki-client JSON object for this VRP."""
        return {"prefix": self.text, "maxLength": self.max_length, "asn": self.asn, "ta": "ztix"}


def _parse_prefix(raw: object, where: str) -> tuple[int, int, int]:
    text = str(raw).strip()
    addr, slash, length_text = text.partition("/")
    version = 6 if ":" in addr else 4
    family, bits = _FAMILY[version]
    try:
        packed = socket.inet_pton(family, addr)
    except OSError:
        raise InvalidValue(where, f"prefix {raw!r} is not an IP prefix") from None
    if not slash or not length_text.isdigit() or int(length_text) > bits:
        raise InvalidValue(where, f"prefix {raw!r} has no valid length (0-{bits})")
    length = int(length_text)
    network = int.from_bytes(packed, "big")
    if network & ((1 << (bits - length)) - 1):
        raise InvalidValue(where, f"prefix {raw!r} has host bits set")
    return version, network, length


def parse_vrp(raw: object, where: str = "vrp") -> Vrp:
    """Validate one JSON ROA object."""
    if not isinstance(raw, Mapping):
        raise InvalidValue(where, f"{raw!r} is not an object")
    if "prefix" not in raw:
        raise InvalidValue(where, "has no prefix")
    version, network, length = _parse_prefix(raw["prefix"], where)
    bits = _FAMILY[version][1]
    max_len = raw.get("maxLength", length)
    if isinstance(max_len, bool) or not isinstance(max_len, int):
        raise InvalidValue(where, f"maxLength {max_len!r} is not an integer")
    if not length <= max_len <= bits:
        raise InvalidValue(where, f"maxLength {max_len} is outside {length}-{bits}")
    asn_raw = raw.get("asn")
    if isinstance(asn_raw, str) and asn_raw[:2].upper() == "AS":
        asn_raw = asn_raw[2:]
    if isinstance(asn_raw, str) and asn_raw.isdigit():
        asn_raw = int(asn_raw)
    if isinstance(asn_raw, bool) or not isinstance(asn_raw, int) or not 0 <= asn_raw < 2**32:
        raise InvalidValue(where, f"asn {raw.get('asn')!r} is not an AS number")
    return Vrp(version, network, length, max_len, asn_raw)


def parse_vrps(document: object, source: str = "vrps") -> list[Vrp]:
    """Every VRP of a decoded JSON document, deduplicated and sorted."""
    if not isinstance(document, Mapping) or not isinstance(document.get("roas"), list):
        raise InvalidValue(source, 'is not an rpki-client JSON document (no "roas" list)')
    vrps = {parse_vrp(item, f"{source}: roas[{i}]") for i, item in enumerate(document["roas"])}
    return sorted(vrps)


def load_vrps(path: str | Path) -> list[Vrp]:
    """Read and validate an rpki-client JSON VRP file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidValue("rpki.vrp_file", f"cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidValue("rpki.vrp_file", f"{path} is not JSON: {exc}") from None
    return parse_vrps(document, f"rpki.vrp_file {path}")


def vrps_document(vrps: Iterable[Vrp]) -> dict[str, Any]:
    """An rpki-client JSON document holding ``vrps`` (what stayrtr reads)."""
    return {
        "metadata": {"buildtime": "2026-01-01T00:00:00Z", "generator": "ztix"},
        "roas": [v.to_json() for v in sorted(vrps)],
    }
