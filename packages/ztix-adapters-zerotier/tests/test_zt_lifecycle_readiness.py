"""The readiness gate fails closed — controller down, bad token, database not ready,
required network missing or drifted, foreign prefix — each with a remediation; it is
audited without secrets, and the core's provisioning fails closed on it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import free_port, running_emulator
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle
from ztix_adapters_zerotier.readiness import readiness_metadata
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.testing import (
    FAST_RETRY,
    network_settings,
    peering_network,
    self_hosted_provider,
    self_hosted_settings,
)
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.memory import FixedClock, InMemoryFleet, InMemoryRegistry, InMemoryStore
from ztix_core.records import RouteServer, ZtNetwork
from ztix_core.status import RequestStatus
from ztix_core.testing import builders
from ztix_core.usecases import Provisioner
from ztix_core.values import Asn


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


def failed(
    provider: SelfHostedControllerProvider, networks: Sequence[ZtNetwork] = ()
) -> tuple[str, str]:
    report = provider.check_readiness(networks)
    assert not report.ready
    failure = report.first_failure
    assert failure is not None
    assert failure.remediation, f"{failure.name} has no remediation"
    return failure.name, failure.remediation


def test_ready_controller_passes_every_check(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, required_ids=["abcdef"], networks=[net])
    provider.ensure_network(net)
    report = provider.check_readiness([])
    assert report.ready
    names = [c.name for c in report.checks]
    assert names == [
        "status_reachable",
        "token_accepted",
        "controller_reachable",
        "database_ready",
        f"network_present:{net.id}",
        f"network_settings:{net.id}",
    ]


def test_controller_down_fails_closed() -> None:
    provider = SelfHostedControllerProvider(
        f"http://127.0.0.1:{free_port()}", TokenSource("t"), retry=FAST_RETRY
    )
    name, remediation = failed(provider)
    assert name == "status_reachable"
    assert "ZT_CONTROLLER_BASE_URL" in remediation


def test_controller_that_went_away_fails_closed(zt: EmulatorServer) -> None:
    provider = self_hosted_provider(zt)
    assert provider.check_readiness([]).ready
    zt.go_away("refuse")
    assert failed(provider)[0] == "status_reachable"
    zt.come_back()
    assert provider.check_readiness([]).ready


def test_bad_token_fails_closed(zt: EmulatorServer) -> None:
    name, remediation = failed(self_hosted_provider(zt, token="not-the-token"))
    assert name == "token_accepted"
    assert "ZT_CONTROLLER_AUTH_TOKEN_FILE" in remediation


def test_missing_token_fails_closed(zt: EmulatorServer) -> None:
    provider = SelfHostedControllerProvider(zt.url, TokenSource(None), retry=FAST_RETRY)
    assert failed(provider)[0] == "token_configured"


def test_database_not_ready_fails_closed(zt: EmulatorServer) -> None:
    zt.set_database_ready(False)
    name, remediation = failed(self_hosted_provider(zt))
    assert name == "database_ready"
    assert "database" in remediation
    zt.set_database_ready(True)
    assert self_hosted_provider(zt).check_readiness([]).ready


def test_required_network_missing_fails_closed(zt: EmulatorServer) -> None:
    provider = self_hosted_provider(zt, required_ids=["000001"])
    name, remediation = failed(provider)
    assert name == f"network_present:{zt.address}000001"
    assert "ztix controller reconcile" in remediation


def test_network_passed_by_provisioning_is_checked_too(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    assert failed(self_hosted_provider(zt), [net])[0] == f"network_present:{net.id}"


def test_drifted_network_fails_closed(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, networks=[net])
    provider.ensure_network(net)
    httpx.post(
        f"{zt.url}/controller/network/{net.id}",
        headers={"X-ZT1-Auth": zt.token},
        json={"v4AssignMode": {"zt": True}, "private": False},
    )
    report = provider.check_readiness([])
    failure = report.first_failure
    assert failure is not None and failure.name == f"network_settings:{net.id}"
    assert "private" in failure.message and "v4AssignMode" in failure.message


def test_foreign_prefix_in_required_ids_fails_closed(zt: EmulatorServer) -> None:
    provider = self_hosted_provider(zt, required_ids=["1111111111000001"])
    name, remediation = failed(provider)
    assert name == "network_owned:1111111111000001"
    assert "ZT_CONTROLLER_REQUIRED_NETWORK_IDS" in remediation


def test_readiness_is_audited_without_secrets(zt: EmulatorServer) -> None:
    store = InMemoryStore()
    clock = FixedClock()
    secret = "wrong-token-value-123456"
    settings = self_hosted_settings(zt, zt_controller_auth_token=secret)
    lifecycle = ControllerLifecycle(
        self_hosted_provider(zt, token=secret), settings, uow_factory=store, clock=clock
    )
    report = lifecycle.check()
    assert not report.ready
    with store() as uow:
        events = uow.audit.for_target(audit.TARGET_TYPE, "self_hosted_controller")
    assert [e.action for e in events] == [audit.READINESS_FAILED]
    meta = events[0].metadata
    assert meta["check"] == "token_accepted"
    assert "ZT_CONTROLLER_AUTH_TOKEN" in meta["remediation"]
    assert secret not in repr(meta) and zt.token not in repr(meta)
    assert meta == readiness_metadata(report)
    good = ControllerLifecycle(self_hosted_provider(zt), settings, uow_factory=store, clock=clock)
    assert good.check().ready
    with store() as uow:
        assert uow.audit.recent(1)[0].action == audit.READINESS_OK


def test_provisioning_fails_closed_with_the_failed_check_and_remediation(
    zt: EmulatorServer,
) -> None:
    """The core's Provisioner runs this provider's gate: with the database not ready, the
    request fails, nothing reaches the controller, the audit names check + remediation."""
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt)
    provider.ensure_network(net)
    store = InMemoryStore()
    user = builders.user()
    req = builders.request(user.id, net.id, status=RequestStatus.APPROVED)
    with store() as uow:
        uow.users.add(user)
        uow.networks.add(net)
        uow.requests.add(req)
        uow.commit()
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999))])
    provisioner = Provisioner(store, FixedClock(), provider, fleet, InMemoryRegistry())
    zt.set_database_ready(False)
    before = [r for r in zt.requests if r[0] == "POST"]
    assert provisioner.provision(req.id) is RequestStatus.FAILED
    assert [r for r in zt.requests if r[0] == "POST"] == before
    with store() as uow:
        failed_event = uow.audit.for_target("request", str(req.id))[-1]
        assert uow.requests.get(req.id).status is RequestStatus.FAILED  # type: ignore[union-attr]
    assert failed_event.metadata["check"] == "database_ready"
    assert failed_event.metadata["remediation"]
    # once the controller is healthy again, a retry provisions the member
    zt.set_database_ready(True)
    with store() as uow:
        current = uow.requests.get(req.id)
        assert current is not None
        uow.requests.update(
            attrs.evolve(current, status=RequestStatus.APPROVED),
            expected_status=RequestStatus.FAILED,
        )
        uow.commit()
    provisioner.provision(req.id)
    state = provider.read_member(net.id, req.node_id)
    assert state is not None and state.authorized and state.no_auto_assign_ips


def test_network_settings_helper_round_trips(zt: EmulatorServer) -> None:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt, networks=[network_settings(net)])
    assert failed(provider)[0] == f"network_present:{net.id}"


def test_audit_storage_failure_raises_when_strict_and_warns_otherwise(
    zt: EmulatorServer,
) -> None:
    def broken() -> Any:
        raise RuntimeError("database is down")

    settings = self_hosted_settings(zt)
    strict = ControllerLifecycle(self_hosted_provider(zt), settings, uow_factory=broken)
    with pytest.raises(RuntimeError):
        strict.check()
    lenient = ControllerLifecycle(
        self_hosted_provider(zt), settings, uow_factory=broken, strict_audit=False
    )
    assert lenient.check().ready
    assert lenient.audit_failures == [f"{audit.READINESS_OK}: RuntimeError"]
