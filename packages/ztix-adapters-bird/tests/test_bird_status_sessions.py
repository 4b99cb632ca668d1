"""Session status: parsed from recorded ``birdc -v show protocols all`` replies (Idle with
the import limit hit, Active with a socket error, Established with routes, a pattern
reply with several peers) and read live from two BIRDs peering on 127.0.0.x over SSH."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.render import config_digest
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.status import parse_sessions, peer_pattern
from ztix_adapters_bird.testing import TEST_USER, BirdLab, SshServer, free_port
from ztix_core.ports import SessionStatus
from ztix_core.values import Asn

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> list[SessionStatus]:
    return parse_sessions("rs1", (DATA / name).read_text())


def test_established_session_with_routes() -> None:
    [s] = recorded("status_established.txt")
    assert s.server == "rs1"
    assert s.asn == Asn(64501)
    assert s.protocol == "AS64501_1"
    assert s.state == "Established"
    assert s.since == "22:56:33.596"
    assert s.info == "Established"
    assert (s.imported, s.filtered, s.exported) == (3, 0, 0)
    assert not s.import_limit_hit
    assert s.last_error == ""


def test_idle_session_after_the_import_limit_was_hit() -> None:
    [s] = recorded("status_limit_hit.txt")
    assert s.state == "Idle"
    assert s.import_limit_hit
    assert s.last_error == "Automatic shutdown: Route limit exceeded"
    assert s.info == "Idle Automatic shutdown: Route limit exceeded"


def test_active_session_with_a_socket_error() -> None:
    [s] = recorded("status_active.txt")
    assert (s.asn, s.state) == (Asn(64502), "Active")
    assert s.last_error == "Socket: Connection refused"
    assert not s.import_limit_hit


def test_pattern_reply_gives_one_status_per_protocol() -> None:
    sessions = recorded("status_pattern.txt")
    assert [(s.protocol, s.state, s.import_limit_hit) for s in sessions] == [
        ("AS64501_1", "Idle", True),
        ("AS64502_1", "Active", False),
    ]


def test_filtered_routes_and_iso_dates_are_parsed() -> None:
    reply = "\n".join(
        [
            "0001 BIRD 2.0.12 ready.",
            "2002-Name       Proto      Table      State  Since         Info",
            "1002-AS64510_v4 BGP        ---        up     2026-11-25 20:24:09  Established",
            "1006-  BGP state:          Established",
            "         Neighbor AS:      64510",
            "       Channel ipv4",
            "         Import limit:   10",
            "         Routes:         2 imported, 3 filtered, 1 exported, 2 preferred",
            "1002-AS64510_v6 BGP        ---        up     2026-11-25 20:24:10  Established",
            "1006-  BGP state:          Established",
            "         Neighbor AS:      64510",
            "         Routes:         1 imported, 0 filtered, 4 exported, 1 preferred",
            "1002-device1    Device     ---        up     2026-11-25 20:24:08",
        ]
    )
    v4, v6 = parse_sessions("rs2", reply)
    assert (v4.since, v4.imported, v4.filtered, v4.exported) == ("2026-11-25 20:24:09", 2, 3, 1)
    assert (v6.protocol, v6.imported, v6.exported) == ("AS64510_v6", 1, 4)


def test_no_match_and_garbage_give_no_sessions() -> None:
    assert parse_sessions("rs1", "0001 BIRD 2.0.12 ready.\n8003 No protocols match\n") == []
    assert parse_sessions("rs1", "Unable to connect to server control socket\n") == []
    assert parse_sessions("rs1", "") == []


def test_patterns_are_per_member() -> None:
    assert peer_pattern(Asn(64501)) == "AS64501_*"
    assert peer_pattern(None) == "AS*"


# --------------------------------------------------------------------------- live


def _peer_file(asn: int, neighbor: str, port: int, limit: int, rs_port: int) -> bytes:
    return (
        f"protocol bgp AS{asn}_v4 {{\n"
        f"  local 127.0.0.10 port {rs_port} as 64999;\n"
        f"  neighbor {neighbor} port {port} as {asn};\n"
        "  multihop; rs client; connect delay time 1; connect retry time 1;\n"
        "  error wait time 60, 120;\n"
        f"  ipv4 {{ import all; export all; import limit {limit} action restart; }};\n"
        "}\n"
    ).encode()


def _wait(
    fleet: BirdFleet, asn: Asn, state: str, imported: int | None = None, timeout: float = 30
) -> SessionStatus:
    deadline = time.monotonic() + timeout
    last: list[SessionStatus] = []
    while time.monotonic() < deadline:
        last = fleet.session_status(asn)
        if last and last[0].state == state and imported in (None, last[0].imported):
            return last[0]
        time.sleep(0.3)
    raise AssertionError(f"AS{asn.value} never reached {state}: {last}")


def test_live_sessions_over_ssh(lab: BirdLab, sshd: SshServer) -> None:
    rs_port, m1_port, m2_port = free_port(), free_port(), free_port()
    main = b'router id 10.0.0.1;\nprotocol device {}\ninclude "peers/*.conf";\n'
    rs_files = {
        "bird.conf": main,
        "peers/AS64501.conf": _peer_file(64501, "127.0.0.11", m1_port, 10, rs_port),
        "peers/AS64502.conf": _peer_file(64502, "127.0.0.12", m2_port, 10, rs_port),
    }
    rs = lab.daemon("rs1", rs_files, config_owner=TEST_USER)
    member = (
        "router id 10.0.0.11;\nprotocol device {}\n"
        "protocol static { ipv4; route 10.9.1.0/24 blackhole; route 10.9.2.0/24 blackhole;"
        " route 10.9.3.0/24 blackhole; }\n"
        "protocol bgp RS {\n"
        f"  local 127.0.0.11 port {m1_port} as 64501;\n"
        f"  neighbor 127.0.0.10 port {rs_port} as 64999;\n"
        "  multihop; connect delay time 1; connect retry time 1;\n"
        "  ipv4 { import all; export all; next hop self; };\n}\n"
    ).encode()
    lab.daemon("m1", {"bird.conf": member})
    srv = RouteServerSettings(
        "rs1",
        Asn(64999),
        ipaddress.IPv4Address("10.0.0.1"),
        ssh=sshd.target(),
        paths=rs.paths(),
        policy=PolicyKnobs(confirm_timeout_s=30),
    )
    fleet = BirdFleet(BirdSettings((srv,)))
    try:
        # Established first, the routes a moment later
        up = _wait(fleet, Asn(64501), "Established", imported=3)
        assert up.protocol == "AS64501_v4"
        assert up.imported == 3 and not up.import_limit_hit
        assert up.info == "Established" and up.since
        down = fleet.session_status(Asn(64502))
        assert [(s.protocol, s.state) for s in down] in (
            [("AS64502_v4", "Active")],
            [("AS64502_v4", "Connect")],
        )
        everyone = fleet.session_status()
        assert {s.protocol for s in everyone} == {"AS64501_v4", "AS64502_v4"}
        assert fleet.session_status(Asn(64503)) == []

        # Lower the member's limit below what it announces: applied safely, then the
        # session goes down with the limit hit — as BIRD reports it, live.
        lowered = dict(rs_files)
        lowered["peers/AS64501.conf"] = _peer_file(64501, "127.0.0.11", m1_port, 2, rs_port)
        out = fleet.apply_config("rs1", lowered, config_digest(lowered))
        assert out.result == "applied", out
        hit = _wait(fleet, Asn(64501), "Idle")
        assert hit.import_limit_hit
        assert "limit" in hit.last_error.lower()
    finally:
        fleet.close()


def test_status_of_a_server_that_cannot_be_asked(lab: BirdLab, sshd: SshServer) -> None:
    rs = lab.daemon("rs1", {"bird.conf": b"router id 10.0.0.1;\nprotocol device {}\n"})
    rs.stop()
    srv = RouteServerSettings(
        "rs1", Asn(64999), ipaddress.IPv4Address("10.0.0.1"), ssh=sshd.target(), paths=rs.paths()
    )
    fleet = BirdFleet(BirdSettings((srv,)))
    try:
        [s] = fleet.session_status(Asn(64501))
        assert (s.server, s.state) == ("rs1", "unreachable")
        assert "control socket" in s.last_error
        assert fleet.session_status() == []
    finally:
        fleet.close()


@pytest.mark.parametrize("name", ["status_established.txt", "status_limit_hit.txt"])
def test_recorded_files_exist(name: str) -> None:
    assert (DATA / name).read_text().startswith("0001 BIRD 2.0.12 ready.")
