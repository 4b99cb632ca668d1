"""Rendered configs parse with the real ``bird -p``, in every variant, and are deterministic."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import attrs
import pytest

from ztix_adapters_bird.lab import bird_parse, write_config
from ztix_adapters_bird.lab import example_peer as make_peer
from ztix_adapters_bird.lab import example_peers as make_peers
from ztix_adapters_bird.lab import example_server as make_server
from ztix_adapters_bird.render import (
    config_digest,
    peer_file_name,
    protocol_name,
    protocol_names,
    render_server,
)
from ztix_adapters_bird.settings import (
    PolicyKnobs,
    RemotePaths,
    RpkiSource,
)
from ztix_core.values import Asn

pytestmark = pytest.mark.bird

VRP_DOC = {
    "metadata": {"buildtime": "2026-01-01T00:00:00Z"},
    "roas": [
        {"prefix": "45.100.0.0/16", "maxLength": 24, "asn": 100, "ta": "ripe"},
        {"prefix": "45.100.0.0/16", "maxLength": 24, "asn": "AS100", "ta": "arin"},  # dup
        {"prefix": "1.1.1.0/24", "maxLength": 24, "asn": 13335, "ta": "apnic"},
        {"prefix": "2a0a:100::/32", "maxLength": 48, "asn": "AS100", "ta": "ripe"},
        {"prefix": "45.0.0.0/8", "maxLength": 8, "asn": 0, "ta": "ripe"},  # AS0 ROA
    ],
}


@pytest.fixture
def vrp_file(tmp_path: Path) -> Path:
    path = tmp_path / "vrps.json"
    path.write_text(json.dumps(VRP_DOC))
    return path


def parse(files: dict[str, bytes], directory: Path) -> None:
    bird_parse(write_config(files, directory))


RTR = RpkiSource(rtr_servers=("127.0.0.1:8282",))


@pytest.mark.parametrize("count", [0, 1, 40])
@pytest.mark.parametrize("rpki", ["rtr", "static", "none"])
def test_every_variant_parses(tmp_path: Path, vrp_file: Path, count: int, rpki: str) -> None:
    source = {"rtr": RTR, "static": RpkiSource(vrp_file=str(vrp_file)), "none": RpkiSource()}
    files = render_server(make_server(rpki=source[rpki]), make_peers(count))
    assert sorted(files) == [
        "bird.conf",
        "peers/.keep",
        *sorted(peer_file_name(1000 + i) for i in range(count)),
    ]
    parse(files, tmp_path / "conf")


def test_file_names_and_protocol_names() -> None:
    peers = [make_peer(1, 140_600), make_peer(0, 2000)]
    files = render_server(make_server(), peers)
    assert list(files) == ["bird.conf", "peers/.keep", "peers/AS140600.conf", "peers/AS2000.conf"]
    assert protocol_names(peers) == ["AS2000_v4", "AS2000_v6", "AS140600_v4", "AS140600_v6"]
    text = files["peers/AS2000.conf"].decode()
    assert f"protocol bgp {protocol_name(2000, 4)} from ztix_client_v4" in text
    assert "neighbor 10.0.0.10 as 2000;" in text
    assert "neighbor fd00::a as 2000;" in text
    assert "import limit 100 action restart;" in text
    assert "import limit 50 action restart;" in text
    assert "import where ztix_import_v4(2000, 10.0.0.10);" in text
    assert "export where ztix_export(2000);" in text
    with pytest.raises(ValueError):
        protocol_name(2000, 5)


def test_main_file_holds_policy_and_include() -> None:
    main = render_server(make_server(rpki=RTR), make_peers(2))["bird.conf"].decode()
    assert "router id 10.0.0.1;" in main
    assert "define ZTIX_RS_ASN = 64999;" in main
    assert "protocol rpki ztix_rtr1 {" in main
    assert "remote 127.0.0.1 port 8282;" in main
    assert main.rstrip().endswith('include "peers/*.conf";')
    assert "import keep filtered on;" in main and "import table on;" in main
    assert "secondary on;" in main and "rs client;" in main
    assert "log syslog all;" in main
    # Bogons, documentation included by default.
    for item in ("10.0.0.0/8+", "192.0.2.0/24+", "2001:db8::/32+", "fc00::/7+", "0.0.0.0/0{0,0}"):
        assert item in main
    assert re.search(r"64496\.\.64511", main)


def test_named_symbols_do_not_grow_with_members() -> None:
    def named(n: int) -> int:
        text = b"".join(render_server(make_server(), make_peers(n)).values()).decode()
        return len(re.findall(r"^\s*(?:function|filter|define|template)\s", text, re.M))

    assert named(1) == named(200)


def test_documentation_switch_drops_documentation_ranges(tmp_path: Path) -> None:
    server = make_server(policy=PolicyKnobs(allow_documentation_ranges=True))
    files = render_server(server, [make_peer(0, 64500), make_peer(1, 65540)])
    main = files["bird.conf"].decode()
    for item in ("192.0.2.0/24+", "198.51.100.0/24+", "203.0.113.0/24+", "2001:db8::/32+"):
        assert item not in main
    assert "64496..64511" not in main and "65536..65551" not in main
    assert "64512..65534" in main  # private ASNs stay bogons
    parse(files, tmp_path / "c")


def test_32_bit_route_server_asn_uses_large_communities_only(tmp_path: Path) -> None:
    files = render_server(
        make_server(asn=Asn(210_000)), [make_peer(0, 2000), make_peer(1, 270_000)]
    )
    main = files["bird.conf"].decode()
    assert "(0, ZTIX_RS_ASN)" not in main and "[(0, *), (ZTIX_RS_ASN, *)]" not in main
    assert "(ZTIX_RS_ASN, 0, 0)" in main
    parse(files, tmp_path / "c")


def test_several_rtr_servers_hostnames_and_ipv6(tmp_path: Path) -> None:
    rpki = RpkiSource(rtr_servers=("127.0.0.1:8282", "rtr.example.net:3323", "[::1]:323", "rtr2"))
    files = render_server(make_server(rpki=rpki), make_peers(1))
    main = files["bird.conf"].decode()
    assert 'remote "rtr.example.net" port 3323;' in main
    assert "remote ::1 port 323;" in main
    assert 'remote "rtr2" port 323;' in main
    assert "protocol rpki ztix_rtr4 {" in main
    parse(files, tmp_path / "c")


def test_static_vrps_rendered_sorted_and_deduplicated(vrp_file: Path) -> None:
    main = render_server(make_server(rpki=RpkiSource(vrp_file=str(vrp_file))), [])
    text = main["bird.conf"].decode()
    routes = re.findall(r"^\troute (.*);$", text, re.M)
    assert routes == [
        "1.1.1.0/24 max 24 as 13335",
        "45.0.0.0/8 max 8 as 0",
        "45.100.0.0/16 max 24 as 100",
        "2a0a:100::/32 max 48 as 100",
    ]


def test_no_local_addresses_and_log_file(tmp_path: Path) -> None:
    server = make_server(ipv4=None, ipv6=None, paths=RemotePaths(log_file="/var/log/bird/rs1.log"))
    files = render_server(server, make_peers(2))
    main = files["bird.conf"].decode()
    assert "local as ZTIX_RS_ASN;" in main
    assert 'log "/var/log/bird/rs1.log" all;' in main
    parse(files, tmp_path / "c")


def test_rendering_is_deterministic(vrp_file: Path) -> None:
    server = make_server(rpki=RpkiSource(vrp_file=str(vrp_file)))
    peers = make_peers(60)
    first = render_server(server, peers)
    shuffled = peers[:]
    random.Random(7).shuffle(shuffled)
    second = render_server(server, shuffled)
    assert first == second
    assert list(first) == list(second)
    assert config_digest(first) == config_digest(second)


def test_each_member_renders_its_own_limits() -> None:
    peer = attrs.evolve(make_peer(0), max_prefix_v4=7, max_prefix_v6=10_000_000)
    text = render_server(make_server(), [peer])["peers/AS1000.conf"].decode()
    assert "import limit 7 action restart;" in text
    assert "import limit 10000000 action restart;" in text


def test_config_digest() -> None:
    files = {"bird.conf": b"a", "peers/AS1.conf": b"b"}
    digest = config_digest(files)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert config_digest(dict(reversed(list(files.items())))) == digest
    assert config_digest({**files, "peers/AS1.conf": b"c"}) != digest
    assert config_digest({"bird.conf": b"ab"}) != config_digest({"bird.conf": b"a", "b": b""})
    assert config_digest({}) != config_digest({"bird.conf": b""})
