"""The controller lifecycle — readiness, reconcile, token reload (on demand and on SIGHUP),
backup, drill and restore — against one controller: the emulator by default, or a real
zerotier-one when ``ZTIX_TEST_ZT_CONTROLLER_URL`` and ``_TOKEN`` are set. A real target also
needs ``ZTIX_TEST_ZT_CONTROLLER_HOME`` (its home; read, never written) and may give
``ZTIX_TEST_ZT_CONTROLLER_BINARY`` (a zerotier-one the drill starts on scratch copies) and
``ZTIX_TEST_ZT_CONTROLLER_NETWORK`` (see ``target_network_id``). The tests change only
their own network on the controller; restores go into scratch homes.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.backup import BackupError
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import (
    BINARY_ENV,
    HOME_ENV,
    TOKEN_ENV,
    URL_ENV,
    TargetConfigError,
    free_port,
    running_emulator,
    target_network_id,
)
from ztix_adapters_zerotier.lifecycle import (
    ControllerLifecycle,
    TokenReloadOutcome,
    install_token_reload,
)
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.sighup_target import catches_sighup
from ztix_adapters_zerotier.testing import network_settings, peering_network
from ztix_core.errors import ProviderError
from ztix_core.memory import InMemoryStore
from ztix_core.records import AuditEvent, ZtNetwork
from ztix_core.settings import Settings


@attrs.frozen
class Target:
    """The controller under test."""

    url: str
    token: str
    address: str
    home: Path
    network: ZtNetwork
    binary: str | None = None
    emulator: EmulatorServer | None = None


def _status_address(url: str, token: str) -> str:
    response = httpx.get(f"{url}/status", headers={"X-ZT1-Auth": token}, timeout=10)
    response.raise_for_status()
    return str(response.json()["address"])


def _network(address: str) -> ZtNetwork:
    try:
        nwid = target_network_id(address, "7e5701")
    except TargetConfigError as exc:
        pytest.fail(str(exc))
    return peering_network(address, suffix=nwid[10:], name="ztix-lifecycle")


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    if url and token:
        home = os.environ.get(HOME_ENV)
        if not home or not (Path(home) / "identity.public").is_file():
            pytest.fail(f"{HOME_ENV} must name the real controller's home (with {URL_ENV})")
        url = url.rstrip("/")
        address = _status_address(url, token)
        binary = os.environ.get(BINARY_ENV) or None
        yield Target(url, token, address, Path(home), _network(address), binary)
        return
    with running_emulator(tmp_path / "zerotier-one") as zt:
        yield Target(zt.url, zt.token, zt.address, zt.home, _network(zt.address), None, zt)


def settings_for(target: Target, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of a lifecycle on ``target``: token from a file of this test's own (so a
    test may rotate it), the target network required and configured, fast retries."""
    token_file = tmp_path / "token"
    if not token_file.exists():
        token_file.write_text(target.token + "\n")
    values: dict[str, Any] = {
        "storage": "memory",
        "zt_provider": "self_hosted_controller",
        "zt_controller_base_url": target.url,
        "zt_controller_auth_token_file": str(token_file),
        "zt_controller_auth_token": target.token,
        "zt_controller_home": str(target.home),
        "zt_controller_backup_dir": str(tmp_path / "backups"),
        "zt_controller_required_network_ids": (str(target.network.id),),
        "networks": (network_settings(target.network),),
        "sections": {
            "zerotier": {
                "timeout_s": 5.0,
                "retry_attempts": 2,
                "backoff_s": 0.01,
                "controller_binary": target.binary or "emulator",
            }
        },
    }
    values.update(overrides)
    return Settings(**values)


def lifecycle_for(settings: Settings, store: InMemoryStore) -> ControllerLifecycle:
    provider = SelfHostedControllerProvider.from_settings(settings)
    return ControllerLifecycle(provider, settings, uow_factory=store)


def events(store: InMemoryStore) -> list[AuditEvent]:
    with store() as uow:
        return uow.audit.for_target(audit.TARGET_TYPE, "self_hosted_controller")


def snapshot(home: Path) -> dict[str, bytes]:
    names = ["identity.secret", "identity.public", "authtoken.secret"]
    files = {n: (home / n).read_bytes() for n in names if (home / n).is_file()}
    tree = home / "controller.d"
    for path in sorted(tree.rglob("*.json")) if tree.is_dir() else []:
        files[path.relative_to(home).as_posix()] = path.read_bytes()
    return files


def test_reconcile_makes_ready_and_repairs_drift(target: Target, tmp_path: Path) -> None:
    store = InMemoryStore()
    lifecycle = lifecycle_for(settings_for(target, tmp_path), store)
    assert lifecycle.reconcile().ok
    assert lifecycle.check().ready
    httpx.post(
        f"{target.url}/controller/network/{target.network.id}",
        headers={"X-ZT1-Auth": target.token},
        json={"private": False},
        timeout=10,
    ).raise_for_status()
    report = lifecycle.check()
    failure = report.first_failure
    assert failure is not None and failure.name == f"network_settings:{target.network.id}"
    assert "reconcile" in failure.remediation
    repaired = lifecycle.reconcile()
    assert repaired.ok and "private" in str(repaired.lines())
    assert lifecycle.check().ready
    assert [e.action for e in events(store)] == [
        audit.RECONCILED,
        audit.READINESS_OK,
        audit.READINESS_FAILED,
        audit.RECONCILED,
        audit.READINESS_OK,
    ]
    lifecycle.provider.close()


