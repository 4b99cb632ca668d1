"""The central provider against the Central API emulator: members with read-back, the
leave path, 401/403/404 mapping, 429 back-off, readiness and drift repair."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_zerotier.central import CentralProvider
from ztix_adapters_zerotier.emulator.server import CentralEmulatorServer
from ztix_adapters_zerotier.emulator.testing import running_central
from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_adapters_zerotier.testing import central_provider, peering_network
from ztix_core.errors import ProviderError, SettingsError
from ztix_core.settings import Settings
from ztix_core.values import NetworkId, NodeId

NODE = NodeId("0a1b2c3d4e")
V4 = ipaddress.IPv4Address("198.51.100.10")
V6 = ipaddress.IPv6Address("2001:db8::a")


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralEmulatorServer]:
    with running_central(tmp_path / "central", rate_limit=None) as server:
        yield server


@pytest.fixture
def provider(central: CentralEmulatorServer) -> Iterator[CentralProvider]:
    p = central_provider(central)
    yield p
    p.close()


@pytest.fixture
def nwid(central: CentralEmulatorServer) -> NetworkId:
    return NetworkId(central.create_network("ix-lan"))


def test_authorize_reads_back_and_is_idempotent(provider: CentralProvider, nwid: NetworkId) -> None:
    first = provider.authorize_member(nwid, NODE, [V4, V6], "AS64500")
    assert first.authorized and first.no_auto_assign_ips
    assert first.ip_assignments == ("198.51.100.10", "2001:db8::a")
    assert first.name == "AS64500"
    assert provider.authorize_member(nwid, NODE, [V4, V6], "AS64500") == first
    assert provider.list_members(nwid) == [first]
    assert provider.read_member(nwid, NODE) == first


def test_leave_path_and_already_gone(provider: CentralProvider, nwid: NetworkId) -> None:
    provider.authorize_member(nwid, NODE, [V4], "AS64500")
    provider.deauthorize_member(nwid, NODE)
    state = provider.read_member(nwid, NODE)
    assert state is not None and not state.authorized
    provider.remove_member(nwid, NODE)
    assert provider.read_member(nwid, NODE) is None
    provider.remove_member(nwid, NODE)
    provider.deauthorize_member(nwid, NODE)
    assert provider.read_member(nwid, NODE) is None


def test_bad_token_is_permanent_names_the_setting_and_never_leaks(
    central: CentralEmulatorServer, nwid: NetworkId, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "centralwrongtoken987654321"
    bad = central_provider(central, token=secret)
    with pytest.raises(ProviderError) as info:
        bad.authorize_member(nwid, NODE, [V4], "AS64500")
    assert (info.value.kind, info.value.transient, info.value.status) == ("auth", False, 401)
    assert "ZT_CENTRAL_API_TOKEN" in info.value.remediation
    for text in (str(info.value), repr(info.value.details), repr(bad), caplog.text):
        assert secret not in text
    report = bad.check_readiness([])
    assert not report.ready
    assert report.first_failure is not None
    assert report.first_failure.name == "token_accepted"


def test_forbidden_and_unknown_networks(
    central: CentralEmulatorServer, provider: CentralProvider, nwid: NetworkId
) -> None:
    central.forbid(str(nwid))
    with pytest.raises(ProviderError) as info:
        provider.authorize_member(nwid, NODE, [V4], "AS64500")
    assert (info.value.kind, info.value.status) == ("forbidden", 403)
    unknown = NetworkId(central.address + "999999")
    with pytest.raises(ProviderError) as info:
        provider.authorize_member(unknown, NODE, [V4], "AS64500")
    assert info.value.kind == "not_found"


def test_429_is_retried_honouring_the_rate_limit_headers(tmp_path: Path) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    with running_central(tmp_path / "c", rate_limit=1) as central:
        nwid = NetworkId(central.create_network("ix"))
        provider = central_provider(
            central,
            retry=RetryPolicy(attempts=4, backoff_s=0.01, max_retry_wait_s=1.5),
            sleep=sleep,
        )
        provider.authorize_member(nwid, NODE, [V4], "AS64500")  # POST + GET
        for _ in range(3):  # over 1 request/s: 429s, each retried after the reset
            assert provider.read_member(nwid, NODE) is not None
    assert sleeps, "a 429 must have been retried"
    # waits follow X-Ratelimit-Reset (the next second), not the 10 ms backoff
    assert any(s > 0.05 for s in sleeps)
    assert all(s <= 1.5 for s in sleeps)


def test_readiness_and_drift_repair(
    central: CentralEmulatorServer, provider: CentralProvider
) -> None:
    nwid = central.create_network("old-name")
    net = peering_network(nwid[:10], suffix=nwid[10:])
    report = provider.check_readiness([net])
    assert not report.ready
    assert report.first_failure is not None
    assert report.first_failure.name == f"network_settings:{nwid}"
    change = provider.ensure_network(net)
    assert change.repaired == ("name", "routes")
    assert provider.check_readiness([net]).ready
    assert provider.ensure_network(net).repaired == ()


def test_missing_network_is_not_created(
    central: CentralEmulatorServer, provider: CentralProvider
) -> None:
    net = peering_network(central.address, suffix="424242")
    with pytest.raises(ProviderError) as info:
        provider.ensure_network(net)
    assert info.value.kind == "not_found"
    assert "Central" in info.value.remediation
    report = provider.check_readiness([net])
    assert report.first_failure is not None
    assert report.first_failure.name == f"network_present:{net.id}"


def test_from_settings_requires_the_token() -> None:
    with pytest.raises(SettingsError) as info:
        CentralProvider.from_settings(Settings(zt_provider="central"))
    assert info.value.setting == "ZT_CENTRAL_API_TOKEN"
    with pytest.raises(SettingsError) as info:
        CentralProvider.from_settings(
            Settings(zt_provider="central", zt_central_api_token="t", zt_central_base_url="")
        )
    assert info.value.setting == "ZT_CENTRAL_BASE_URL"


def test_status_without_a_user_means_the_token_was_not_accepted() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "central", "user": None})

    provider = CentralProvider(
        "https://central.test/api/v1", "tok", transport=httpx.MockTransport(handler)
    )
    report = provider.check_readiness([])
    assert report.first_failure is not None
    assert report.first_failure.name == "token_accepted"
    assert "ZT_CENTRAL_API_TOKEN" in report.first_failure.remediation


def test_an_error_body_echoing_the_token_is_redacted() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "token s3cr3t-central"
        return httpx.Response(400, json={"message": "bad token s3cr3t-central"})

    provider = CentralProvider(
        "https://central.test/api/v1", "s3cr3t-central", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(ProviderError) as info:
        provider.read_member(NetworkId("0123456789abcdef"), NODE)
    assert info.value.kind == "rejected"
    assert "s3cr3t-central" not in str(info.value)
