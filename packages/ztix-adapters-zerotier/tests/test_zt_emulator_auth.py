"""Emulator rows: auth (X-ZT1-Auth, ?auth=, Bearer; `token` refused; 401 `{}` on every
path) and path matching (404 with an empty body for malformed ids, trailing slashes,
PATCH and unknown paths)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer
from ztix_adapters_zerotier.emulator.controller_api import (
    ControllerApi,
    parse_allow_management_from,
)
from ztix_adapters_zerotier.emulator.http_types import Request
from ztix_adapters_zerotier.emulator.state import ControllerState
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator

TOKEN = "s3cr3ttoken0123456789abc"


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "home", TOKEN) as server:
        yield server


@pytest.fixture
def nwid(zt: EmulatorServer) -> str:
    return zt.create_network("lan")


def test_token_given_is_written_to_authtoken_secret(zt: EmulatorServer) -> None:
    assert zt.token == TOKEN
    assert (zt.home / "authtoken.secret").read_text() == TOKEN


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"X-ZT1-Auth": TOKEN}, {}),
        ({}, {"auth": TOKEN}),
        ({"Authorization": f"Bearer {TOKEN}"}, {}),
    ],
    ids=["x-zt1-auth", "query", "bearer"],
)
def test_accepted_auth_forms(
    zt: EmulatorServer, headers: dict[str, str], params: dict[str, str]
) -> None:
    with httpx.Client() as client:
        response = client.get(f"{zt.url}/status", headers=headers, params=params)
    assert response.status_code == 200
    assert response.json()["address"] == zt.address


UNAUTHORIZED_PATHS = [
    ("GET", "/status"),
    ("GET", "/controller"),
    ("GET", "/controller/network"),
    ("POST", "/controller/network/0123456789abcdef"),
    ("DELETE", "/controller/network/0123456789abcdef/member/0123456789"),
    ("GET", "/no/such/path"),
    ("PATCH", "/controller/network/0123456789abcdef"),
    ("GET", "/controller/network/"),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-ZT1-Auth": "wrong"},
        {"X-ZT1-Auth": ""},
        {"Authorization": f"token {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer wrong"},
    ],
    ids=["none", "wrong", "empty", "token-scheme", "bare", "bearer-wrong"],
)
def test_every_auth_failure_is_401_with_empty_object(
    zt: EmulatorServer, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=zt.url, headers=headers) as client:
        for method, path in UNAUTHORIZED_PATHS:
            response = client.request(method, path, json={"name": "x"})
            assert response.status_code == 401, (method, path)
            assert response.content == b"{}"
    assert zt.state.network_ids() == []  # nothing was created


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/controller/network/0123456789abcde"),  # 15 hex
        ("GET", "/controller/network/0123456789abcdefa"),  # 17 hex
        ("GET", "/controller/network/0123456789abcdeg"),  # not hex
        ("GET", "/controller/network/{nwid}/"),  # trailing slash
        ("GET", "/controller/network/{nwid}/member/"),
        ("GET", "/controller/network/{nwid}/member/012345678"),  # 9 hex
        ("POST", "/controller/network/{nwid}/member/0123456789a"),  # 11 hex
        ("GET", "/status/"),
        ("GET", "/controller/"),
        ("GET", "/nothing/here"),
        ("PATCH", "/controller/network/{nwid}"),
        ("PATCH", "/controller/network/{nwid}/member/0123456789"),
        ("DELETE", "/controller/network"),
        ("POST", "/status"),
        ("GET", "/controller/network/0123456789______"),
    ],
)
def test_malformed_paths_are_404_with_empty_body(
    zt: EmulatorServer, nwid: str, method: str, path: str
) -> None:
    with api_client(zt) as client:
        response = client.request(method, path.format(nwid=nwid), json={"authorized": True})
    assert response.status_code == 404
    assert response.content == b""
    assert zt.state.members(nwid) == []  # nothing was created


def test_unknown_network_and_member_are_404_with_empty_body(zt: EmulatorServer, nwid: str) -> None:
    with api_client(zt) as client:
        for path in (
            "/controller/network/0123456789abcdef",
            "/controller/network/0123456789abcdef/member",
            f"/controller/network/{nwid}/member/0123456789",
        ):
            response = client.get(path)
            assert (response.status_code, response.content) == (404, b""), path


def test_head_is_answered_like_get_without_body(zt: EmulatorServer) -> None:
    with api_client(zt) as client:
        response = client.head("/status")
    assert response.status_code == 200
    assert response.content == b""


def _request(client: str, token: str = TOKEN) -> Request:
    return Request("GET", "/status", headers={"x-zt1-auth": token}, client=client)


def test_remote_callers_need_allow_management_from(tmp_path: Path) -> None:
    state = ControllerState(tmp_path / "home", TOKEN)
    api = ControllerApi(state, allow_management_from=["192.0.2.0/24"])
    assert api.handle(_request("127.0.0.1")).status == 200
    assert api.handle(_request("::1")).status == 200
    assert api.handle(_request("192.0.2.7")).status == 200
    denied = api.handle(_request("198.51.100.7"))
    assert (denied.status, denied.body) == (401, b"{}")
    assert api.handle(_request("192.0.2.7", "wrong")).status == 401


def test_allow_management_from_without_bits_matches_every_ipv4_source() -> None:
    (net,) = parse_allow_management_from(["192.0.2.1"])
    assert net.prefixlen == 0 and net.version == 4


def test_allow_management_from_is_read_from_local_conf(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "local.conf").write_text('{"settings": {"allowManagementFrom": ["10.1.0.0/16"]}}')
    api = ControllerApi(ControllerState(home, TOKEN))
    assert api.handle(_request("10.1.2.3")).status == 200
    assert api.handle(_request("10.2.2.3")).status == 401
    status = api.handle(_request("127.0.0.1"))
    assert b'"allowManagementFrom":["10.1.0.0/16"]' in status.body


def test_health_needs_no_token_but_an_allowed_source(zt: EmulatorServer, tmp_path: Path) -> None:
    with httpx.Client(verify=False) as client:
        health = client.get(f"{zt.url}/health")
    assert health.status_code == 200
    assert health.json()["online"] is True
    api = ControllerApi(ControllerState(tmp_path / "other", TOKEN))
    remote = api.handle(Request("GET", "/health", client="198.51.100.7"))
    assert (remote.status, remote.body) == (401, b"{}")


def test_service_lists_of_a_bare_controller(zt: EmulatorServer) -> None:
    with api_client(zt) as client:
        assert client.get("/network").json() == []
        assert client.get("/peer").json() == []
