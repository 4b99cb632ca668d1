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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ztix_core.errors import InvalidValue

Prefix = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen
class Vrp:
    """One validated ROA payload: ``prefix`` may be announced by ``asn`` up to ``max_length``."""

    version: int
    prefix: Prefix
    max_length: int
    asn: int
    # Sort key: family, address, length, max length, ASN (ipaddress networks of different
    # families do not compare).
    key: tuple[int, int, int, int, int] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self,
            "key",
            (
                self.version,
                int(self.prefix.network_address),
                self.prefix.prefixlen,
                self.max_length,
                self.asn,
            ),
        )

    def bird(self) -> str:
        """The static ROA route: ``route 192.0.2.0/24 max 24 as 64496``."""
        return f"route {self.prefix} max {self.max_length} as {self.asn}"

    def to_json(self) -> dict[str, Any]:
        """The rpki-client JSON object for this VRP."""
        return {
            "prefix": str(self.prefix),
            "maxLength": self.max_length,
            "asn": self.asn,
            "ta": "ztix",
        }


def parse_vrp(raw: object, where: str = "vrp") -> Vrp:
    """Validate one JSON ROA object."""
    if not isinstance(raw, Mapping):
        raise InvalidValue(where, f"{raw!r} is not an object")
    try:
        prefix: Prefix = ipaddress.ip_network(str(raw["prefix"]), strict=True)
    except KeyError:
        raise InvalidValue(where, "has no prefix") from None
    except ValueError as exc:
        raise InvalidValue(where, f"prefix {raw.get('prefix')!r} is invalid: {exc}") from None
    max_len = raw.get("maxLength", prefix.prefixlen)
    if isinstance(max_len, bool) or not isinstance(max_len, int):
        raise InvalidValue(where, f"maxLength {max_len!r} is not an integer")
    if not prefix.prefixlen <= max_len <= prefix.max_prefixlen:
        raise InvalidValue(
            where, f"maxLength {max_len} is outside {prefix.prefixlen}-{prefix.max_prefixlen}"
        )
    asn_raw = raw.get("asn")
    if isinstance(asn_raw, str) and asn_raw[:2].upper() == "AS":
        asn_raw = asn_raw[2:]
    if isinstance(asn_raw, str) and asn_raw.isdigit():
        asn_raw = int(asn_raw)
    if isinstance(asn_raw, bool) or not isinstance(asn_raw, int) or not 0 <= asn_raw < 2**32:
        raise InvalidValue(where, f"asn {raw.get('asn')!r} is not an AS number")
    return Vrp(prefix.version, prefix, max_len, asn_raw)


def parse_vrps(document: object, source: str = "vrps") -> list[Vrp]:
    """Every VRP of a decoded JSON document, deduplicated and sorted."""
    if not isinstance(document, Mapping) or not isinstance(document.get("roas"), list):
        raise InvalidValue(source, 'is not an rpki-client JSON document (no "roas" list)')
    vrps = {parse_vrp(item, f"{source}: roas[{i}]") for i, item in enumerate(document["roas"])}
    return sorted(vrps, key=lambda v: v.key)


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
        "roas": [v.to_json() for v in sorted(vrps, key=lambda v: v.key)],
    }
