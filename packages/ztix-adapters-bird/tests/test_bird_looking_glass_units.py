"""The looking glass's parts without a daemon: the commands and names it may send, the
decoding of reject reasons and RPKI states, and the parser on birdc output captured from
the lab (``tests/data/lg_*.txt``: ``birdc -r -v`` fed the member's commands on stdin)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ztix_adapters_bird.looking_glass import (
    PROTOCOL,
    RouteCap,
    checked_protocol,
    commands,
    parse_member,
    reason_words,
    rpki_words,
    strip_prompt,
)
from ztix_adapters_bird.policy import RejectReason, RpkiState
from ztix_adapters_bird.transport import LocalTransport
from ztix_core.errors import InvalidValue
from ztix_core.values import Asn

DATA = Path(__file__).parent / "data"
RS = 65000


def _lines(name: str) -> list[str]:
    """The file's lines as the transport hands them over (split at newlines only: birdc
    puts carriage returns inside its lines)."""
    return [line.rstrip("\r") for line in (DATA / name).read_bytes().decode().split("\n")]


def test_commands_use_only_the_renderers_names() -> None:
    assert commands(Asn(4_200_000_000)) == [
        'show protocols all "AS4200000000_*"',
        "show route filtered protocol AS4200000000_v4 count",
        "show route filtered protocol AS4200000000_v6 count",
        "show route filtered protocol AS4200000000_v4 all",
        "show route filtered protocol AS4200000000_v6 all",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "AS100_v5",
        "AS0_v4",
        "AS100_v4; configure",
        'AS100_v4" all',
        "as100_v4",
        "AS100_v4\n",
        "AS12345678901_v4",
        "rs_v4",
        "",
    ],
)
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue) as err:
        checked_protocol(name)
    assert err.value.field == "protocol"
    assert not PROTOCOL.fullmatch(name)


def test_every_known_reason_has_words_and_unknown_codes_do_not_crash() -> None:
    assert reason_words(int(RejectReason.RPKI_INVALID)) == "RPKI invalid"
    assert reason_words(int(RejectReason.BOGON_PREFIX)) == "bogon prefix"
    assert reason_words(int(RejectReason.FIRST_AS_NOT_PEER)) == "first AS is not the member's"
    for reason in RejectReason:  # reasons added to the enum later are worded from the name
        words = reason_words(int(reason))
        assert words and not words.startswith("unknown reason"), reason
    assert reason_words(4242) == "unknown reason 4242"
    assert [rpki_words(int(s)) for s in RpkiState] == ["valid", "unknown", "invalid"]
    assert rpki_words(9) == "unknown state 9"


def test_prompts_and_terminal_codes_are_stripped() -> None:
    assert strip_prompt("bird> ") == ""
    assert strip_prompt("\x1b[K1007-Table master4:") == "1007-Table master4:"
    assert strip_prompt("bird> \x1b[K2002-Name") == "2002-Name"
    assert strip_prompt("     \tBGP.as_path: 100") == "     \tBGP.as_path: 100"


def test_a_captured_member() -> None:
    got = parse_member("rs1", RS, Asn(100), _lines("lg_as100.txt"))
    assert not got.error
    assert [
        (s.protocol, s.state, s.received, s.accepted, s.filtered, s.exported) for s in got.sessions
    ] == [
        ("AS100_v4", "Established", 6, 2, 4, 0),
        ("AS100_v6", "Established", 3, 1, 2, 0),
    ]
    assert got.sessions[0].since == "06:56:39.243" and got.sessions[0].established
    routes = {r.prefix: r for r in got.filtered_routes}
    assert {p: (r.rpki, r.reasons, r.reason_codes) for p, r in routes.items()} == {
        "45.101.1.0/24": ("invalid", ("RPKI invalid",), (13,)),
        "45.66.0.0/24": ("invalid", ("RPKI invalid",), (13,)),
        "10.10.0.0/16": ("", ("bogon prefix",), (3,)),
        "45.100.3.0/25": ("", ("prefix too long",), (1,)),
        "fc00:1::/48": ("", ("bogon prefix",), (3,)),
        "2a0a:666:1::/48": ("invalid", ("RPKI invalid",), (13,)),
    }
    assert routes["fc00:1::/48"].next_hop == "fd79::11"  # link-local left out
    assert routes["fc00:1::/48"].protocol == "AS100_v6"
    assert routes["45.66.0.0/24"].as_path == "100"
    assert (got.filtered_total, got.not_shown) == (6, 0)


def test_another_route_servers_asn_is_not_ours() -> None:
    got = parse_member("rs1", 65001, Asn(100), _lines("lg_as100.txt"))
    assert {r.reasons for r in got.filtered_routes} == {()}
    assert {r.rpki for r in got.filtered_routes} == {""}


def test_unknown_reason_codes_and_states_are_reported() -> None:
    # a reply as BIRD prints it, with codes this ztix does not know
    lines = [
        "0001 BIRD 2.0.12 ready.",
        "1007-Table master4:",
        " 45.1.0.0/24          unicast [AS100_v4 06:54:15.242] * (100) [AS100i]",
        "1012-\tBGP.as_path: 100 64500",
        " \tBGP.large_community: (65000, 1000, 9) (65000, 1101, 77) (65000, 1101, 13)",
        "                     unicast [AS100_v4 06:54:16.000] (100) [AS100i]",
        " \tBGP.large_community: (65000, 1101, 3)",
    ]
    got = parse_member("rs1", RS, Asn(100), lines)
    first, second = got.filtered_routes
    assert first.reasons == ("unknown reason 77", "RPKI invalid")
    assert first.reason_codes == (77, 13) and first.rpki == "unknown state 9"
    assert first.as_path == "100 64500"
    assert (second.prefix, second.reasons) == ("45.1.0.0/24", ("bogon prefix",))


def test_a_member_the_server_does_not_know() -> None:
    got = parse_member("rs1", RS, Asn(64999), _lines("lg_unknown_member.txt"))
    assert got.sessions == () and got.filtered_routes == () and not got.error


def test_no_daemon_is_an_error() -> None:
    got = parse_member("rs1", RS, Asn(100), _lines("lg_no_daemon.txt"))
    assert got.error.startswith("---- Unable to connect to server control socket")


def test_the_cap_on_captured_output() -> None:
    cap = RouteCap(frozenset({"AS200_v4", "AS200_v6"}), 5)
    lines = _lines("lg_as200.txt")
    read = 0
    for line in lines:
        read += 1
        if not cap(line):
            break
    assert cap.full and cap.routes == 5 and read < len(lines)
    got = parse_member("rs1", RS, Asn(200), cap.lines, truncated=True)
    assert len(got.filtered_routes) == 5
    assert all(r.reasons == ("bogon prefix",) for r in got.filtered_routes)
    assert (got.filtered_total, got.not_shown) == (40, 35)


def test_a_cap_the_output_never_reaches() -> None:
    cap = RouteCap(frozenset({"AS100_v4", "AS100_v6"}), 200)
    assert all(cap(line) for line in _lines("lg_as100.txt"))
    assert not cap.full and cap.routes == 6


def _stream(script: str, sink: RouteCap, timeout: float) -> str:
    transport = LocalTransport()
    run = transport.stream_lines([sys.executable, "-c", script], sink, timeout=timeout)
    # a generous bound of our own: a transport that hangs fails here instead of hanging
    result = asyncio.run(asyncio.wait_for(run, timeout + 60))
    return result.ended


def test_streaming_stops_a_flood_faster_than_it_is_read() -> None:
    # birdc writes a big listing in large chunks: the reader's buffer fills and pauses,
    # and the killed process's pipe must still be drained for it to be reaped
    flood = (
        "import sys\n"
        "block = ''.join(f' 10.0.{i % 256}.0/24 unicast [AS100_v4 x]\\n' for i in range(5000))\n"
        "while True:\n"
        "    sys.stdout.write(block)\n"
    )
    cap = RouteCap(frozenset({"AS100_v4"}), 50)
    assert _stream(flood, cap, 30) == "stopped"
    assert cap.routes == 50


def test_streaming_stops_a_command_that_never_ends() -> None:
    endless = (
        "import sys\n"
        "print('1007-Table master4:')\n"
        "i = 0\n"
        "while True:\n"
        "    print(f' 10.{i // 256 % 256}.{i % 256}.0/24 unicast [AS100_v4 x]', flush=True)\n"
        "    i += 1\n"
    )
    cap = RouteCap(frozenset({"AS100_v4"}), 50)
    assert _stream(endless, cap, 30) == "stopped"
    assert cap.routes == 50


def test_streaming_gives_up_at_the_deadline() -> None:
    silent = "import time\nprint('0001 BIRD ready.', flush=True)\ntime.sleep(600)\n"
    cap = RouteCap(frozenset({"AS100_v4"}), 50)
    assert _stream(silent, cap, 3) == "timeout"
    assert cap.lines in ([], ["0001 BIRD ready."])
