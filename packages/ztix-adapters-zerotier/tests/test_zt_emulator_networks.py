"""Emulator rows: GET /status, GET /controller, network list/create/update/delete, the
network fields' rules (mtu clamp, v6AssignMode partial objects, pools, routes) and
revision rising only on change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer, Identity
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "home") as server:
        yield server


@pytest.fixture
def client(zt: EmulatorServer) -> Iterator[httpx.Client]:
    with api_client(zt) as c:
        yield c


def test_status_fields(zt: EmulatorServer, client: httpx.Client) -> None:
    body = client.get("/status").json()
    assert body["address"] == zt.address
    assert len(body["address"]) == 10
    assert body["publicIdentity"] == (zt.home / "identity.public").read_text()
    assert body["online"] is True
    assert body["version"] == f"{body['versionMajor']}.{body['versionMinor']}.{body['versionRev']}"
    assert isinstance(body["clock"], int)
    assert body["config"]["settings"]["primaryPort"] == zt.port


def test_controller_document(client: httpx.Client) -> None:
    response = client.get("/controller")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["controller"] is True
    assert body["apiVersion"] == 4
    assert body["databaseReady"] is True
    assert isinstance(body["clock"], int)


def test_create_under_own_address_gives_fresh_ids(zt: EmulatorServer, client: httpx.Client) -> None:
    assert client.get("/controller/network").json() == []
    first = client.post(f"/controller/network/{zt.address}______", json={"name": "a"})
    second = client.post(f"/controller/network/{zt.address}______", json={})
    assert first.status_code == second.status_code == 200
    ids = [first.json()["id"], second.json()["id"]]
    assert ids[0] != ids[1]
    for nwid in ids:
        assert len(nwid) == 16 and nwid.startswith(zt.address)
        assert nwid[10:] != "000000"
    assert first.json()["name"] == "a"
    assert first.json()["nwid"] == ids[0]
    assert client.get("/controller/network").json() == sorted(ids)


def _identity_with_letters(home: Path) -> None:
    while True:
        ident = Identity.generate()
        if ident.address.upper() != ident.address:
            break
    home.mkdir(parents=True)
    (home / "identity.secret").write_text(ident.secret)
    (home / "identity.public").write_text(ident.public)


@pytest.mark.parametrize("node", ["0123456789", "upper"])
def test_create_under_another_address_is_400_empty(tmp_path: Path, node: str) -> None:
    _identity_with_letters(tmp_path / "home")
    with running_emulator(tmp_path / "home") as zt, api_client(zt) as client:
        if node == "upper":  # the compare is a lowercase string compare
            node = zt.address.upper()
        _create_refused(client, node)


def _create_refused(client: httpx.Client, node: str) -> None:
    response = client.post(f"/controller/network/{node}______", json={"name": "x"})
    assert (response.status_code, response.content) == (400, b"")
    assert client.get("/controller/network").json() == []


def test_fresh_network_defaults(zt: EmulatorServer, client: httpx.Client) -> None:
    body = client.post(f"/controller/network/{zt.address}______", json={}).json()
    assert body["objtype"] == "network"
    assert body["private"] is True
    assert body["name"] == ""
    assert body["mtu"] == 2800
    assert body["multicastLimit"] == 32
    assert body["enableBroadcast"] is True
    assert body["v4AssignMode"] == {"zt": False}
    assert body["v6AssignMode"] == {"rfc4193": False, "zt": False, "6plane": False}
    assert body["routes"] == [] and body["ipAssignmentPools"] == []
    assert body["rules"] == [{"not": False, "or": False, "type": "ACTION_ACCEPT"}]
    assert body["revision"] == 1
    assert isinstance(body["creationTime"], int)


def test_post_creates_any_16_hex_id_even_another_controllers(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    foreign = "0123456789abcdef" if not zt.address.startswith("0123") else "1123456789abcdef"
    response = client.post(f"/controller/network/{foreign.upper()}", json={"name": "f"})
    assert response.status_code == 200
    assert response.json()["id"] == foreign  # normalised lowercase
    assert client.get(f"/controller/network/{foreign}").json()["name"] == "f"
    assert foreign in client.get("/controller/network").json()


def test_post_is_a_partial_update(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network("lan", private=False, mtu=1500)
    body = client.post(f"/controller/network/{nwid}", json={"name": "renamed"}).json()
    assert body["name"] == "renamed"
    assert body["private"] is False
    assert body["mtu"] == 1500
    assert client.get(f"/controller/network/{nwid}").json() == body


def test_network_revision_rises_only_on_change(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = client.post(f"/controller/network/{zt.address}______", json={"name": "a"}).json()["id"]
    path = f"/controller/network/{nwid}"
    assert client.get(path).json()["revision"] == 1
    assert client.post(path, json={"name": "a"}).json()["revision"] == 1
    assert client.post(path, json={}).json()["revision"] == 1
    assert client.post(path, json={"name": "b"}).json()["revision"] == 2
    assert client.post(path, json={"revision": 99}).json()["revision"] == 2
    assert client.get(path).json()["revision"] == 2


@pytest.mark.parametrize(
    ("sent", "stored"), [(100, 1280), (1500, 1500), (20000, 10000), (-1, 10000), ("1400", 1400)]
)
def test_mtu_is_clamped(
    zt: EmulatorServer, client: httpx.Client, sent: object, stored: int
) -> None:
    nwid = zt.create_network()
    assert client.post(f"/controller/network/{nwid}", json={"mtu": sent}).json()["mtu"] == stored


def test_v6_assign_mode_partial_object_drops_keys(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network()
    path = f"/controller/network/{nwid}"
    full = {"rfc4193": False, "zt": False, "6plane": False}
    assert client.post(path, json={"v6AssignMode": full}).json()["v6AssignMode"] == full
    partial = client.post(path, json={"v6AssignMode": {"zt": True}}).json()
    assert partial["v6AssignMode"] == {"zt": True}


def test_v4_assign_mode(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network()
    path = f"/controller/network/{nwid}"
    assert client.post(path, json={"v4AssignMode": {"zt": True}}).json()["v4AssignMode"] == {
        "zt": True
    }
    assert client.post(path, json={"v4AssignMode": {}}).json()["v4AssignMode"] == {"zt": False}


def test_private_uses_the_controllers_boolean_rules(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network()
    path = f"/controller/network/{nwid}"
    assert client.post(path, json={"private": False}).json()["private"] is False
    assert client.post(path, json={"private": "true"}).json()["private"] is True
    assert client.post(path, json={"private": "yes"}).json()["private"] is False


def test_ip_assignment_pools(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network()
    path = f"/controller/network/{nwid}"
    good = [
        {"ipRangeStart": "10.0.0.10", "ipRangeEnd": "10.0.0.20"},
        {"ipRangeStart": "fd00:0::1", "ipRangeEnd": "fd00::ff"},
    ]
    stored = client.post(path, json={"ipAssignmentPools": good}).json()["ipAssignmentPools"]
    assert stored == [
        {"ipRangeStart": "10.0.0.10", "ipRangeEnd": "10.0.0.20"},
        {"ipRangeStart": "fd00::1", "ipRangeEnd": "fd00::ff"},
    ]
    # like zerotier-one 1.14.1: a bad entry is skipped, the others kept
    one_bad = [*good, {"ipRangeStart": "not-an-ip", "ipRangeEnd": "10.0.0.1"}]
    stored = client.post(path, json={"ipAssignmentPools": one_bad}).json()["ipAssignmentPools"]
    assert stored == [
        {"ipRangeStart": "10.0.0.10", "ipRangeEnd": "10.0.0.20"},
        {"ipRangeStart": "fd00::1", "ipRangeEnd": "fd00::ff"},
    ]
    # the entries zerotier-one 1.14.1 answered to: kept, skipped, mixed family, bad end
    mixed = [
        {"ipRangeStart": "10.0.0.1", "ipRangeEnd": "10.0.0.9"},
        {"ipRangeStart": "x"},
        {"ipRangeStart": "10.0.0.1", "ipRangeEnd": "2001:db8::1"},
        {"ipRangeStart": "10.9.0.1", "ipRangeEnd": "bad.x"},
    ]
    stored = client.post(path, json={"ipAssignmentPools": mixed}).json()["ipAssignmentPools"]
    assert stored == [
        {"ipRangeStart": "10.0.0.1", "ipRangeEnd": "10.0.0.9"},
        {"ipRangeStart": "10.9.0.1", "ipRangeEnd": "0.0.0.0"},
    ]


def test_routes_are_normalised(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network()
    routes = [
        {"target": "192.0.2.0/24", "via": None},
        {"target": "2001:db8:0::/64"},
        {"target": "10.0.0.0/8", "via": "192.0.2.1"},
        {"target": "10.1.0.0/16", "via": "2001:db8::1"},  # family mismatch: via dropped
        {"target": "10.0.0.0/33"},  # bad prefix length: dropped
        {"target": "nonsense/8"},  # dropped
        {"via": "192.0.2.1"},  # no target: dropped
    ]
    stored = client.post(f"/controller/network/{nwid}", json={"routes": routes}).json()["routes"]
    assert stored == [
        {"target": "192.0.2.0/24", "via": None},
        {"target": "2001:db8::/64", "via": None},
        {"target": "10.0.0.0/8", "via": "192.0.2.1"},
        {"target": "10.1.0.0/16", "via": None},
    ]


def test_non_list_values_are_ignored(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network()
    client.post(f"/controller/network/{nwid}", json={"routes": [{"target": "192.0.2.0/24"}]})
    body = client.post(f"/controller/network/{nwid}", json={"routes": "192.0.2.0/24"}).json()
    assert body["routes"] == [{"target": "192.0.2.0/24", "via": None}]


def test_delete_returns_the_network_and_removes_members(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("gone")
    client.post(f"/controller/network/{nwid}/member/0123456789", json={"authorized": True})
    response = client.delete(f"/controller/network/{nwid}")
    assert response.status_code == 200
    assert response.json()["name"] == "gone"
    assert client.get(f"/controller/network/{nwid}").status_code == 404
    assert client.get(f"/controller/network/{nwid}/member").status_code == 404
    assert not (zt.home / "controller.d" / "network" / f"{nwid}.json").exists()
    assert not (zt.home / "controller.d" / "network" / nwid).exists()
    again = client.delete(f"/controller/network/{nwid}")
    assert (again.status_code, again.content) == (404, b"")


def test_unstable_network_list(zt: EmulatorServer, client: httpx.Client) -> None:
    a, b = zt.create_network("a"), zt.create_network("b")
    body = client.get("/unstable/controller/network").json()
    assert sorted(n["id"] for n in body["data"]) == sorted([a, b])
    assert body["meta"] == {"networkCount": 2}


def test_post_to_the_network_list_creates_a_fresh_network(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    body = client.post("/controller/network", json={"name": "new-style"}).json()
    assert body["id"].startswith(zt.address)
    assert body["name"] == "new-style"
    assert client.get("/controller/network").json() == [body["id"]]


def test_put_is_an_alias_of_post(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network("lan")
    assert client.put(f"/controller/network/{nwid}", json={"name": "put"}).json()["name"] == "put"
    member = client.put(f"/controller/network/{nwid}/member/0123456789", json={"authorized": True})
    assert member.json()["authorized"] is True
    created = client.put(f"/controller/network/{zt.address}______", json={}).json()
    assert created["id"] in client.get("/controller/network").json()


def test_rules_are_parsed_and_rendered_like_the_controller(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network()
    rules = [
        {"type": "MATCH_ETHERTYPE", "etherType": 2048, "not": True, "or": False},
        {"type": "MATCH_IPV4_DEST", "ip": "192.0.2.0/24"},
        {"type": "MATCH_IP_DEST_PORT_RANGE", "start": 179},
        {"type": "MATCH_SOURCE_ZEROTIER_ADDRESS", "zt": "ABCDEF0123"},
        {"type": "MATCH_MAC_SOURCE", "mac": "AA:BB:CC:dd:ee:ff"},
        {"type": "ACTION_DROP", "not": True},
        {"type": "NOT_A_RULE"},
        "junk",
        {"type": "ACTION_ACCEPT"},
    ]
    stored = client.post(f"/controller/network/{nwid}", json={"rules": rules}).json()["rules"]
    assert stored == [
        {"type": "MATCH_ETHERTYPE", "etherType": 2048, "not": True, "or": False},
        {"type": "MATCH_IPV4_DEST", "ip": "192.0.2.0/24", "not": False, "or": False},
        {"type": "MATCH_IP_DEST_PORT_RANGE", "start": 179, "end": 179, "not": False, "or": False},
        {"type": "MATCH_SOURCE_ZEROTIER_ADDRESS", "zt": "abcdef0123", "not": False, "or": False},
        {"type": "MATCH_MAC_SOURCE", "mac": "aa:bb:cc:dd:ee:ff", "not": False, "or": False},
        {"type": "ACTION_DROP"},  # actions carry no not/or
        {"type": "ACTION_ACCEPT"},
    ]


def test_network_tags_and_capabilities_are_keyed_by_id(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network()
    body = client.post(
        f"/controller/network/{nwid}",
        json={
            "tags": [{"id": 2, "default": "5"}, {"id": 1}, "junk", {"id": 2, "default": 7}],
            "capabilities": [{"id": 9, "default": 1, "rules": [{"type": "ACTION_ACCEPT"}]}],
            "authTokens": {"good": 0, "bad": -1, "worse": "x"},
            "dns": {"servers": ["192.0.2.53", "not checked"]},
        },
    ).json()
    assert body["tags"] == [{"id": 1, "default": None}, {"id": 2, "default": 7}]
    assert body["capabilities"] == [
        {"id": 9, "default": True, "rules": [{"type": "ACTION_ACCEPT"}]}
    ]
    assert body["authTokens"] == {"good": 0}
    assert body["dns"] == {"domain": None, "servers": ["192.0.2.53", "not checked"]}


def test_unstable_network_list_carries_member_counts(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network()
    client.post(f"/controller/network/{nwid}/member/0123456789", json={"authorized": True})
    client.post(f"/controller/network/{nwid}/member/1123456789", json={})
    (network,) = client.get("/unstable/controller/network").json()["data"]
    assert network["meta"] == {"totalMemberCount": 2, "authorizedMemberCount": 1}
    assert "meta" not in client.get(f"/controller/network/{nwid}").json()