def test_token_reload_from_the_file(target: Target, tmp_path: Path) -> None:
    store = InMemoryStore()
    settings = settings_for(target, tmp_path)
    lifecycle = lifecycle_for(settings, store)
    lifecycle.reconcile()
    token_file = Path(str(settings.zt_controller_auth_token_file))
    token_file.write_text("wrong-token-for-this-test\n")
    blocked = lifecycle.reload_token()
    assert not blocked.ok and blocked.report.first_failure is not None
    assert blocked.report.first_failure.name == "token_accepted"
    token_file.write_text(target.token + "\n")
    assert lifecycle.reload_token().ok
    assert [e.action for e in events(store)][-2:] == [
        audit.TOKEN_RELOAD_FAILED,
        audit.TOKEN_RELOADED,
    ]
    assert all(target.token not in repr(e.metadata) for e in events(store))
    lifecycle.provider.close()


def test_sighup_reloads_the_token_of_a_running_process(target: Target, tmp_path: Path) -> None:
    store = InMemoryStore()
    settings = settings_for(target, tmp_path)
    provider = SelfHostedControllerProvider.from_settings(settings)
    ControllerLifecycle(provider, settings).reconcile()
    token_file = Path(str(settings.zt_controller_auth_token_file))
    token_file.write_text("wrong-token-for-this-test\n")
    provider.reload_token()
    assert not provider.check_readiness(()).ready
    done: list[TokenReloadOutcome] = []
    finished = threading.Event()

    def on_done(outcome: TokenReloadOutcome) -> None:
        done.append(outcome)
        finished.set()

    uninstall = install_token_reload(provider, settings, uow_factory=store, on_done=on_done)
    assert uninstall is not None
    try:
        assert catches_sighup(Path("/proc/self/status").read_text())
        token_file.write_text(target.token + "\n")
        os.kill(os.getpid(), signal.SIGHUP)
        assert finished.wait(30)
    finally:
        uninstall()
    assert done[0].ok and provider.check_readiness(()).ready  # same object, new token
    assert [e.action for e in events(store)] == [audit.TOKEN_RELOADED]
    provider.close()


def test_a_base_url_with_a_path_names_the_setting(target: Target, tmp_path: Path) -> None:
    """Regression: ``…:9993/api`` said "not found: GET /status" and advised reconcile."""
    settings = settings_for(target, tmp_path, zt_controller_base_url=target.url + "/api")
    store = InMemoryStore()
    lifecycle = lifecycle_for(settings, store)
    failure = lifecycle.check().first_failure
    assert failure is not None and failure.name == "status_reachable"
    assert "ZT_CONTROLLER_BASE_URL" in failure.remediation
    assert "reconcile" not in failure.remediation
    with pytest.raises(ProviderError) as info:
        lifecycle.reconcile()
    assert info.value.kind == "wrong_url"
    assert [e.action for e in events(store)] == [audit.READINESS_FAILED, audit.RECONCILE_FAILED]
    assert events(store)[1].metadata["kind"] == "wrong_url"
    lifecycle.provider.close()


def test_backup_then_drill_passes(target: Target, tmp_path: Path) -> None:
    store = InMemoryStore()
    lifecycle = lifecycle_for(settings_for(target, tmp_path), store)
    assert lifecycle.reconcile().ok
    backup = lifecycle.backup()
    assert backup.manifest.controller == target.address
    report = lifecycle.drill()
    assert report.passed, report.summary()
    assert report.controller_kind == ("zerotier-one" if target.binary else "emulator")
    assert report.records is not None and str(target.network.id) in report.records.networks
    assert [e.action for e in events(store)][-2:] == [audit.BACKUP_CREATED, audit.DRILL_PASSED]
    lifecycle.provider.close()


def test_restore_is_refused_while_the_controller_runs(target: Target, tmp_path: Path) -> None:
    """Regression: a restore under a running controller "succeeded" while it kept serving
    (and would later rewrite) the old state."""
    store = InMemoryStore()
    lifecycle = lifecycle_for(settings_for(target, tmp_path), store)
    lifecycle.reconcile()
    archive = lifecycle.backup().path
    before = snapshot(target.home)
    with pytest.raises(BackupError) as info:
        lifecycle.restore(archive)
    assert info.value.kind == "controller_running"
    assert "stop zerotier-one" in info.value.remediation and "--force" in info.value.remediation
    assert snapshot(target.home) == before
    refused = events(store)[-1]
    assert refused.action == audit.RESTORE_REFUSED
    assert refused.metadata["kind"] == "controller_running"
    lifecycle.provider.close()


def test_restore_into_a_stopped_home_after_a_drill(target: Target, tmp_path: Path) -> None:
    store = InMemoryStore()
    lifecycle = lifecycle_for(settings_for(target, tmp_path), store)
    lifecycle.reconcile()
    archive = lifecycle.backup().path
    lifecycle.provider.close()
    stopped = tmp_path / "stopped-home"  # a copy of the controller, stopped
    stopped.mkdir()
    for name in ("identity.secret", "identity.public"):
        shutil.copy2(target.home / name, stopped / name)
    settings = settings_for(
        target,
        tmp_path,
        zt_controller_home=str(stopped),
        zt_controller_base_url=f"http://127.0.0.1:{free_port()}",
    )
    lifecycle = lifecycle_for(settings, store)
    result = lifecycle.restore(archive)
    assert result.manifest.controller == target.address and not result.forced
    assert (stopped / "controller.d" / "network" / f"{target.network.id}.json").is_file()
    assert (stopped / "identity.public").read_bytes() == (
        target.home / "identity.public"
    ).read_bytes()
    assert [e.action for e in events(store)][-2:] == [audit.DRILL_PASSED, audit.RESTORED]
    lifecycle.provider.close()
