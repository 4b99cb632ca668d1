"""Members' router snippets without a lab: content, validation, the communities read
from the policy module, BIRD's parser and FRR's dry run on the output."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from ztix_adapters_bird import policy
from ztix_adapters_bird.lab import bird_parse, example_server
from ztix_adapters_bird.plugin import make_router_configs
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.snippets import (
    BirdRouterConfigs,
    community_notes,
    community_rows,
    render_snippets,
)
from ztix_core.bootstrap import router_configs
from ztix_core.errors import InvalidValue
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.ports import MemberRouter
from ztix_core.settings import Settings
from ztix_core.values import Asn, NetworkId

EVIL = 'Evil "Net"\n}; protocol bgp pwn { }\n! router bgp 1\\'
RS1 = example_server()
RS2 = example_server(
    name="rs2",
    router_id=ipaddress.IPv4Address("10.0.0.2"),
    ipv4=ipaddress.IPv4Address("10.0.0.2"),
    ipv6=ipaddress.IPv6Address("fd00::2"),
)


def member(**overrides: Any) -> MemberRouter:
    base: dict[str, Any] = {
        "asn": Asn(200100),
        "name": EVIL,
        "network_id": NetworkId("0123456789abcdef"),
        "ipv4": ipaddress.IPv4Address("10.0.0.10"),
        "ipv6": ipaddress.IPv6Address("fd00::10"),
        "lan_v4": ipaddress.IPv4Network("10.0.0.0/24"),
        "lan_v6": ipaddress.IPv6Network("fd00::/64"),
        "accepted_v4": 100,
        "accepted_v6": 50,
        "suggested_v4": 1200,
        "suggested_v6": 600,
    }
    base.update(overrides)
    return MemberRouter(**base)


def texts(servers: list[RouteServerSettings] | None = None, **overrides: object) -> dict[str, str]:
    chosen = servers if servers is not None else [RS1, RS2]
    return {s.flavour: s.text for s in render_snippets(chosen, member(**overrides))}


def test_one_snippet_per_flavour_with_every_session() -> None:
    found = render_snippets([RS2, RS1], member())
    assert [(s.flavour, s.title, s.filename) for s in found] == [
        ("bird", "BIRD 2", "ztix-as200100-bird.conf"),
        ("frr", "FRR", "ztix-as200100-frr.conf"),
    ]
    bird, frr = found[0].text, found[1].text
    for index, address in ((1, "10.0.0.1"), (2, "10.0.0.2")):
        assert f"protocol bgp ztix_rs{index}_v4 from ztix_rs_v4" in bird
        assert f"neighbor {address} as 64999;" in bird
        assert f" neighbor {address} remote-as 64999\n" in frr
        assert f" neighbor {address} peer-group ZTIX-RS-V4\n" in frr
    for index, address in ((1, "fd00::1"), (2, "fd00::2")):
        assert f"protocol bgp ztix_rs{index}_v6 from ztix_rs_v6" in bird
        assert f" neighbor {address} peer-group ZTIX-RS-V6\n" in frr
    # the member's own addresses as source, the suggested limits
    assert "local 10.0.0.10 as 200100;" in bird and "local fd00::10 as 200100;" in bird
    assert " neighbor ZTIX-RS-V4 update-source 10.0.0.10\n" in frr
    assert " neighbor ZTIX-RS-V6 update-source fd00::10\n" in frr
    assert "import limit 1200 action restart;" in bird and "import limit 600" in bird
    assert "maximum-prefix 1200 90 restart 5" in frr and "maximum-prefix 600 90" in frr
    # transparent route servers: no first-AS check on these sessions
    assert bird.count("\tenforce first as off;") == 2
    assert " no neighbor ZTIX-RS-V4 enforce-first-as\n" in frr
    assert " no neighbor ZTIX-RS-V6 enforce-first-as\n" in frr
    assert "at most 100 IPv4 and 50 IPv6 prefixes from you" in bird
    assert render_snippets([RS1, RS2], member()) == found  # deterministic


def test_free_text_cannot_escape_a_comment() -> None:
    for flavour, text in texts().items():
        comment = "#" if flavour == "bird" else "!"
        for line in text.splitlines():
            if "Evil" in line:
                assert line.startswith(comment), line
        assert "pwn" not in "".join(
            line for line in text.splitlines() if not line.startswith(comment)
        )
        assert '"Net"' not in text and "\\" not in text


def test_communities_are_read_from_the_policy_module() -> None:
    bird = texts()["bird"]
    rows = community_rows(64999)
    assert len(rows) >= 5
    for row in rows:
        assert f"#   {row.community}" in bird
    # the comment lines as one text (long rows wrap)
    prose = " ".join(line.lstrip("#").strip() for line in bird.splitlines() if line.startswith("#"))
    prose = " ".join(prose.split())
    for enum_type in (policy.RejectReason, policy.RpkiState):
        for item in enum_type:
            assert f"{int(item)} {item.name.split('_')[0].lower()}" in prose.lower(), item
    assert "7 first AS not peer" in prose and "13 RPKI invalid" in prose
    assert "(64999, 0, P)" in bird and "standard form 0:64999" in bird
    for line in community_notes(64999):
        assert f"# {line}" in bird
    assert "(64999, 1101, n)" in texts()["frr"]


def test_a_new_convention_in_the_policy_table_appears_without_a_change_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = policy.__doc__ or ""
    rule = next(line for line in doc.splitlines() if line.startswith("====="))
    row = "``(RS, 101, P)``        prepend once to AS P (standard form ``RS:101``)"
    # insert the new row just before the closing rule
    head, sep, tail = doc.rpartition(rule)
    monkeypatch.setattr(policy, "__doc__", f"{head}{row}\n{sep}{tail}")
    text = texts()["bird"]
    assert "(64999, 101, P)" in text and "prepend once to AS P (standard form 64999:101)" in text


def test_a_32_bit_route_server_asn_has_no_standard_forms() -> None:
    servers = [attrs.evolve(RS1, asn=Asn(4_200_000_100 - 4_000_000_000 + 4_000_000))]
    text = texts(servers)["bird"]
    asn = int(servers[0].asn)
    assert f"({asn}, 0, 0)" in text
    assert text.count("(no standard form:") == 2  # nobody, and announce to P
    assert f"0:{asn}" not in text


def test_bird_parses_the_snippet_included_in_a_main_file(tmp_path: Path) -> None:
    snippet = tmp_path / "ztix.conf"
    snippet.write_text(texts()["bird"])
    main = tmp_path / "bird.conf"
    main.write_text(f'router id 10.0.0.10;\nprotocol device {{ }}\ninclude "{snippet}";\n')
    bird_parse(main)


def test_frr_reads_every_line_of_the_snippet(tmp_path: Path) -> None:
    conf = tmp_path / "frr.conf"
    conf.write_text(texts()["frr"])
    done = subprocess.run(
        [
            *("/usr/lib/frr/bgpd", "-C", "-u", "root", "-g", "frrvty", "-Z", "-f", str(conf)),
            *("--vty_socket", str(tmp_path), "-i", str(tmp_path / "bgpd.pid"), "-P", "0"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = done.stdout + done.stderr
    # bgpd -C exits 0 even on bad lines: its log names each one it could not read.
    assert done.returncode == 0 and "command" not in out.lower() and "error" not in out.lower(), out


def test_servers_off_the_members_network_are_left_out_and_said() -> None:
    far = attrs.evolve(
        RS2, ipv4=ipaddress.IPv4Address("10.9.0.2"), router_id=ipaddress.IPv4Address("10.9.0.2")
    )
    bird = texts([RS1, far])["bird"]
    assert "neighbor 10.9.0.2" not in bird and "neighbor fd00::2 as 64999;" in bird
    assert "# Left out: rs2 (10.9.0.2) is not on this network (10.0.0.0/24)" in bird


def test_peering_lan_from_the_policy_when_the_network_is_unknown() -> None:
    server = attrs.evolve(
        RS1,
        policy=PolicyKnobs(
            peering_lan_v4=(ipaddress.IPv4Network("10.0.0.0/24"),),
            peering_lan_v6=(ipaddress.IPv6Network("fd00::/64"),),
        ),
    )
    bird = texts([server], lan_v4=None, lan_v6=None)["bird"]
    assert "define ZTIX_PEERING_LAN_V4 = [ 10.0.0.0/24+ ];" in bird
    no_lan = texts([RS1], lan_v4=None, lan_v6=None)
    assert "ZTIX_PEERING_LAN" not in no_lan["bird"]
    assert "ZTIX-PEERING-LAN" not in no_lan["frr"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ipv4": ipaddress.IPv4Address("10.1.0.10")}, "member.ipv4"),
        ({"ipv6": ipaddress.IPv6Address("fe80::1"), "lan_v6": None}, "member.ipv6"),
        ({"ipv4": ipaddress.IPv4Address("127.0.0.1"), "lan_v4": None}, "member.ipv4"),
        ({"ipv4": ipaddress.IPv4Address("10.0.0.1")}, "member"),
        ({"asn": Asn(64999)}, "member.asn"),
        ({"asn": Asn(65100)}, "member.asn"),
        ({"suggested_v4": 0}, "member.suggested_v4"),
        ({"accepted_v6": 10**9}, "member.accepted_v6"),
    ],
)
def test_bad_members_are_refused(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        render_snippets([RS1, RS2], member(**overrides))
    assert caught.value.details["field"] == field


def test_no_route_server_on_the_network_is_an_error_and_none_configured_is_empty() -> None:
    far = attrs.evolve(RS1, ipv4=ipaddress.IPv4Address("10.9.0.1"), ipv6=None)
    with pytest.raises(InvalidValue, match="no route server has an address"):
        render_snippets([far], member())
    assert render_snippets([], member()) == []
    assert BirdRouterConfigs(BirdSettings()).router_snippets(member()) == []


def test_the_plugin_builds_it_from_settings_alone() -> None:
    settings = Settings(
        route_server_fleet="bird",
        sections={
            "bird": {
                "servers": [
                    {"name": "rs1", "asn": 64999, "router_id": "10.0.0.1", "ipv4": "10.0.0.1"}
                ]
            }
        },
    )
    built = make_router_configs(settings)
    assert isinstance(built, BirdRouterConfigs)
    assert isinstance(router_configs(settings, Plugins(build_plugin_manager())), BirdRouterConfigs)
    (bird, _frr) = built.router_snippets(member())
    assert "neighbor 10.0.0.1 as 64999;" in bird.text and "ztix_rs1_v6" not in bird.text
