"""Token reload: from the token file or the environment, on demand and on SIGHUP; readiness
re-runs at once; failures keep the old token and keep the gate closed; audited without
the secret."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import running_emulator
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle, TokenReloadOutcome
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.testing import FAST_RETRY, self_hosted_settings
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.errors import SettingsError
from ztix_core.memory import FixedClock, InMemoryStore

NEW_TOKEN = "rotatedtoken0123456789ab"


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


@pytest.fixture
def token_file(zt: EmulatorServer, tmp_path: Path) -> Path:
    path = tmp_path / "authtoken"
    path.write_text(zt.token + "\n")
    return path


def lifecycle_for(
    zt: EmulatorServer, token: TokenSource, store: InMemoryStore
) -> ControllerLifecycle:
    provider = SelfHostedControllerProvider(zt.url, token, retry=FAST_RETRY)
    return ControllerLifecycle(
        provider, self_hosted_settings(zt), uow_factory=store, clock=FixedClock()
    )


def test_rotation_blocks_until_reload_from_file(
    zt: EmulatorServer, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = InMemoryStore()
    old = zt.token
    lifecycle = lifecycle_for(zt, TokenSource(file=str(token_file)), store)
    lifecycle.provider.reload_token()
    assert lifecycle.check().ready
    zt.set_token(NEW_TOKEN)  # the controller's token rotates
    report = lifecycle.check()
    assert report.first_failure is not None
    assert report.first_failure.name == "token_accepted"  # provisioning is blocked
    token_file.write_text(NEW_TOKEN)
    outcome = lifecycle.reload_token()
    assert outcome.ok
    assert outcome.reload is not None
    assert (outcome.reload.source, outcome.reload.changed) == ("file", True)
    assert outcome.report.ready
    with store() as uow:
        event = uow.audit.recent(1)[0]
    assert event.action == audit.TOKEN_RELOADED
    assert event.metadata["changed"] is True and event.metadata["readiness"]["ready"] is True
    for text in (repr(event.metadata), caplog.text, repr(outcome), repr(lifecycle.provider.token)):
        assert NEW_TOKEN not in text and old not in text


def test_reload_with_the_wrong_token_keeps_provisioning_blocked(
    zt: EmulatorServer, token_file: Path
) -> None:
    store = InMemoryStore()
    lifecycle = lifecycle_for(zt, TokenSource(file=str(token_file)), store)
    token_file.write_text("still-not-the-right-one")
    outcome = lifecycle.reload_token()
    assert not outcome.ok
    assert outcome.report.first_failure is not None
    assert outcome.report.first_failure.name == "token_accepted"
    with store() as uow:
        event = uow.audit.recent(1)[0]
    assert event.action == audit.TOKEN_RELOAD_FAILED
    assert event.metadata["readiness"]["check"] == "token_accepted"
    assert "still-not-the-right-one" not in repr(event.metadata)


def test_unreadable_file_keeps_the_old_token(zt: EmulatorServer, token_file: Path) -> None:
    store = InMemoryStore()
    source = TokenSource(file=str(token_file))
    source.reload()
    lifecycle = lifecycle_for(zt, source, store)
    token_file.unlink()
    outcome = lifecycle.reload_token()
    assert outcome.reload is None
    assert "ZT_CONTROLLER_AUTH_TOKEN_FILE" in outcome.error
    assert source.get() == zt.token  # the old token is still in use ...
    assert outcome.report.ready  # ... and still valid
    assert not outcome.ok
    with store() as uow:
        assert uow.audit.recent(1)[0].action == audit.TOKEN_RELOAD_FAILED
    token_file.write_text("   \n")
    with pytest.raises(SettingsError) as info:
        source.reload()
    assert info.value.setting == "ZT_CONTROLLER_AUTH_TOKEN_FILE"
    assert source.get() == zt.token


def test_reload_from_the_environment(zt: EmulatorServer) -> None:
    environ = {"ZT_CONTROLLER_AUTH_TOKEN": zt.token}
    source = TokenSource("initial-wrong", environ=environ)
    lifecycle = lifecycle_for(zt, source, InMemoryStore())
    assert not lifecycle.check().ready
    outcome = lifecycle.reload_token()
    assert outcome.ok and outcome.reload is not None and outcome.reload.source == "env"
    assert not lifecycle.reload_token().reload.changed  # type: ignore[union-attr]


def test_sighup_reloads_and_reruns_readiness(zt: EmulatorServer, token_file: Path) -> None:
    store = InMemoryStore()
    lifecycle = lifecycle_for(zt, TokenSource(file=str(token_file)), store)
    lifecycle.provider.reload_token()
    zt.set_token(NEW_TOKEN)
    token_file.write_text(NEW_TOKEN)
    done = threading.Event()
    outcomes: list[TokenReloadOutcome] = []

    def on_done(outcome: TokenReloadOutcome) -> None:
        outcomes.append(outcome)
        done.set()

    uninstall = lifecycle.install_sighup(on_done)
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert done.wait(10), "SIGHUP did not trigger a reload"
    finally:
        uninstall()
    assert outcomes[0].ok and outcomes[0].report.ready
    assert lifecycle.provider.token.get() == NEW_TOKEN
    with store() as uow:
        assert uow.audit.recent(1)[0].action == audit.TOKEN_RELOADED
    assert signal.getsignal(signal.SIGHUP) is not None


def test_install_token_reload_for_composition_roots(zt: EmulatorServer, token_file: Path) -> None:
    from ztix_adapters_zerotier.lifecycle import install_token_reload
    from ztix_core.memory import InMemoryProvider

    assert install_token_reload(InMemoryProvider(), self_hosted_settings(zt)) is None
    provider = SelfHostedControllerProvider(
        zt.url, TokenSource(file=str(token_file)), retry=FAST_RETRY
    )
    store = InMemoryStore()
    done = threading.Event()
    uninstall = install_token_reload(
        provider, self_hosted_settings(zt), uow_factory=store, on_done=lambda outcome: done.set()
    )
    assert uninstall is not None
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert done.wait(10)
    finally:
        uninstall()
    assert provider.token.get() == zt.token
    with store() as uow:
        assert uow.audit.recent(1)[0].action == audit.TOKEN_RELOADED


def test_one_precedence_the_file_wins_and_a_difference_is_warned(
    zt: EmulatorServer, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: start-up preferred ZT_CONTROLLER_AUTH_TOKEN, reload the file."""
    from ztix_core.settings import load_settings

    environ = {
        "ZT_CONTROLLER_AUTH_TOKEN": "stale-env-token-1234",
        "ZT_CONTROLLER_AUTH_TOKEN_FILE": str(token_file),
        "ZT_CONTROLLER_BASE_URL": zt.url,
    }
    caplog.set_level(logging.WARNING)
    settings = load_settings(None, environ)
    assert settings.zt_controller_auth_token == zt.token  # start-up: the file
    assert "both set and differ; using the file" in caplog.text
    source = TokenSource.from_settings(settings)
    assert source.get() == zt.token
    caplog.clear()
    reloaded = TokenSource(
        "stale-env-token-1234", file=str(token_file), environ=environ
    ).reload()  # reload: the file too, and the same warning
    assert reloaded.source == "file"
    assert "both set and differ; using the file" in caplog.text
    assert "stale-env-token-1234" not in caplog.text and zt.token not in caplog.text
    caplog.clear()
    same = {**environ, "ZT_CONTROLLER_AUTH_TOKEN": zt.token}
    load_settings(None, same)
    TokenSource(file=str(token_file), environ=same).reload()
    assert "differ" not in caplog.text  # equal values: nothing to warn about


def test_settings_built_in_code_follow_the_same_precedence(
    zt: EmulatorServer, token_file: Path
) -> None:
    settings = self_hosted_settings(
        zt,
        zt_controller_auth_token="stale-env-token-1234",
        zt_controller_auth_token_file=str(token_file),
    )
    provider = SelfHostedControllerProvider.from_settings(settings)
    assert provider.token.get() == zt.token
    assert provider.check_readiness(()).ready
    provider.close()
