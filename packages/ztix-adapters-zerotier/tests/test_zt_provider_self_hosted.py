"""The self_hosted_controller provider against the controller emulator: authorize with
read-back, idempotence, the leave path, error mapping, the wrong-controller guard, bad
input refused before any request, and settings/plugin wiring."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import free_port, running_emulator
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.testing import (
    FAST_RETRY,
    peering_network,
    self_hosted_provider,
    self_hosted_settings,
)
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.errors import InvalidValue, ProviderError, SettingsError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import ZtNetwork
from ztix_core.settings import Settings
from ztix_core.values import NetworkId, NodeId

NODE = NodeId("0a1b2c3d4e")
V4 = ipaddress.IPv4Address("198.51.100.10")
V6 = ipaddress.IPv6Address("2001:db8::a")


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


@pytest.fixture
def provider(zt: EmulatorServer) -> Iterator[SelfHostedControllerProvider]:
    p = self_hosted_provider(zt)
    yield p
    p.close()


@pytest.fixture
def net(zt: EmulatorServer, provider: SelfHostedControllerProvider) -> ZtNetwork:
    network = peering_network(zt.address)
    provider.ensure_network(network)
    return network


def stored_member(zt: EmulatorServer, nwid: NetworkId, node: NodeId) -> dict[str, object]:
    response = httpx.get(
        f"{zt.url}/controller/network/{nwid}/member/{node}", headers={"X-ZT1-Auth": zt.token}
    )
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def posts(zt: EmulatorServer) -> list[str]:
    return [path for method, path in zt.requests if method == "POST"]


def test_authorize_sends_explicit_addresses_and_reads_back(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    state = provider.authorize_member(net.id, NODE, [V4, V6], "AS64500")
    assert state.authorized and state.no_auto_assign_ips
    assert state.ip_assignments == ("198.51.100.10", "2001:db8::a")
    assert state.name == "AS64500"
    stored = stored_member(zt, net.id, NODE)
    assert stored["id"] == "0a1b2c3d4e"
    assert stored["authorized"] is True and stored["noAutoAssignIps"] is True
    assert stored["ipAssignments"] == ["198.51.100.10", "2001:db8::a"]
    # the member POST, then the provider's read-back GET (then this test's GET)
    assert [m for m, _ in zt.requests[-3:]] == ["POST", "GET", "GET"]


def test_authorize_is_idempotent(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    first = provider.authorize_member(net.id, NODE, [V4, V6], "AS64500")
    revision = stored_member(zt, net.id, NODE)["revision"]
    second = provider.authorize_member(net.id, NODE, [V4, V6], "AS64500")
    assert first == second
    assert stored_member(zt, net.id, NODE)["revision"] == revision
    assert [m.node_id for m in provider.list_members(net.id)] == [NODE]


def test_authorize_changes_addresses_exactly(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    provider.authorize_member(net.id, NODE, [V4, V6], "AS64500")
    other = ipaddress.IPv4Address("198.51.100.11")
    state = provider.authorize_member(net.id, NODE, [other], "AS64501")
    assert state.ip_assignments == ("198.51.100.11",)
    assert stored_member(zt, net.id, NODE)["name"] == "AS64501"


def test_uppercase_ids_are_sent_lowercase(
    zt: EmulatorServer, provider: SelfHostedControllerProvider
) -> None:
    upper = peering_network(zt.address.upper(), suffix="ABCDEF")
    provider.ensure_network(upper)
    provider.authorize_member(upper.id, NodeId("0A1B2C3D4E"), [V4], "AS64500")
    member_paths = [p for p in posts(zt) if "/member/" in p]
    assert member_paths == [f"/controller/network/{zt.address}abcdef/member/0a1b2c3d4e"]


def test_read_back_mismatch_is_a_permanent_error(tmp_path: Path) -> None:
    member = {
        "id": "0a1b2c3d4e",
        "nwid": "0123456789abcdef",
        "authorized": True,
        "noAutoAssignIps": True,
        "ipAssignments": ["198.51.100.99"],
        "name": "AS64500",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/status":
            return httpx.Response(200, json={"address": "0123456789"})
        return httpx.Response(200, json=member)

    provider = SelfHostedControllerProvider(
        "http://controller.test",
        TokenSource("t0ken"),
        retry=FAST_RETRY,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ProviderError) as info:
        provider.authorize_member(NetworkId("0123456789abcdef"), NODE, [V4], "AS64500")
    assert (info.value.kind, info.value.transient) == ("mismatch", False)
    assert "198.51.100.99" in str(info.value)


def test_wrong_controller_prefix_is_refused_before_any_post(
    zt: EmulatorServer, provider: SelfHostedControllerProvider
) -> None:
    foreign = peering_network("1111111111")
    for call in (
        lambda: provider.ensure_network(foreign),
        lambda: provider.authorize_member(foreign.id, NODE, [V4], "AS64500"),
        lambda: provider.deauthorize_member(foreign.id, NODE),
        lambda: provider.remove_member(foreign.id, NODE),
    ):
        with pytest.raises(ProviderError) as info:
            call()
        assert (info.value.kind, info.value.transient) == ("wrong_controller", False)
        assert zt.address in info.value.remediation
    assert posts(zt) == []
    assert f"{foreign.id}" not in json.dumps(provider.list_network_ids())


def test_unknown_network_is_not_found_and_never_created(
    zt: EmulatorServer, provider: SelfHostedControllerProvider
) -> None:
    missing = peering_network(zt.address, suffix="999999")
    with pytest.raises(ProviderError) as info:
        provider.authorize_member(missing.id, NODE, [V4], "AS64500")
    assert (info.value.kind, info.value.status) == ("not_found", 404)
    with pytest.raises(ProviderError) as info:
        provider.list_members(missing.id)
    assert info.value.kind == "not_found"
    assert str(missing.id) not in provider.list_network_ids()
    assert provider.read_member(missing.id, NODE) is None


def test_leave_path_deauthorize_then_remove_and_already_gone_is_fine(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    provider.authorize_member(net.id, NODE, [V4, V6], "AS64500")
    provider.deauthorize_member(net.id, NODE)
    state = provider.read_member(net.id, NODE)
    assert state is not None and not state.authorized
    provider.remove_member(net.id, NODE)
    assert provider.read_member(net.id, NODE) is None
    before = len(posts(zt))
    provider.remove_member(net.id, NODE)
    provider.deauthorize_member(net.id, NODE)  # never re-creates the member
    assert provider.read_member(net.id, NODE) is None
    assert len(posts(zt)) == before
    gone = peering_network(zt.address, suffix="777777")
    provider.deauthorize_member(gone.id, NODE)
    provider.remove_member(gone.id, NODE)


@pytest.mark.parametrize(
    ("ips", "name", "field"),
    [
        (["198.51.100.10"], "AS64500", "ip_assignments"),
        ("198.51.100.10", "AS64500", "ip_assignments"),
        ([V4, V4], "AS64500", "ip_assignments"),
        ([V4], "", "name"),
        ([V4], "AS64500\n", "name"),
        ([V4], "x" * 65, "name"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    zt: EmulatorServer,
    provider: SelfHostedControllerProvider,
    net: ZtNetwork,
    ips: object,
    name: str,
    field: str,
) -> None:
    before = len(zt.requests)
    with pytest.raises(InvalidValue) as info:
        provider.authorize_member(net.id, NODE, ips, name)  # type: ignore[arg-type]
    assert info.value.field == field
    assert len(zt.requests) == before


def test_5xx_is_retried_and_then_succeeds(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    zt.force_errors(500, count=2)
    state = provider.authorize_member(net.id, NODE, [V4], "AS64500")
    assert state.authorized


def test_persistent_5xx_with_invalid_json_is_transient(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    zt.force_errors(500)
    with pytest.raises(ProviderError) as info:
        provider.authorize_member(net.id, NODE, [V4], "AS64500")
    zt.clear_faults()
    assert (info.value.kind, info.value.transient, info.value.status) == ("server_error", True, 500)


def test_bad_token_is_permanent_and_never_leaks(
    zt: EmulatorServer, net: ZtNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrongtokenwrongtoken1234"
    bad = self_hosted_provider(zt, token=secret)
    with pytest.raises(ProviderError) as info:
        bad.read_member(net.id, NODE)
    err = info.value
    assert (err.kind, err.transient, err.status) == ("auth", False, 401)
    assert "ZT_CONTROLLER_AUTH_TOKEN_FILE" in err.remediation
    for text in (str(err), repr(err), repr(err.details), repr(bad), caplog.text):
        assert secret not in text and zt.token not in text


def test_controller_down_is_transient(tmp_path: Path) -> None:
    provider = SelfHostedControllerProvider(
        f"http://127.0.0.1:{free_port()}", TokenSource("t"), retry=FAST_RETRY
    )
    with pytest.raises(ProviderError) as info:
        provider.read_member(NetworkId("0123456789abcdef"), NODE)
    assert (info.value.kind, info.value.transient) == ("unreachable", True)


# ---------------------------------------------------------------------- settings, plugin


def test_from_settings_names_the_missing_url_and_token(zt: EmulatorServer) -> None:
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(Settings(zt_controller_auth_token="t"))
    assert info.value.setting == "ZT_CONTROLLER_BASE_URL"
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(
            Settings(zt_controller_base_url="http://127.0.0.1:9993")
        )
    assert info.value.setting == "ZT_CONTROLLER_AUTH_TOKEN"
    assert zt.token not in str(info.value)


@pytest.mark.parametrize("url", ["localhost:9993", "ftp://host", "http://", "http://u:p@host"])
def test_from_settings_refuses_a_bad_url(url: str) -> None:
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(
            Settings(zt_controller_base_url=url, zt_controller_auth_token="t")
        )
    assert info.value.setting == "ZT_CONTROLLER_BASE_URL"


def test_from_settings_refuses_malformed_required_ids(zt: EmulatorServer) -> None:
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(
            self_hosted_settings(zt, zt_controller_required_network_ids=("xyz",))
        )
    assert info.value.setting == "ZT_CONTROLLER_REQUIRED_NETWORK_IDS"


def test_bad_zerotier_section_names_the_key(zt: EmulatorServer) -> None:
    settings = self_hosted_settings(zt, sections={"zerotier": {"timeout_s": 0}})
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(settings)
    assert "timeout_s" in info.value.setting
    settings = self_hosted_settings(zt, sections={"zerotier": {"retries": 3}})
    with pytest.raises(SettingsError) as info:
        SelfHostedControllerProvider.from_settings(settings)
    assert info.value.setting == "zerotier"


def test_token_file_is_read_when_no_token_is_given(zt: EmulatorServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(zt.token + "\n")
    provider = SelfHostedControllerProvider.from_settings(
        self_hosted_settings(
            zt, zt_controller_auth_token=None, zt_controller_auth_token_file=str(token_file)
        )
    )
    assert provider.controller_address() == zt.address
    assert zt.token not in repr(provider) and zt.token not in repr(provider.token)


def test_both_providers_are_registered_as_plugins(zt: EmulatorServer) -> None:
    plugins = Plugins(build_plugin_manager())
    providers = plugins.membership_providers()
    assert {"self_hosted_controller", "central"} <= set(providers)
    built = plugins.select("membership_providers", "self_hosted_controller", "ZT_PROVIDER").factory(
        self_hosted_settings(zt)
    )
    assert built.name == "self_hosted_controller"
    assert built.check_readiness([]).ready
    with pytest.raises(SettingsError) as info:
        plugins.select("membership_providers", "central", "ZT_PROVIDER").factory(Settings())
    assert info.value.setting == "ZT_CENTRAL_API_TOKEN"


def test_list_members_falls_back_to_the_index_without_the_unstable_api() -> None:
    nwid = "0123456789abcdef"
    members = {
        m: {
            "id": m,
            "nwid": nwid,
            "authorized": True,
            "noAutoAssignIps": True,
            "ipAssignments": ["198.51.100.1"],
            "name": "AS64500",
        }
        for m in ("0a1b2c3d4e", "0b1b2c3d4e")
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path)
        if path.startswith("/unstable/"):
            return httpx.Response(404)
        if path.endswith("/member"):
            return httpx.Response(200, json=dict.fromkeys(members, 1))
        return httpx.Response(200, json=members[path.rsplit("/", 1)[1]])

    provider = SelfHostedControllerProvider(
        "http://controller.test",
        TokenSource("t0ken"),
        retry=FAST_RETRY,
        transport=httpx.MockTransport(handler),
    )
    listed = provider.list_members(NetworkId(nwid))
    assert [str(m.node_id) for m in listed] == sorted(members)
    assert seen[0].startswith("/unstable/") and len(seen) == 4


def test_one_provider_serves_concurrent_workers(
    zt: EmulatorServer, provider: SelfHostedControllerProvider, net: ZtNetwork
) -> None:
    """Worker threads share one provider (one httpx pool; the controller closes
    keep-alive connections every 5 requests): every authorization lands exactly."""
    from concurrent.futures import ThreadPoolExecutor

    def authorize(i: int) -> None:
        node = NodeId(f"{0x0A00000000 + i:010x}")
        v4 = ipaddress.IPv4Address(f"198.51.100.{10 + i}")
        provider.authorize_member(net.id, node, [v4], f"AS{64500 + i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(authorize, range(40)))
    listed = provider.list_members(net.id)
    assert len(listed) == 40
    assert {m.name for m in listed} == {f"AS{64500 + i}" for i in range(40)}
    assert all(m.authorized and len(m.ip_assignments) == 1 for m in listed)
