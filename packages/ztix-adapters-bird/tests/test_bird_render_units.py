"""Pure helpers of the renderer: text escaping, RTR addresses, VRP parsing, policy codes."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from ztix_adapters_bird import render
from ztix_adapters_bird.lab import write_vrps
from ztix_adapters_bird.policy import RejectReason, RpkiState, reject_community, rpki_community
from ztix_adapters_bird.text import BirdToken, bird_path, comment_text, rtr_remote, sanitize_text
from ztix_adapters_bird.vrps import Vrp, load_vrps, parse_vrps, vrps_document
from ztix_core.errors import InvalidValue


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Example Networks", "Example Networks"),
        ('say "hi"', "say 'hi'"),
        ("a\\b", "a/b"),
        ("two\nlines\r\n", "two lines"),
        ("  many   spaces\t", "many spaces"),
        ("bell\x07", "bell"),
        ("Telefónica", "Telefónica"),
    ],
)
def test_sanitize_text(raw: str, clean: str) -> None:
    assert sanitize_text(raw) == clean


def test_sanitize_truncates() -> None:
    assert sanitize_text("x" * 300) == "x" * 120
    assert sanitize_text("ab cd", max_len=3) == "ab"
    assert comment_text("a\nb") == "a b"


@pytest.mark.parametrize(
    ("server", "remote", "port"),
    [
        ("127.0.0.1:8282", "127.0.0.1", 8282),
        ("rtr.example.net:3323", '"rtr.example.net"', 3323),
        ("RTR.Example.NET", '"rtr.example.net"', 323),
        ("[2001:db8::1]:8282", "2001:db8::1", 8282),
        ("[::1]", "::1", 323),
        (" 10.1.1.1:1 ", "10.1.1.1", 1),
    ],
)
def test_rtr_remote(server: str, remote: str, port: int) -> None:
    assert rtr_remote(server, "f") == (remote, port)


def test_bird_path() -> None:
    assert bird_path("/var/log/bird.log", "f") == '"/var/log/bird.log"'
    for bad in ('/a"b', "/a\nb", "/a b", "/a;b", "/a}b", "/a#b", "/a\\b", ""):
        with pytest.raises(InvalidValue):
            bird_path(bad, "f")


def test_templates_refuse_unescaped_strings() -> None:
    tpl = render._ENV.from_string("{{ value }}")
    assert tpl.render(value=BirdToken("ok")) == "ok"
    assert tpl.render(value=7) == "7"
    assert tpl.render(value=ipaddress.IPv4Address("10.0.0.1")) == "10.0.0.1"
    for bad in ("plain", True, None, 1.5):
        with pytest.raises(TypeError, match="unescaped"):
            tpl.render(value=bad)


def test_vrp_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    write_vrps(path, [("45.0.0.0/16", 24, 100), ("2a0a::/32", 48, 4_200_000_000)])
    vrps = load_vrps(path)
    assert [v.bird() for v in vrps] == [
        "route 45.0.0.0/16 max 24 as 100",
        "route 2a0a::/32 max 48 as 4200000000",
    ]
    again = parse_vrps(json.loads(json.dumps(vrps_document(vrps))))
    assert again == vrps


def test_vrps_sorted_deduplicated_and_default_max_length() -> None:
    doc = {
        "roas": [
            {"prefix": "2a0a::/32", "asn": 1},
            {"prefix": "45.1.0.0/16", "maxLength": 16, "asn": "as7"},
            {"prefix": "45.0.0.0/16", "maxLength": 16, "asn": "7"},
            {"prefix": "45.1.0.0/16", "asn": 7},
        ]
    }
    vrps = parse_vrps(doc)
    assert [(str(v.prefix), v.max_length, v.asn) for v in vrps] == [
        ("45.0.0.0/16", 16, 7),
        ("45.1.0.0/16", 16, 7),
        ("2a0a::/32", 32, 1),
    ]
    assert isinstance(vrps[0], Vrp)


def test_policy_codes() -> None:
    assert reject_community(65000, RejectReason.RPKI_INVALID) == (65000, 1101, 13)
    assert rpki_community(65000, RpkiState.UNKNOWN) == (65000, 1000, 2)


def test_main_template_documents_every_reject_reason() -> None:
    main = (Path(render.__file__).parent / "templates" / "bird.conf.j2").read_text()
    for reason in RejectReason:
        assert f"ztix_reject({int(reason)})" in main, reason


@pytest.mark.parametrize(
    ("prefix", "fragment"),
    [
        ("45.0.0/16", "not an IP prefix"),
        ("045.0.0.0/16", "not an IP prefix"),
        ("zz::/16", "not an IP prefix"),
        ("45.0.0.0", "no valid length"),
        ("45.0.0.0/33", "no valid length"),
        ("2a0a::/129", "no valid length"),
        ("45.0.0.0/-1", "no valid length"),
        ("45.0.0.1/24", "host bits"),
        ("2a0a::1/32", "host bits"),
    ],
)
def test_bad_vrp_prefixes(prefix: str, fragment: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_vrps({"roas": [{"prefix": prefix, "maxLength": 24, "asn": 1}]})
    assert fragment in info.value.message


def test_vrp_text_is_canonical() -> None:
    vrps = parse_vrps({"roas": [{"prefix": "2A0A:0000::/32", "asn": 1}]})
    assert vrps[0].text == "2a0a::/32"
    assert vrps[0].prefix == ipaddress.IPv6Network("2a0a::/32")
