"""Rendering of the stricter policy: AS_SET mask, transit-free list, BGP roles (strict per
member), prepend communities; every variant parses with the real ``bird -p`` (Debian's
BIRD 2.0.12), and every bad knob is refused naming it, before anything is rendered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ztix_adapters_bird.fleet import check_settings
from ztix_adapters_bird.lab import bird_parse, write_config
from ztix_adapters_bird.lab import example_peers as make_peers
from ztix_adapters_bird.lab import example_server as make_server
from ztix_adapters_bird.policy import (
    PREPEND,
    TRANSIT_FREE_ASNS,
    RejectReason,
    prepend_community,
    reject_community,
)
from ztix_adapters_bird.render import render_server, roles_strict
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs
from ztix_core.errors import InvalidValue, SettingsError

pytestmark = pytest.mark.bird


def main_text(**knobs: Any) -> str:
    return render_server(make_server(policy=PolicyKnobs(**knobs)), make_peers(2))[
        "bird.conf"
    ].decode()


def test_codes_follow_ixp_manager_and_the_new_one_is_documented() -> None:
    assert reject_community(65000, RejectReason.TRANSIT_FREE_ASN) == (65000, 1101, 14)
    assert int(RejectReason.AS_SET_IN_PATH) == 16
    assert prepend_community(65000, 1, 64500) == (65000, 101, 64500)
    assert prepend_community(65000, 3) == (65000, 103, 0)
    assert PREPEND == {1: 101, 2: 102, 3: 103}
    with pytest.raises(ValueError, match="1, 2 or 3"):
        prepend_community(65000, 4)


def test_the_default_transit_free_list_is_rendered_and_checked_after_the_path_length() -> None:
    text = main_text()
    listed = ", ".join(str(asn) for asn, _name in sorted(TRANSIT_FREE_ASNS))
    assert f"define ZTIX_TRANSIT_FREE_ASNS = [ {listed} ];" in text
    body = text[text.index("function ztix_import_path") :]
    body = body[: body.index("\n}\n")]
    order = [body.index(f"ztix_reject({n})") for n in (4, 7, 8, 5, 16, 14)]
    assert order == sorted(order)
    assert "!(peer_asn ~ ZTIX_TRANSIT_FREE_ASNS)" in body


def test_an_empty_transit_free_list_turns_the_check_off(tmp_path: Path) -> None:
    files = render_server(make_server(policy=PolicyKnobs(transit_free_asns=())), make_peers(1))
    text = files["bird.conf"].decode()
    assert "ZTIX_TRANSIT_FREE_ASNS" not in text and "ztix_reject(14)" not in text
    bird_parse(write_config(files, tmp_path))


def test_custom_transit_free_list_is_sorted(tmp_path: Path) -> None:
    files = render_server(
        make_server(policy=PolicyKnobs(transit_free_asns=(4200, 174, 4_000_000_000))),
        make_peers(1),
    )
    assert b"define ZTIX_TRANSIT_FREE_ASNS = [ 174, 4200, 4000000000 ];" in files["bird.conf"]
    bird_parse(write_config(files, tmp_path))


@pytest.mark.parametrize("max_len", [1, 64, 255])
def test_the_as_set_mask_has_one_position_more_than_the_longest_path(
    max_len: int, tmp_path: Path
) -> None:
    files = render_server(make_server(policy=PolicyKnobs(max_as_path_len=max_len)), [])
    mask = re.search(r"define ZTIX_AS_SET_MASK = \[= ([? ]+) =\];", files["bird.conf"].decode())
    assert mask is not None and mask.group(1).split() == ["?"] * (max_len + 1)
    bird_parse(write_config(files, tmp_path))


def test_as_sets_reach_the_filter_on_every_bird_version() -> None:
    # BIRD 2.18+ / 3.2+ default to "allow as sets off" (treat as withdraw, no tag); 2.0.12
    # to on. Saying it keeps one behaviour: the filter sees the path and tags it 16.
    text = main_text()
    assert text.count("\tallow as sets on;") == 2


def test_roles_default_on_and_not_strict() -> None:
    files = render_server(make_server(), make_peers(2))
    assert files["bird.conf"].count(b"\tlocal role rs_server;") == 2
    assert not [name for name, text in files.items() if b"require roles" in text]


def test_roles_off_renders_no_role(tmp_path: Path) -> None:
    files = render_server(make_server(policy=PolicyKnobs(bgp_roles=False)), make_peers(1))
    assert b"local role" not in files["bird.conf"]
    bird_parse(write_config(files, tmp_path))


def test_strict_roles_per_member(tmp_path: Path) -> None:
    peers = make_peers(3)  # AS1000, AS1001, AS1002
    policy = PolicyKnobs(
        bgp_roles_strict=True, bgp_roles_lenient_asns=(1000,), bgp_roles_strict_asns=(1002,)
    )
    files = render_server(make_server(policy=policy), peers)
    strict = {name for name, text in files.items() if text.count(b"\trequire roles on;") == 2}
    assert strict == {"peers/AS1001.conf", "peers/AS1002.conf"}
    bird_parse(write_config(files, tmp_path))
    only_one = PolicyKnobs(bgp_roles_strict_asns=(1001,))
    assert [roles_strict(only_one, asn) for asn in (1000, 1001)] == [False, True]


def test_prepends_and_their_stripping_are_rendered() -> None:
    text = main_text()
    export = text[text.index("function ztix_export") :]
    for times, second in PREPEND.items():
        assert (
            f"(ZTIX_RS_ASN, {second}, peer_asn) ~ bgp_large_community then ztix_prepend("
            f"{times});" in export
        )
        assert (
            f"(ZTIX_RS_ASN, {second}, 0) ~ bgp_large_community then ztix_prepend("
            f"{times});" in export
        )
    # The requests naming the peer come first, the larger counts before the smaller.
    assert export.index("103, peer_asn") < export.index("101, peer_asn") < export.index("103, 0)")
    assert "(ZTIX_RS_ASN, 101..103, *)]);" in export


@pytest.mark.parametrize(
    ("knobs", "field", "fragment"),
    [
        ({"transit_free_asns": (174, 174)}, "policy.transit_free_asns", "listed twice"),
        ({"transit_free_asns": (0,)}, "policy.transit_free_asns", "not an AS number"),
        ({"transit_free_asns": (2**32,)}, "policy.transit_free_asns", "not an AS number"),
        ({"transit_free_asns": ("174",)}, "policy.transit_free_asns", "not an AS number"),
        ({"transit_free_asns": (True,)}, "policy.transit_free_asns", "not an AS number"),
        ({"transit_free_asns": 174}, "policy.transit_free_asns", "not a list"),
        ({"bgp_roles_strict_asns": (-1,)}, "policy.bgp_roles_strict_asns", "not an AS"),
        ({"bgp_roles_lenient_asns": (5, 5)}, "policy.bgp_roles_lenient_asns", "twice"),
        (
            {"bgp_roles_strict_asns": (7,), "bgp_roles_lenient_asns": (7,)},
            "policy.bgp_roles_strict_asns",
            "AS7 is also in bgp_roles_lenient_asns",
        ),
        ({"bgp_roles": False, "bgp_roles_strict": True}, "policy.bgp_roles_strict", "needs"),
        ({"bgp_roles": False, "bgp_roles_strict_asns": (7,)}, "policy.bgp_roles_strict", "needs"),
        ({"bgp_roles": "yes"}, "policy.bgp_roles", "not true or false"),
        ({"bgp_roles_strict": 1}, "policy.bgp_roles_strict", "not true or false"),
    ],
)
def test_bad_knobs_are_refused_by_name(knobs: dict[str, Any], field: str, fragment: str) -> None:
    server = make_server(policy=PolicyKnobs(**knobs), transport="local")
    with pytest.raises(InvalidValue) as info:
        render_server(server, make_peers(1))
    assert info.value.field == field and fragment in info.value.message
    # The fleet refuses the same settings at start-up, naming the server's key.
    with pytest.raises(SettingsError) as refused:
        check_settings(BirdSettings(servers=(server,)))
    assert refused.value.setting == f"bird.servers[0].{field}"
