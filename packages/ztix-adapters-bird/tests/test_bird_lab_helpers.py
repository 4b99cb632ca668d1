"""The lab helpers other tests (and the end-to-end suite) build on."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import (
    Announcement,
    Lab,
    LabError,
    bird_parse,
    member_config,
    parse_routes,
    wait_until,
)

SHOW_ROUTE = """BIRD 2.0.12 ready.
Table master4:
45.100.1.0/24        unicast [AS100_v4 23:10:43.123] * (100) [AS100i]
\tvia 10.77.0.11 on lan0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 100 3356
\tBGP.next_hop: 10.77.0.11
\tBGP.local_pref: 0
\tBGP.community: (65535,0) (0,200)
\tBGP.large_community: (65000, 1000, 1) (65000, 0, 300)
                     unicast [AS200_v4 23:10:44.001] (100) [AS200i]
\tvia 10.77.0.12 on lan0
\tType: BGP univ
\tBGP.as_path: 200
\tBGP.next_hop: 10.77.0.12
Table master6:
2a0a::/32            unicast [AS100_v6 23:10:43.123] * (100) [AS100i]
\tvia fd77::11 on lan0
\tType: BGP univ
\tBGP.as_path: 100
\tBGP.next_hop: fd77::11 fe80::1
"""


def test_parse_routes() -> None:
    routes = parse_routes(SHOW_ROUTE)
    assert [(r.prefix, r.proto, r.primary) for r in routes] == [
        ("45.100.1.0/24", "AS100_v4", True),
        ("45.100.1.0/24", "AS200_v4", False),
        ("2a0a::/32", "AS100_v6", True),
    ]
    first = routes[0]
    assert first.as_path == [100, 3356]
    assert first.communities == {(65535, 0), (0, 200)}
    assert first.large_communities == {(65000, 1000, 1), (65000, 0, 300)}
    assert first.local_pref == 0
    assert routes[1].local_pref is None
    assert routes[2].next_hop == "fd77::11"


SHOW_ROUTE_BIRD3 = """BIRD 3.3.2 ready.
Table master4:
45.50.2.0/24         unicast [AS500_v4 07:08:11.083] * (100) [AS600i]
\tvia 10.78.0.16 on lan0
\tpreference: 100
\tsource: BGP
\tbgp_path: 500 600 {700 800} 600
\tbgp_next_hop: 10.78.0.16
\tbgp_local_pref: 100
\tbgp_large_community: (65000, 1101, 16)
\tbgp_otc: 65000
"""


def test_parse_routes_reads_bird3_attribute_names() -> None:
    (route,) = parse_routes(SHOW_ROUTE_BIRD3)
    assert route.as_path == [500, 600, 700, 800, 600]
    assert route.large_communities == {(65000, 1101, 16)}
    assert (route.next_hop, route.local_pref) == ("10.78.0.16", 100)
    assert route.attrs["BGP.otc"] == "65000" and route.attrs["preference"] == "100"


def test_wait_until_reports_the_last_complaint() -> None:
    def never() -> bool:
        raise AssertionError("still 3 routes")

    with pytest.raises(LabError, match="still 3 routes"):
        wait_until(never, 0.3, "nothing", interval=0.05)
    assert wait_until(lambda: 5, 1, "five") == 5


def test_lab_refuses_to_run_without_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        Lab(tmp_path)


@pytest.mark.bird
def test_member_config_parses(tmp_path: Path) -> None:
    conf = tmp_path / "m.conf"
    conf.write_text(
        member_config(
            asn=100,
            router_id="10.77.0.11",
            ipv4="10.77.0.11",
            ipv6="fd77::11",
            rs_asn=65000,
            rs_ipv4="10.77.0.1",
            rs_ipv6="fd77::1",
            announcements=[
                Announcement("45.0.0.0/24", path=(100, 64512), communities=((0, 200),)),
                Announcement(
                    "45.0.1.0/24", large_communities=((65000, 0, 0),), next_hop="10.77.0.9"
                ),
                Announcement("2a0a::/32"),
            ],
            log_file=tmp_path / "m.log",
        )
    )
    bird_parse(conf)


@pytest.mark.netns
def test_lab_deletes_its_namespaces(tmp_path: Path) -> None:
    with Lab(tmp_path) as lab:
        lab.add_node("a", "10.9.0.1/24", "fd09::1/64")
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
        assert f"ztix-{lab.tag}-a" in names.stdout
        tag = lab.tag
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert f"ztix-{tag}-" not in after.stdout


def test_speaker_paths_and_updates() -> None:
    from ztix_adapters_bird.speaker import (
        AS_SEQUENCE,
        AS_SET,
        parse_path,
        parse_route,
        update_message,
    )

    assert parse_path("500 {600 700} 600") == (
        (AS_SEQUENCE, (500,)),
        (AS_SET, (600, 700)),
        (AS_SEQUENCE, (600,)),
    )
    assert parse_path("{4200000000,7}") == ((AS_SET, (4200000000, 7)),)
    route = parse_route("45.50.1.0/24=500 {600}")
    message = update_message(route, ipaddress.IPv4Address("10.0.0.5"))
    assert message[:16] == b"\xff" * 16 and message[18] == 2  # an UPDATE
    assert int.from_bytes(message[16:18], "big") == len(message)
    # AS_PATH: a 1-ASN sequence and a 1-ASN set, 4-octet ASNs; NLRI /24 last.
    assert bytes([2, 1]) + (500).to_bytes(4, "big") + bytes([1, 1]) in message
    assert message.endswith(bytes([24, 45, 50, 1]))
    for bad in ("500 {}", "", "45.0.0.0/24", "45.0.0.1/24=500", "45.0.0.0/24=x"):
        with pytest.raises(ValueError):
            parse_route(bad) if "/" in bad else parse_path(bad)
