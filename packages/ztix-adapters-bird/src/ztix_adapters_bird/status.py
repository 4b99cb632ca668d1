"""Live BGP session status from ``birdc -v show protocols all NAME-OR-PATTERN``.

One query per peer (``AS64501_*``) or per pattern: at 3,000 peers the full dump is over a
megabyte, so callers never ask for ``show protocols all`` without a name.
"""

from __future__ import annotations

import re

import attrs

from ztix_adapters_bird.birdc import Reply, parse_reply
from ztix_core.errors import InvalidValue
from ztix_core.ports import SessionStatus
from ztix_core.values import Asn

_SUMMARY = re.compile(
    r"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s+"
    r"(?P<since>(?:\d{4}-\d{2}-\d{2}\s+)?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?|\d{4}-\d{2}-\d{2}|\S+)"
    r"\s*(?P<info>.*)$"
)
_ASN_IN_NAME = re.compile(r"^AS(\d+)(?:_|$)")
_PATTERN = re.compile(r"^[A-Za-z0-9_*?]+$")


@attrs.frozen
class ProtocolBlock:
    """One protocol of a ``show protocols all`` reply: its summary and detail lines."""

    name: str
    proto: str
    state: str
    since: str
    info: str
    details: tuple[str, ...]


def protocol_blocks(reply: Reply) -> list[ProtocolBlock]:
    """Split a reply into protocol blocks (1002 summary lines, 1006 details)."""
    blocks: list[ProtocolBlock] = []
    current: dict[str, str] | None = None
    details: list[str] = []

    def flush() -> None:
        if current is not None:
            blocks.append(
                ProtocolBlock(
                    current["name"],
                    current["proto"],
                    current["state"],
                    current["since"],
                    " ".join(current["info"].split()),
                    tuple(details),
                )
            )

    for line in reply.lines:
        if line.code == "1002":
            match = _SUMMARY.match(line.text.strip())
            if not match:
                continue
            flush()
            current = match.groupdict()
            details = []
        elif line.code == "1006" and current is not None:
            details.append(line.text.strip())
    flush()
    return blocks


def _detail(details: tuple[str, ...], key: str) -> str:
    prefix = key + ":"
    for line in details:
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def _count(text: str, word: str) -> int:
    match = re.search(rf"(\d+) {word}", text)
    return int(match.group(1)) if match else 0


def session_from_block(server: str, block: ProtocolBlock) -> SessionStatus | None:
    """A SessionStatus for a BGP block (None for other protocols or without an ASN)."""
    if block.proto.upper() != "BGP":
        return None
    neighbor_as = _detail(block.details, "Neighbor AS")
    name_match = _ASN_IN_NAME.match(block.name)
    raw_asn = neighbor_as or (name_match.group(1) if name_match else "")
    try:
        asn = Asn.parse(raw_asn)
    except (InvalidValue, ValueError):
        return None
    imported = filtered = exported = 0
    for line in block.details:
        if line.startswith("Routes:"):
            imported += _count(line, "imported")
            filtered += _count(line, "filtered")
            exported += _count(line, "exported")
    limit_hit = any(line.startswith("Import limit:") and "[HIT]" in line for line in block.details)
    return SessionStatus(
        server=server,
        asn=asn,
        protocol=block.name,
        state=_detail(block.details, "BGP state") or block.state,
        since=block.since,
        info=block.info,
        imported=imported,
        filtered=filtered,
        exported=exported,
        import_limit_hit=limit_hit,
        last_error=_detail(block.details, "Last error"),
    )


def parse_sessions(server: str, output: str) -> list[SessionStatus]:
    """Every BGP session in ``birdc -v show protocols all …`` output; ``8003 No protocols
    match`` gives an empty list."""
    reply = parse_reply(output)
    out = [session_from_block(server, block) for block in protocol_blocks(reply)]
    return [s for s in out if s is not None]


def peer_pattern(asn: Asn | None) -> str:
    """The protocol-name pattern of one member's sessions (all members when None).

    Protocol names are ``AS<asn>_<suffix>`` (the renderer's convention)."""
    pattern = "AS*" if asn is None else f"AS{asn.value}_*"
    if not _PATTERN.match(pattern):  # pragma: no cover - Asn values are digits
        raise InvalidValue("asn", f"bad protocol pattern {pattern!r}")
    return pattern
