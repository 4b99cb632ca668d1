"""Emulator rows: member list/get/post/delete, pre-authorization, partial updates, the
writable-field rules, ipAssignments normalisation, `"authorized": "yes"`, revisions,
deauthorization, delete-then-recreate, verbatim uppercase ids, /unstable members."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer
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


@pytest.fixture
def nwid(zt: EmulatorServer) -> str:
    return zt.create_network("lan")


@pytest.fixture
def path(nwid: str) -> str:
    return f"/controller/network/{nwid}/member/{NODE}"


def test_post_pre_authorizes_a_member_that_never_joined(
    client: httpx.Client, nwid: str, path: str
) -> None:
    response = client.post(
        path,
        json={
            "authorized": True,
            "noAutoAssignIps": True,
            "ipAssignments": ["192.0.2.10", "2001:db8::10"],
            "name": "AS64500",
        },
    )
    assert response.status_code == 200
    member = response.json()
    assert member["id"] == member["address"] == NODE
    assert member["nwid"] == nwid
    assert member["authorized"] is True
    assert member["noAutoAssignIps"] is True
    assert member["ipAssignments"] == ["192.0.2.10", "2001:db8::10"]
    assert member["name"] == "AS64500"
    assert member["objtype"] == "member"
    assert member["lastAuthorizedCredentialType"] == "api"
    assert member["lastAuthorizedTime"] > 0
    assert member["lastDeauthorizedTime"] == 0
    assert member["revision"] == 1
    for key in ("vMajor", "vMinor", "vRev", "vProto"):
        assert member[key] == -1
    assert "identity" not in member  # only once the node has contacted the controller
    assert client.get(path).json() == member


def test_fresh_member_defaults(client: httpx.Client, path: str) -> None:
    member = client.post(path, json={}).json()
    assert member["authorized"] is False
    assert member["activeBridge"] is False
    assert member["noAutoAssignIps"] is False
    assert member["ipAssignments"] == []
    assert member["tags"] == [] and member["capabilities"] == []
    assert member["ssoExempt"] is False
    assert member["lastAuthorizedCredentialType"] is None
    assert "name" not in member  # only once set


def test_member_post_on_unknown_network_is_404(client: httpx.Client) -> None:
    response = client.post(
        f"/controller/network/0123456789abcdef/member/{NODE}", json={"authorized": True}
    )
    assert (response.status_code, response.content) == (404, b"")


def test_member_list_maps_id_to_revision(client: httpx.Client, nwid: str, path: str) -> None:
    base = f"/controller/network/{nwid}"
    assert client.get(f"{base}/member").json() == {}
    client.post(path, json={"authorized": True})
    client.post(path, json={"name": "x"})
    client.post(f"{base}/member/1111111111", json={})
    assert client.get(f"{base}/member").json() == {NODE: 2, "1111111111": 1}


def test_partial_update_keeps_other_fields(client: httpx.Client, path: str) -> None:
    client.post(
        path,
        json={"authorized": True, "ipAssignments": ["192.0.2.1"], "name": "n", "tags": [[1, 2]]},
    )
    member = client.post(path, json={"activeBridge": True}).json()
    assert member["authorized"] is True
    assert member["ipAssignments"] == ["192.0.2.1"]
    assert member["name"] == "n"
    assert member["tags"] == [[1, 2]]
    assert member["activeBridge"] is True


def test_non_writable_keys_are_ignored_silently(client: httpx.Client, path: str) -> None:
    first = client.post(path, json={"authorized": True}).json()
    second = client.post(
        path,
        json={
            "revision": 77,
            "creationTime": 1,
            "identity": "abc",
            "id": "9999999999",
            "nwid": "ffffffffffffffff",
            "objtype": "network",
            "lastAuthorizedTime": 5,
            "vMajor": 9,
            "whatever": True,
        },
    )
    assert second.status_code == 200
    assert second.json() == first


def test_tags_and_capabilities(client: httpx.Client, path: str) -> None:
    member = client.post(
        path, json={"tags": [[2, 1], [1, 5], "junk", [3]], "capabilities": [3, 1, 3, "2"]}
    ).json()
    assert member["tags"] == [[1, 5], [2, 1]]
    assert member["capabilities"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (["192.0.2.1/24"], ["192.0.2.1"]),
        (["2001:DB8:0:0::0001"], ["2001:db8::1"]),
        (["2001:db8::1/64"], ["2001:db8::1"]),
        (["192.0.2.1", "192.0.2.1"], ["192.0.2.1", "192.0.2.1"]),  # duplicates kept
        # like zerotier-one 1.14.1: malformed with "." or ":" -> 0.0.0.0 / ::, else dropped
        (["bogus", "192.0.2.300", "1.2.3", "", "192.0.2.2"], ["0.0.0.0", "0.0.0.0", "192.0.2.2"]),
        (
            ["10.0.0.300", "fe80::zz", "garbage", "", "10.1.2.3/24", "2001:db8::1"],
            ["0.0.0.0", "::", "10.1.2.3", "2001:db8::1"],
        ),
        (["fe80::1%eth0"], ["::"]),  # inet_pton knows no scope id
        (["203.0.113.9"], ["203.0.113.9"]),  # no pool check
        (["::ffff:192.0.2.1"], ["::ffff:192.0.2.1"]),
        ([], []),
    ],
)
def test_ip_assignments_normalisation(
    client: httpx.Client, path: str, sent: list[str], stored: list[str]
) -> None:
    assert client.post(path, json={"ipAssignments": sent}).json()["ipAssignments"] == stored


def test_ip_assignments_non_list_is_ignored(client: httpx.Client, path: str) -> None:
    client.post(path, json={"ipAssignments": ["192.0.2.1"]})
    member = client.post(path, json={"ipAssignments": "192.0.2.9"}).json()
    assert member["ipAssignments"] == ["192.0.2.1"]


def test_ip_assignments_non_string_element_is_500_and_changes_nothing(
    client: httpx.Client, path: str
) -> None:
    before = client.post(path, json={"authorized": False, "ipAssignments": ["192.0.2.1"]}).json()
    response = client.post(path, json={"authorized": True, "ipAssignments": ["192.0.2.2", 7]})
    assert response.status_code == 500
    assert response.json()["error"] == 500
    assert "type must be string" in response.json()["description"]
    assert client.get(path).json() == before


@pytest.mark.parametrize(
    ("value", "authorized"),
    [("yes", False), ("true", True), ("True", True), ("1", True), (1, True), (0, False),
     (None, False), ("", False)],
)  # fmt: skip
def test_authorized_uses_the_controllers_boolean_rules(
    client: httpx.Client, path: str, value: object, authorized: bool
) -> None:
    assert client.post(path, json={"authorized": value}).json()["authorized"] is authorized


def test_revision_rises_only_on_real_change(client: httpx.Client, path: str) -> None:
    body = {"authorized": True, "ipAssignments": ["192.0.2.1"], "noAutoAssignIps": True}
    assert client.post(path, json=body).json()["revision"] == 1
    assert client.post(path, json=body).json()["revision"] == 1
    assert client.post(path, json={}).json()["revision"] == 1
    changed = client.post(path, json={"ipAssignments": ["192.0.2.2"]}).json()
    assert changed["revision"] == 2
    assert client.get(path).json()["revision"] == 2


def test_deauthorize_keeps_addresses_and_stamps_time(client: httpx.Client, path: str) -> None:
    client.post(path, json={"authorized": True, "ipAssignments": ["192.0.2.1"]})
    member = client.post(path, json={"authorized": False}).json()
    assert member["authorized"] is False
    assert member["ipAssignments"] == ["192.0.2.1"]
    assert member["lastDeauthorizedTime"] > 0
    assert member["revision"] == 2
    again = client.post(path, json={"authorized": False}).json()
    assert again["lastDeauthorizedTime"] == member["lastDeauthorizedTime"]
    assert again["revision"] == 2


def test_delete_returns_the_member_and_recreate_starts_from_scratch(
    client: httpx.Client, nwid: str, path: str
) -> None:
    client.post(path, json={"authorized": True, "ipAssignments": ["192.0.2.1"], "name": "x"})
    deleted = client.delete(path)
    assert deleted.status_code == 200
    assert deleted.json()["name"] == "x"
    gone = client.get(path)
    assert (gone.status_code, gone.content) == (404, b"")
    assert client.get(f"/controller/network/{nwid}/member").json() == {}
    again = client.delete(path)
    assert (again.status_code, again.content) == (404, b"")
    fresh = client.post(path, json={}).json()
    assert fresh["authorized"] is False
    assert fresh["ipAssignments"] == []
    assert fresh["revision"] == 1
    assert "name" not in fresh


def test_delete_on_unknown_network_is_404(client: httpx.Client) -> None:
    response = client.delete(f"/controller/network/0123456789abcdef/member/{NODE}")
    assert (response.status_code, response.content) == (404, b"")


def test_uppercase_member_id_is_stored_verbatim(
    zt: EmulatorServer, client: httpx.Client, nwid: str
) -> None:
    upper = "0A1B2C3D4E"
    member = client.post(f"/controller/network/{nwid}/member/{upper}", json={}).json()
    assert member["id"] == member["address"] == upper
    # same record whatever the spelling; the list shows the stored spelling
    assert client.get(f"/controller/network/{nwid}/member/{upper.lower()}").json()["id"] == upper
    assert client.get(f"/controller/network/{nwid}/member").json() == {upper: 1}
    on_disk = zt.home / "controller.d" / "network" / nwid / "member" / f"{upper.lower()}.json"
    assert on_disk.is_file()


def test_all_zero_member_id_is_answered_but_never_stored(client: httpx.Client, nwid: str) -> None:
    response = client.post(f"/controller/network/{nwid}/member/0000000000", json={})
    assert response.status_code == 200
    assert client.get(f"/controller/network/{nwid}/member").json() == {}


def test_unstable_member_list(client: httpx.Client, nwid: str, path: str) -> None:
    client.post(path, json={"authorized": True})
    client.post(f"/controller/network/{nwid}/member/1111111111", json={})
    body = client.get(f"/unstable/controller/network/{nwid}/member").json()
    assert sorted(m["id"] for m in body["data"]) == sorted(["1111111111", NODE])
    assert body["meta"] == {"totalCount": 2, "authorizedCount": 1}
    missing = client.get("/unstable/controller/network/0123456789abcdef/member")
    assert (missing.status_code, missing.content) == (404, b"")
