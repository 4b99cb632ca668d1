"""Properties of the emulated controller over random request sequences (no HTTP: the API
object directly): partial updates touch only what was sent, revision rises by exactly one
exactly when the stored record changes, and addresses round-trip through normalisation."""

from __future__ import annotations

import ipaddress
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_adapters_zerotier.emulator import zt_json
from ztix_adapters_zerotier.emulator.controller_api import ControllerApi
from ztix_adapters_zerotier.emulator.http_types import Request
from ztix_adapters_zerotier.emulator.state import ControllerState

TOKEN = "property-token"
NODE = "0a1b2c3d4e"

ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
address = st.one_of(ipv4, ipv6)

member_field = st.sampled_from(
    ["authorized", "activeBridge", "noAutoAssignIps", "ipAssignments", "name", "tags",
     "capabilities", "revision", "creationTime", "unknownKey"]
)  # fmt: skip
value_for = {
    "authorized": st.one_of(st.booleans(), st.sampled_from(["yes", "true", "1", "0"])),
    "activeBridge": st.booleans(),
    "noAutoAssignIps": st.booleans(),
    "ipAssignments": st.lists(address.map(str), max_size=3),
    "name": st.sampled_from(["", "AS64500", "AS64501"]),
    "tags": st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)).map(list), max_size=2),
    "capabilities": st.lists(st.integers(0, 3), max_size=3),
    "revision": st.integers(0, 100),
    "creationTime": st.integers(0, 100),
    "unknownKey": st.booleans(),
}
WRITABLE = {"authorized", "activeBridge", "noAutoAssignIps", "ipAssignments", "name", "tags",
            "capabilities"}  # fmt: skip


@st.composite
def member_body(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.sets(member_field, max_size=4))
    return {k: draw(value_for[k]) for k in sorted(keys)}


def _post(api: ControllerApi, path: str, body: object) -> Any:
    reply = api.handle(
        Request("POST", path, headers={"x-zt1-auth": TOKEN}, body=json.dumps(body).encode())
    )
    assert reply.status == 200
    return json.loads(reply.body)


def _get(api: ControllerApi, path: str) -> Any:
    reply = api.handle(Request("GET", path, headers={"x-zt1-auth": TOKEN}))
    assert reply.status == 200
    return json.loads(reply.body)


@settings(max_examples=60, deadline=None)
@given(st.lists(member_body(), min_size=1, max_size=8))
def test_member_updates_and_revisions(bodies: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        api = ControllerApi(ControllerState(Path(tmp) / "home", TOKEN), clock=lambda: 1000)
        nwid = f"{api.state.address}000001"
        _post(api, f"/controller/network/{nwid}", {"name": "lan"})
        path = f"/controller/network/{nwid}/member/{NODE}"
        before: dict[str, Any] | None = None
        for body in bodies:
            after = _post(api, path, body)
            assert _get(api, path) == after
            if before is None:
                assert after["revision"] == 1
            else:
                for key in set(before) - WRITABLE - {"revision", "lastAuthorizedTime",
                                                     "lastDeauthorizedTime",
                                                     "lastAuthorizedCredentialType"}:  # fmt: skip
                    assert after[key] == before[key], key
                for key in WRITABLE - set(body):
                    assert after.get(key) == before.get(key), key
                changed = {k: v for k, v in after.items() if k != "revision"} != {
                    k: v for k, v in before.items() if k != "revision"
                }
                assert after["revision"] == before["revision"] + (1 if changed else 0)
            if "authorized" in body:
                assert after["authorized"] is zt_json.json_bool(body["authorized"], False)
            if "ipAssignments" in body:
                # the same addresses, in order (spelled like glibc's inet_ntop)
                stored = [ipaddress.ip_address(a) for a in after["ipAssignments"]]
                assert stored == [ipaddress.ip_address(a) for a in body["ipAssignments"]]
            before = after
        # and the same state comes back from disk
        reloaded = ControllerApi(ControllerState(Path(tmp) / "home"), clock=lambda: 1000)
        assert _get(reloaded, path) == before


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(address)
def test_addresses_round_trip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    text = zt_json.ip_string(addr)
    parsed = zt_json.parse_inet(text)
    assert parsed is not None and parsed[0] == addr
    with_len = zt_json.parse_inet(f"{addr.exploded}/64")
    assert with_len is not None and with_len == (addr, 64)
