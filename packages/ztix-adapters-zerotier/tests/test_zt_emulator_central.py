"""Emulator rows for ZeroTier Central API v1: `Authorization: token`, networks, members
with the `config` sub-object, pre-authorization, deletes, 403/404, and 429 with
X-Ratelimit-* headers over the rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import CentralEmulatorServer
from ztix_adapters_zerotier.emulator.testing import api_client, running_central

NODE = "0a1b2c3d4e"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralEmulatorServer]:
    with running_central(tmp_path / "central", rate_limit=None) as server:
        yield server


@pytest.fixture
def client(central: CentralEmulatorServer) -> Iterator[httpx.Client]:
    with api_client(central) as c:
        yield c


@pytest.fixture
def nwid(central: CentralEmulatorServer) -> str:
    return central.create_network("lan")


def test_url_has_the_api_v1_base(central: CentralEmulatorServer) -> None:
    assert central.url.endswith("/api/v1")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "token wrong"}, {"X-ZT1-Auth": "{token}"}, {"Authorization": "{token}"}],
    ids=["none", "wrong", "controller-header", "no-scheme"],
)
def test_auth_failures_are_401(
    central: CentralEmulatorServer, nwid: str, headers: dict[str, str]
) -> None:
    headers = {k: v.format(token=central.token) for k, v in headers.items()}
    with httpx.Client(headers=headers, verify=False) as c:
        response = c.get(f"{central.url}/network/{nwid}")
    assert response.status_code == 401


def test_token_and_bearer_are_accepted(central: CentralEmulatorServer, nwid: str) -> None:
    for scheme in ("token", "Bearer"):
        response = httpx.get(
            f"{central.url}/network/{nwid}",
            headers={"Authorization": f"{scheme} {central.token}"},
        )
        assert response.status_code == 200


def test_network_get_and_update(client: httpx.Client, nwid: str) -> None:
    network = client.get(f"/network/{nwid}").json()
    assert network["id"] == nwid
    assert network["config"]["name"] == "lan"
    assert network["config"]["private"] is True
    updated = client.post(
        f"/network/{nwid}",
        json={"description": "peering", "config": {"name": "ix", "private": True,
                                                   "routes": [{"target": "192.0.2.0/24"}]}},
    ).json()  # fmt: skip
    assert updated["config"]["name"] == "ix"
    assert updated["description"] == "peering"
    assert updated["config"]["routes"] == [{"target": "192.0.2.0/24", "via": None}]
    assert [n["id"] for n in client.get("/network").json()] == [nwid]


def test_unknown_network_is_404(client: httpx.Client) -> None:
    assert client.get("/network/0123456789abcdef").status_code == 404
    assert client.get("/network/0123456789abcdef/member").status_code == 404
    assert client.post(f"/network/0123456789abcdef/member/{NODE}", json={}).status_code == 404
    assert client.post("/network/0123456789abcdef", json={}).status_code == 404


def test_someone_elses_network_is_403(
    central: CentralEmulatorServer, client: httpx.Client, nwid: str
) -> None:
    central.forbid(nwid)
    assert client.get(f"/network/{nwid}").status_code == 403
    assert client.get(f"/network/{nwid}/member/{NODE}").status_code == 403


def test_member_pre_authorization_with_config(client: httpx.Client, nwid: str) -> None:
    response = client.post(
        f"/network/{nwid}/member/{NODE}",
        json={
            "name": "AS64500",
            "description": "peer",
            "hidden": False,
            "config": {
                "authorized": True,
                "ipAssignments": ["192.0.2.10", "2001:db8::10"],
                "noAutoAssignIps": True,
                "activeBridge": False,
            },
        },
    )
    assert response.status_code == 200
    member = response.json()
    assert member["id"] == f"{nwid}-{NODE}"
    assert member["networkId"] == nwid
    assert member["nodeId"] == NODE
    assert member["name"] == "AS64500"
    assert member["description"] == "peer"
    assert member["config"]["authorized"] is True
    assert member["config"]["noAutoAssignIps"] is True
    assert member["config"]["ipAssignments"] == ["192.0.2.10", "2001:db8::10"]
    assert "lastSeen" in member and "physicalAddress" in member and "clientVersion" in member
    assert client.get(f"/network/{nwid}/member/{NODE}").json()["config"] == member["config"]
    listed = client.get(f"/network/{nwid}/member").json()
    assert [m["nodeId"] for m in listed] == [NODE]


def test_member_partial_update_and_delete(client: httpx.Client, nwid: str) -> None:
    path = f"/network/{nwid}/member/{NODE}"
    client.post(path, json={"name": "n", "config": {"authorized": True,
                                                     "ipAssignments": ["192.0.2.1"]}})  # fmt: skip
    member = client.post(path, json={"config": {"authorized": False}}).json()
    assert member["name"] == "n"
    assert member["config"]["authorized"] is False
    assert member["config"]["ipAssignments"] == ["192.0.2.1"]
    assert client.delete(path).status_code == 200
    assert client.get(path).status_code == 404
    assert client.get(f"/network/{nwid}/member").json() == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"config": {"authorized": "yes"}}',
        b'{"config": {"ipAssignments": [1]}}',
        b'{"config": []}',
        b'{"name": 5}',
    ],
)
def test_bad_member_bodies_are_400_and_change_nothing(
    client: httpx.Client, nwid: str, body: bytes
) -> None:
    response = client.post(f"/network/{nwid}/member/{NODE}", content=body)
    assert response.status_code == 400
    assert "message" in response.json()
    assert client.get(f"/network/{nwid}/member").json() == []


def test_rate_limit_gives_429_with_headers(tmp_path: Path) -> None:
    with running_central(tmp_path / "c", rate_limit=3) as central, api_client(central) as client:
        central.central.clock = lambda: 1000.25  # one fixed one-second window
        statuses = []
        for _ in range(5):
            response = client.get("/network")
            statuses.append(response.status_code)
            assert response.headers["X-Ratelimit-Limit"] == "3"
            assert response.headers["X-Ratelimit-Reset"] == "1001"
        assert statuses == [200, 200, 200, 429, 429]
        assert response.headers["X-Ratelimit-Remaining"] == "0"
        central.central.clock = lambda: 1001.0  # the next window
        assert client.get("/network").status_code == 200
        central.rate_limit = None
        for _ in range(5):
            assert client.get("/network").status_code == 200


def test_central_fault_switches(central: CentralEmulatorServer, client: httpx.Client) -> None:
    central.force_errors(502, count=1)
    assert client.get("/network").status_code == 502
    assert client.get("/network").status_code == 200
