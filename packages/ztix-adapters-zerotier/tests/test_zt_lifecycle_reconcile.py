"""Network reconciliation: create what is missing (full ids and 6-hex suffixes), repair
drift field by field, refuse foreign prefixes, converge (a second run changes nothing),
report and audit what changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import running_emulator
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle
from ztix_adapters_zerotier.network_spec import NetworkSpec, drift, validate_required_ids
from ztix_adapters_zerotier.reconcile import reconcile_networks
from ztix_adapters_zerotier.testing import (
    peering_network,
    self_hosted_provider,
    self_hosted_settings,
)
from ztix_core.errors import ProviderError, SettingsError
from ztix_core.memory import FixedClock, InMemoryStore


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


def stored(zt: EmulatorServer, nwid: object) -> dict[str, Any]:
    response = httpx.get(f"{zt.url}/controller/network/{nwid}", headers={"X-ZT1-Auth": zt.token})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_creates_missing_networks_from_suffixes_full_ids_and_configuration(
    zt: EmulatorServer,
) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(
        zt, required_ids=["000001", f"{zt.address}000002"], networks=[net]
    )
    report = reconcile_networks(provider)
    assert report.ok and report.changed
    assert sorted(report.created) == sorted(
        [str(net.id), f"{zt.address}000001", f"{zt.address}000002"]
    )
    body = stored(zt, net.id)
    assert body["name"] == "ix-lan"
    assert body["private"] is True
    assert body["v4AssignMode"] == {"zt": False}
    assert body["v6AssignMode"] == {"rfc4193": False, "6plane": False, "zt": False}
    assert {r["target"] for r in body["routes"]} == {"198.51.100.0/24", "2001:db8::/64"}
    bare = stored(zt, f"{zt.address}000001")
    assert bare["private"] is True and bare["v4AssignMode"] == {"zt": False}
    assert provider.check_readiness([]).ready


def test_second_run_changes_nothing(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, required_ids=["000001"], networks=[net])
    reconcile_networks(provider)
    revision = stored(zt, net.id)["revision"]
    again = reconcile_networks(provider)
    assert again.ok and not again.changed
    assert stored(zt, net.id)["revision"] == revision
    assert all(line.startswith("unchanged") for line in again.lines())


@pytest.mark.parametrize(
    ("tamper", "fields"),
    [
        ({"name": "someone-renamed-it"}, ("name",)),
        ({"private": False}, ("private",)),
        ({"v4AssignMode": {"zt": True}}, ("v4AssignMode",)),
        ({"v6AssignMode": {"rfc4193": True, "6plane": False, "zt": True}}, ("v6AssignMode",)),
        ({"routes": [{"target": "10.0.0.0/8", "via": None}]}, ("routes",)),
        ({"private": False, "name": "x", "routes": []}, ("name", "private", "routes")),
    ],
)
def test_repairs_drift(zt: EmulatorServer, tamper: dict[str, Any], fields: tuple[str, ...]) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, networks=[net])
    reconcile_networks(provider)
    httpx.post(
        f"{zt.url}/controller/network/{net.id}", headers={"X-ZT1-Auth": zt.token}, json=tamper
    )
    report = reconcile_networks(provider)
    assert report.ok
    assert report.repaired == {str(net.id): list(fields)}
    assert provider.check_readiness([]).ready
    if tamper.get("routes"):
        # an admin's extra route is kept; the peering prefixes are added
        targets = {r["target"] for r in stored(zt, net.id)["routes"]}
        assert {"10.0.0.0/8", "198.51.100.0/24", "2001:db8::/64"} <= targets


def test_refuses_ids_under_another_controllers_prefix(zt: EmulatorServer) -> None:
    foreign = peering_network("1111111111")
    provider = self_hosted_provider(zt, required_ids=["2222222222000001"], networks=[foreign])
    report = reconcile_networks(provider)
    assert not report.ok
    assert sorted(r.network_id for r in report.refused) == ["1111111111abcdef", "2222222222000001"]
    assert all(zt.address in r.reason for r in report.refused)
    assert [m for m, _ in zt.requests if m == "POST"] == []
    assert provider.list_network_ids() == []


def test_ensure_network_reports_created_then_nothing(zt: EmulatorServer) -> None:
    provider = self_hosted_provider(zt)
    net = peering_network(zt.address, suffix="0000aa")
    first = provider.ensure_network(net)
    assert first.created and first.repaired == ()
    second = provider.ensure_network(net)
    assert not second.created and second.repaired == ()


def test_unreachable_controller_raises_and_is_audited(zt: EmulatorServer) -> None:
    store = InMemoryStore()
    settings = self_hosted_settings(zt, zt_controller_required_network_ids=("000001",))
    lifecycle = ControllerLifecycle(
        self_hosted_provider(zt, token="bad-token"), settings, uow_factory=store, clock=FixedClock()
    )
    with pytest.raises(ProviderError) as info:
        lifecycle.reconcile()
    assert info.value.kind == "auth"
    with store() as uow:
        event = uow.audit.recent(1)[0]
    assert event.action == audit.RECONCILE_FAILED
    assert event.metadata["kind"] == "auth"
    assert "bad-token" not in repr(event.metadata)


def test_reconciliation_is_audited_with_what_changed(zt: EmulatorServer) -> None:
    store = InMemoryStore()
    net = peering_network(zt.address)
    settings = self_hosted_settings(zt)
    provider = self_hosted_provider(zt, required_ids=["000001", "3333333333000001"], networks=[net])
    lifecycle = ControllerLifecycle(provider, settings, uow_factory=store, clock=FixedClock())
    report = lifecycle.reconcile()
    assert not report.ok  # one id refused: provisioning must stay closed
    with store() as uow:
        event = uow.audit.recent(1)[0]
    assert event.action == audit.RECONCILE_FAILED
    assert sorted(event.metadata["created"]) == sorted([str(net.id), f"{zt.address}000001"])
    assert list(event.metadata["refused"]) == ["3333333333000001"]
    assert zt.token not in repr(event.metadata)


def test_a_network_that_cannot_converge_is_reported_failed(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, networks=[net])
    zt.force_errors(500)
    with pytest.raises(ProviderError):  # /status itself fails: nothing to reconcile against
        reconcile_networks(provider)
    zt.clear_faults()
    provider.controller_address()  # cached; now only the network calls fail
    zt.force_errors(500)
    report = reconcile_networks(provider)
    zt.clear_faults()
    assert not report.ok
    assert [f.network_id for f in report.failed] == [str(net.id)]
    assert report.failed[0].transient


def test_required_id_forms_are_validated() -> None:
    assert validate_required_ids([" ABCDEF ", "0123456789ABCDEF"]) == ("abcdef", "0123456789abcdef")
    for bad in ("abcde", "abcdefg", "0123456789abcdeg", ""):
        with pytest.raises(SettingsError) as info:
            validate_required_ids([bad])
        assert info.value.setting == "ZT_CONTROLLER_REQUIRED_NETWORK_IDS"


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_route = st.fixed_dictionaries(
    {
        "target": st.sampled_from(["198.51.100.0/24", "2001:db8::/64", "10.0.0.0/8", "bogus"]),
        "via": st.none() | st.sampled_from(["10.0.0.1", ""]),
    }
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(
    stored=st.fixed_dictionaries(
        {},
        optional={
            "name": st.text(max_size=8) | _any_json,
            "private": st.booleans() | _any_json,
            "v4AssignMode": st.fixed_dictionaries({}, optional={"zt": st.booleans()}) | _any_json,
            "v6AssignMode": st.fixed_dictionaries(
                {},
                optional={"rfc4193": st.booleans(), "6plane": st.booleans(), "zt": st.booleans()},
            )
            | _any_json,
            "routes": st.lists(_route, max_size=4) | _any_json,
        },
    ),
    named=st.booleans(),
)
def test_applying_the_drift_fix_leaves_no_drift(stored: dict[str, Any], named: bool) -> None:
    """Whatever the controller holds, POSTing what ``drift`` asks for (a partial update)
    converges: a second look finds nothing to fix, and nothing is asked when nothing
    drifted."""
    from ztix_core.values import NetworkId

    spec = NetworkSpec(
        NetworkId("0123456789abcdef"),
        "ix-lan" if named else None,
        ("198.51.100.0/24", "2001:db8::/64"),
    )
    fix = drift(spec, stored)
    after = {**stored, **fix}
    assert drift(spec, after) == {}
    if not fix:
        assert drift(spec, stored) == {}
    if "routes" in fix:  # routes that were there are kept
        kept = (
            [r for r in stored.get("routes", []) if isinstance(r, dict)]
            if isinstance(stored.get("routes"), list)
            else []
        )
        assert fix["routes"][: len(kept)] == kept
