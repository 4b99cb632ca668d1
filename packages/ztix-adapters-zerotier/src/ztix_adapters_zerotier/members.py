"""Member values shared by both providers: input validation and read-back comparison."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ztix_core.errors import InvalidValue, ProviderError
from ztix_core.ports import IPAddress, MemberState

MAX_NAME = 64


def check_inputs(ip_assignments: Sequence[IPAddress], name: str) -> list[str]:
    """Validate what ztix is about to send; InvalidValue (nothing sent) on bad input.
    Returns the addresses as the controller stores them."""
    raw: object = ip_assignments
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidValue("ip_assignments", "must be a list of addresses")
    out = []
    for addr in raw:
        if not isinstance(addr, ipaddress.IPv4Address | ipaddress.IPv6Address):
            raise InvalidValue("ip_assignments", f"{addr!r} is not an IP address object")
        out.append(str(addr))
    if len(set(out)) != len(out):
        raise InvalidValue("ip_assignments", f"duplicate addresses in {out}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("name", "must be a non-empty string")
    if len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidValue("name", f"must be at most {MAX_NAME} printable characters")
    return out


def _ip_key(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.split("/", 1)[0]))
    except ValueError:
        return text


def verify(sent: MemberState, stored: MemberState, what: str) -> None:
    """Raise ProviderError(kind="mismatch") naming every field the controller stored
    differently from what was sent."""
    diffs = []
    if stored.authorized != sent.authorized:
        diffs.append(f"authorized={stored.authorized}")
    if sorted(_ip_key(a) for a in stored.ip_assignments) != sorted(
        _ip_key(a) for a in sent.ip_assignments
    ):
        diffs.append(f"ipAssignments={list(stored.ip_assignments)}")
    if stored.no_auto_assign_ips != sent.no_auto_assign_ips:
        diffs.append(f"noAutoAssignIps={stored.no_auto_assign_ips}")
    if stored.name != sent.name:
        diffs.append(f"name={stored.name!r}")
    if diffs:
        raise ProviderError(
            f"{what} stored member {sent.node_id} on {sent.network_id} differently from what "
            f"ztix sent: {', '.join(diffs)}",
            kind="mismatch",
            transient=False,
            remediation="check the controller version and that no other tool edits this "
            "member; then retry the request",
        )


def bad_response(what: str, detail: str) -> ProviderError:
    """A ProviderError for a body that does not have the documented shape."""
    return ProviderError(
        f"{what} returned an unexpected body: {detail}",
        kind="bad_response",
        transient=False,
        remediation="check that the configured URL points at a supported ZeroTier API",
    )
