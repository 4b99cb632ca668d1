"""Emulator rows on request bodies: empty or bad JSON is a 500 whose body is not escaped
(so it may not parse), `[]` or a bare string is a silent 200 no-op; plus the value
coercion and address helpers behind them."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer, zt_json
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator

NODE = "0a1b2c3d4e"


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "home") as server:
        yield server


@pytest.fixture
def client(zt: EmulatorServer) -> Iterator[httpx.Client]:
    with api_client(zt) as c:
        yield c


@pytest.mark.parametrize("kind", ["member", "network"])
def test_empty_body_is_500_and_changes_nothing(
    zt: EmulatorServer, client: httpx.Client, kind: str
) -> None:
    nwid = zt.create_network("lan")
    path = f"/controller/network/{nwid}" + (f"/member/{NODE}" if kind == "member" else "")
    response = client.post(path, content=b"")
    assert response.status_code == 500
    body = response.json()  # this one happens to be valid JSON
    assert body["error"] == 500
    assert "unexpected end of input" in body["description"]
    assert client.get(f"/controller/network/{nwid}/member").json() == {}
    assert client.get(f"/controller/network/{nwid}").json()["revision"] == 1


def test_bad_json_gives_an_unescaped_500_body(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network("lan")
    response = client.post(
        f"/controller/network/{nwid}/member/{NODE}", content=b'{"authorized": tru}'
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith('{"error": 500, "description": "')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)  # the raw input is quoted without escaping
    assert client.get(f"/controller/network/{nwid}/member").json() == {}


def test_bad_json_on_network_create_creates_nothing(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    response = client.post(f"/controller/network/{zt.address}______", content=b"{nope")
    assert response.status_code == 500
    assert client.get("/controller/network").json() == []


def test_long_error_bodies_are_cut_like_the_controllers_buffer(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("lan")
    response = client.post(f"/controller/network/{nwid}", content=b'{"' + b"x" * 2000)
    assert response.status_code == 500
    assert len(response.content) == 1023


@pytest.mark.parametrize("body", [b"[]", b'"hello"', b"42", b"null", b"[1, 2]"])
def test_non_object_json_is_a_silent_no_op(
    zt: EmulatorServer, client: httpx.Client, body: bytes
) -> None:
    nwid = zt.create_network("lan")
    path = f"/controller/network/{nwid}/member/{NODE}"
    before = client.post(path, json={"authorized": True, "ipAssignments": ["192.0.2.1"]}).json()
    response = client.post(path, content=body)
    assert response.status_code == 200
    assert response.json() == before
    network = client.get(f"/controller/network/{nwid}").json()
    after = client.post(f"/controller/network/{nwid}", content=body)
    assert after.status_code == 200
    assert after.json() == network


def test_json_bool_rules() -> None:
    assert zt_json.json_bool("yes", True) is False
    assert zt_json.json_bool("true", False) is True
    assert zt_json.json_bool("1", False) is True
    assert zt_json.json_bool(2, False) is True
    assert zt_json.json_bool(None, True) is True  # default for null
    assert zt_json.json_bool([], False) is False


def test_parse_inet_and_ip_string() -> None:
    assert zt_json.parse_inet("192.0.2.1/24") == (ipaddress.IPv4Address("192.0.2.1"), 24)
    assert zt_json.parse_inet("fe80::1%eth0") is None
    assert zt_json.parse_inet("1" * 70) is None
    assert zt_json.parse_inet("010.0.0.1") is None
    assert zt_json.ip_string(ipaddress.IPv6Address("::ffff:192.0.2.1")) == "::ffff:192.0.2.1"
    assert zt_json.ip_string(ipaddress.IPv6Address("::192.0.2.1")) == "::192.0.2.1"
    assert zt_json.ip_string(ipaddress.IPv6Address("::1")) == "::1"
    assert zt_json.ip_string(ipaddress.IPv6Address("2001:db8:0:1::")) == "2001:db8:0:1::"


@pytest.mark.parametrize(
    ("body", "description"),
    [  # what zerotier-one 1.14.1 answered, byte for byte
        (
            '{"authorized": true',
            "[json.exception.parse_error.101] parse error at line 1, column 20: syntax error "
            "while parsing object - unexpected end of input; expected '}'",
        ),
        (
            '{"a":',
            "[json.exception.parse_error.101] parse error at line 1, column 6: syntax error "
            "while parsing value - unexpected end of input; expected '[', '{', or a literal",
        ),
        (
            "[1,2",
            "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error "
            "while parsing array - unexpected end of input; expected ']'",
        ),
        (
            '{"a"',
            "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error "
            "while parsing object separator - unexpected end of input; expected ':'",
        ),
        (
            '{"a":1,',
            "[json.exception.parse_error.101] parse error at line 1, column 8: syntax error "
            "while parsing object key - unexpected end of input; expected string literal",
        ),
        (
            '{"name":"x"}}',
            "[json.exception.parse_error.101] parse error at line 1, column 13: syntax error "
            "while parsing value - unexpected '}'; expected end of input",
        ),
    ],
)
def test_a_truncated_body_gets_a_valid_json_500(
    zt: EmulatorServer, client: httpx.Client, body: str, description: str
) -> None:
    """Regression: the emulator quoted the cut-off text unescaped (invalid JSON) where the
    real controller reports "unexpected end of input" in a valid JSON body."""
    nwid = zt.create_network("lan")
    response = client.post(f"/controller/network/{nwid}/member/{NODE}", content=body.encode())
    assert response.status_code == 500
    assert response.json() == {"error": 500, "description": description}
    assert client.get(f"/controller/network/{nwid}/member/{NODE}").status_code == 404


def test_a_body_cut_inside_a_string_is_quoted_unescaped_like_the_real_one(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("lan")
    response = client.post(f"/controller/network/{nwid}/member/{NODE}", content=b'{"name": "ab')
    assert response.status_code == 500
    assert response.text == (
        '{"error": 500, "description": "[json.exception.parse_error.101] parse error at line '
        "1, column 13: syntax error while parsing value - invalid string: missing closing "
        "quote; last read: '\"ab'\"}"
    )
