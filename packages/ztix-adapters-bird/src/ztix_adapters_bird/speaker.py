"""A minimal BGP-4 speaker for the lab: announces IPv4 routes with AS paths BIRD cannot
build in a filter (an AS_SET segment, RFC 4271 §4.3), so the route server's policy can be
tested with them on a real session.

Run inside a lab node (``Lab.start_speaker``): it connects to the route server, opens the
session (4-octet ASNs, IPv4 unicast), sends one UPDATE per route, then answers keepalives
until it is terminated, reconnecting when the session drops. Everything it receives is
discarded. A path is written as in BIRD's output: ``500 {600 700} 600`` is an AS_SEQUENCE
(500), an AS_SET (600, 700) and an AS_SEQUENCE (600).

    python -m ztix_adapters_bird.speaker --asn 500 --local 10.77.0.15 \\
        --peer 10.77.0.1 --peer-asn 65000 --route "45.50.1.0/24=500 {600 700}"
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence

import attrs

AS_SET = 1
AS_SEQUENCE = 2
_MARKER = b"\xff" * 16
_OPEN, _UPDATE, _NOTIFICATION, _KEEPALIVE = 1, 2, 3, 4
_HOLD_S = 90


@attrs.frozen
class SpeakerRoute:
    """One IPv4 route: prefix and AS path segments ``((type, (asn, ...)), ...)``."""

    prefix: ipaddress.IPv4Network
    segments: tuple[tuple[int, tuple[int, ...]], ...]


def parse_path(text: str) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """``"500 {600 700} 600"`` → ``((2, (500,)), (1, (600, 700)), (2, (600,)))``."""
    segments: list[tuple[int, tuple[int, ...]]] = []
    for group, seq in re.findall(r"\{([^}]*)\}|([^{}]+)", text):
        if group or not seq:
            members = tuple(int(x) for x in group.replace(",", " ").split())
            if not members:
                raise ValueError(f"empty AS_SET in {text!r}")
            segments.append((AS_SET, members))
        elif seq.strip():
            segments.append((AS_SEQUENCE, tuple(int(x) for x in seq.split())))
    if not segments:
        raise ValueError(f"no AS path in {text!r}")
    return tuple(segments)


def parse_route(text: str) -> SpeakerRoute:
    """``"PREFIX=PATH"`` → :class:`SpeakerRoute`."""
    prefix, sep, path = text.partition("=")
    if not sep:
        raise ValueError(f"route {text!r} is not PREFIX=PATH")
    return SpeakerRoute(ipaddress.IPv4Network(prefix.strip()), parse_path(path))


def _message(kind: int, body: bytes) -> bytes:
    return _MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def open_message(asn: int, router_id: ipaddress.IPv4Address) -> bytes:
    """OPEN with the multiprotocol (IPv4 unicast) and 4-octet-AS capabilities."""
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", asn)
    params = bytes([2, len(caps)]) + caps
    my_as = asn if asn <= 0xFFFF else 23456  # AS_TRANS
    body = struct.pack("!BHH4sB", 4, my_as, _HOLD_S, router_id.packed, len(params)) + params
    return _message(_OPEN, body)


def _attribute(flags: int, code: int, value: bytes) -> bytes:
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def update_message(route: SpeakerRoute, next_hop: ipaddress.IPv4Address) -> bytes:
    """UPDATE announcing ``route`` (ORIGIN IGP, its AS path with 4-octet ASNs, NEXT_HOP)."""
    path = b"".join(
        struct.pack("!BB", kind, len(asns)) + b"".join(struct.pack("!I", a) for a in asns)
        for kind, asns in route.segments
    )
    attributes = (
        _attribute(0x40, 1, b"\x00")
        + _attribute(0x40, 2, path)
        + _attribute(0x40, 3, next_hop.packed)
    )
    length = route.prefix.prefixlen
    nlri = bytes([length]) + route.prefix.network_address.packed[: (length + 7) // 8]
    body = struct.pack("!H", 0) + struct.pack("!H", len(attributes)) + attributes + nlri
    return _message(_UPDATE, body)


def _read_message(sock: socket.socket) -> tuple[int, bytes]:
    header = _read_exactly(sock, 19)
    length, kind = struct.unpack("!HB", header[16:])
    return kind, _read_exactly(sock, length - 19)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    return data


def run_session(
    asn: int,
    local: ipaddress.IPv4Address,
    peer: ipaddress.IPv4Address,
    routes: Sequence[SpeakerRoute],
) -> None:
    """One BGP session: open, announce ``routes``, keep it alive until it drops."""
    address = (str(peer), 179)
    with socket.create_connection(address, timeout=10, source_address=(str(local), 0)) as sock:
        sock.sendall(open_message(asn, local))
        kind, body = _read_message(sock)
        if kind != _OPEN:
            raise ConnectionError(f"expected OPEN, got message type {kind}: {body.hex()}")
        sock.sendall(_message(_KEEPALIVE, b""))
        for route in routes:
            sock.sendall(update_message(route, local))
        print(f"session up, {len(routes)} route(s) sent", flush=True)
        sock.settimeout(None)
        last_keepalive = time.monotonic()
        while True:
            ready, _, _ = select.select([sock], [], [], 5)
            if ready:
                kind, body = _read_message(sock)
                if kind == _NOTIFICATION:
                    raise ConnectionError(f"NOTIFICATION {body[:2].hex()} {body[2:].hex()}")
            if time.monotonic() - last_keepalive >= _HOLD_S / 3:
                sock.sendall(_message(_KEEPALIVE, b""))
                last_keepalive = time.monotonic()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: keep a session to the route server up until terminated."""
    parser = argparse.ArgumentParser(prog="ztix-lab-speaker", description=__doc__)
    parser.add_argument("--asn", type=int, required=True)
    parser.add_argument("--local", type=ipaddress.IPv4Address, required=True)
    parser.add_argument("--peer", type=ipaddress.IPv4Address, required=True)
    parser.add_argument("--route", action="append", default=[], type=parse_route)
    args = parser.parse_args(argv)
    while True:
        try:
            run_session(args.asn, args.local, args.peer, args.route)
        except OSError as exc:  # ConnectionError included: reconnect after a pause
            print(f"session down: {exc}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
