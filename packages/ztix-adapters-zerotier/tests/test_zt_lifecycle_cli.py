"""``ztix controller …`` end to end through the ``ztix`` main: exit codes, output an admin
can act on, no secret printed; ``emulate`` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_zerotier.backup import list_backups
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import free_port, running_emulator
from ztix_adapters_zerotier.testing import REAL_ADDRESS, REAL_IDENTITY_SECRET
from ztix_core.cli import main


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        yield server


@pytest.fixture
def env(zt: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "ztix.toml"
    config.write_text("[zerotier]\ntimeout_s = 2.0\nretry_attempts = 2\nbackoff_s = 0.01\n")
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZT_CONTROLLER_BASE_URL", zt.url)
    monkeypatch.setenv("ZT_CONTROLLER_AUTH_TOKEN_FILE", str(zt.home / "authtoken.secret"))
    monkeypatch.setenv("ZT_CONTROLLER_REQUIRED_NETWORK_IDS", "000001")
    monkeypatch.setenv("ZT_CONTROLLER_HOME", str(zt.home))
    monkeypatch.setenv("ZT_CONTROLLER_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("ZT_CONTROLLER_BACKUP_RETENTION_COUNT", "2")
    return config


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "controller", *args])


def test_check_reconcile_check(
    zt: EmulatorServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(env, "check") == 1
    out = capsys.readouterr().out
    assert f"FAIL network_present:{zt.address}000001" in out
    assert "remediation: run `ztix controller reconcile`" in out
    assert run(env, "reconcile") == 0
    assert f"created   {zt.address}000001" in capsys.readouterr().out
    assert run(env, "check") == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("ready")
    assert zt.token not in out


def test_reconcile_refuses_a_foreign_id(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_CONTROLLER_REQUIRED_NETWORK_IDS", "1111111111000001")
    assert run(env, "reconcile", "--json") == 1
    assert '"1111111111000001"' in capsys.readouterr().out


def test_bad_token_fails_with_remediation_and_no_secret(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "stale-token"
    stale.write_text("clisecrettoken999\n")
    monkeypatch.setenv("ZT_CONTROLLER_AUTH_TOKEN_FILE", str(stale))
    assert run(env, "check") == 1
    captured = capsys.readouterr()
    assert "FAIL token_accepted" in captured.out
    assert "ZT_CONTROLLER_AUTH_TOKEN_FILE" in captured.out
    assert "clisecrettoken999" not in captured.out + captured.err


def test_token_file_wins_over_a_stale_env_token_with_a_warning(
    zt: EmulatorServer,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression: start-up preferred the env token and reload the file, so `check` used
    a stale env token while `reload-token` reported ready. One precedence: the file."""
    monkeypatch.setenv("ZT_CONTROLLER_AUTH_TOKEN", "stalesecrettoken42")
    assert run(env, "reconcile") == 0
    assert run(env, "check") == 0
    assert run(env, "reload-token") == 0
    captured = capsys.readouterr()
    assert "token re-read from file" in captured.out
    assert "stalesecrettoken42" not in captured.out + captured.err + caplog.text
    warnings = [r.getMessage() for r in caplog.records if "both set and differ" in r.getMessage()]
    assert warnings and all("using the file" in w for w in warnings)


def test_missing_url_is_named(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ZT_CONTROLLER_BASE_URL")
    assert run(env, "check") == 2
    assert "ZT_CONTROLLER_BASE_URL" in capsys.readouterr().err


def test_controller_down(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_CONTROLLER_BASE_URL", f"http://127.0.0.1:{free_port()}")
    assert run(env, "check") == 1
    assert "FAIL status_reachable" in capsys.readouterr().out


def test_backup_drill_restore_and_identity_guard(
    zt: EmulatorServer,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(env, "reconcile") == 0
    for _ in range(3):
        assert run(env, "backup") == 0
    assert len(list_backups(tmp_path / "backups")) == 2
    assert run(env, "drill") == 0
    assert "passed" in capsys.readouterr().out
    zt.stop()
    assert run(env, "restore") == 0
    assert "previous state moved" in capsys.readouterr().out
    with running_emulator(tmp_path / "other"):
        pass
    monkeypatch.setenv("ZT_CONTROLLER_HOME", str(tmp_path / "other"))
    assert run(env, "restore", "--skip-drill") == 2
    assert "--force" in capsys.readouterr().err
    assert run(env, "restore", "--skip-drill", "--force") == 0


def test_reload_token(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "reload-token") == 1  # re-read fine, but readiness fails: blocked
    assert "token re-read from file (unchanged)" in capsys.readouterr().out
    assert run(env, "reconcile") == 0
    assert run(env, "reload-token") == 0


FAKE_WORKER = """
import signal, sys, time
if sys.argv[2] == "handles":
    signal.signal(signal.SIGHUP, lambda *a: (print("reloaded", flush=True), sys.exit(0)))
print("ready", flush=True)
time.sleep(60)
"""


def _process(tmp_path: Path, name: str, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / name
    script.write_text(FAKE_WORKER)
    proc = subprocess.Popen(
        [sys.executable, str(script), "worker", mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_reload_token_signals_only_a_ztix_worker_that_handles_sighup(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: --pid sent SIGHUP to anything, which killed a worker without a handler
    (exit 129) while the CLI printed success."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name, mode, why in [
        ("a/ztix", "ignores", "no SIGHUP handler"),  # a ztix worker without a handler
        ("b/other", "handles", "not a ztix worker"),  # handles it, but is not ztix
    ]:
        proc = _process(tmp_path, name, mode)
        try:
            assert run(env, "reload-token", "--pid", str(proc.pid)) == 2
            assert why in capsys.readouterr().err
            assert proc.poll() is None  # still alive: nothing was sent
        finally:
            proc.kill()
            proc.wait()
    assert run(env, "reload-token", "--pid", "999999999") == 2
    assert "no process" in capsys.readouterr().err
    (tmp_path / "c").mkdir()
    proc = _process(tmp_path, "c/ztix", "handles")
    try:
        assert run(env, "reload-token", "--pid", str(proc.pid)) == 0
        assert "sent SIGHUP" in capsys.readouterr().out
        assert proc.stdout is not None and proc.stdout.readline().strip() == "reloaded"
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_check_with_central_selected_uses_the_central_provider(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_PROVIDER", "central")
    assert run(env, "check") == 2
    assert "ZT_CENTRAL_API_TOKEN" in capsys.readouterr().err


def test_restore_and_drill_of_a_real_identity_through_the_cli(
    zt: EmulatorServer,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Regression: `drill` and the default `restore` crashed (traceback, exit 1, no audit)
    on every real controller's backup; `restore` went ahead under a running controller."""
    zt.stop()
    home = tmp_path / "real"
    home.mkdir()
    (home / "identity.secret").write_text(REAL_IDENTITY_SECRET)
    with running_emulator(home) as real:
        monkeypatch.setenv("ZT_CONTROLLER_BASE_URL", real.url)
        monkeypatch.setenv("ZT_CONTROLLER_AUTH_TOKEN_FILE", str(home / "authtoken.secret"))
        monkeypatch.setenv("ZT_CONTROLLER_HOME", str(home))
        monkeypatch.setenv("ZT_CONTROLLER_BINARY", "emulator")
        assert run(env, "reconcile") == 0
        assert run(env, "backup") == 0
        assert run(env, "drill") == 0
        assert "on emulator: passed" in capsys.readouterr().out
        before = sorted(p.name for p in home.iterdir())
        assert run(env, "restore") == 2
        err = capsys.readouterr().err
        assert "the controller is running" in err and "stop zerotier-one" in err
        assert "Traceback" not in err
        assert sorted(p.name for p in home.iterdir()) == before
    assert run(env, "restore") == 0  # stopped now
    assert f"controller {REAL_ADDRESS}" in capsys.readouterr().out


def test_emulate_serves_until_terminated(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from ztix_core.cli import main; sys.exit(main())",
            "controller",
            "emulate",
            "--port",
            str(port),
            "--home",
            str(tmp_path / "emu"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in line
        assert (tmp_path / "emu" / "authtoken.secret").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()


def test_an_unusable_audit_store_warns_but_the_action_stands(
    zt: EmulatorServer,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An SQLite database that was never migrated (or no SQL storage installed at all):
    the check still runs and warns that it was not audited."""
    monkeypatch.setenv("ZTIX_STORAGE", "sql")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unmigrated.db'}")
    monkeypatch.setenv("ZT_CONTROLLER_REQUIRED_NETWORK_IDS", "")
    assert run(env, "check") == 0
    captured = capsys.readouterr()
    assert "ready" in captured.out
    assert "ztix: warning: audit" in captured.err


def test_reconcile_brings_the_database_networks_in_line_with_the_settings(
    zt: EmulatorServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import ipaddress

    import attrs

    from ztix_adapters_zerotier.cli import _reconcile, build_lifecycle
    from ztix_core.memory import InMemoryStore
    from ztix_core.settings import NetworkSettings, load_settings
    from ztix_core.values import NetworkId

    net_id = NetworkId(f"{zt.address}000001")
    settings = attrs.evolve(
        load_settings(env),
        networks=(
            NetworkSettings(
                net_id,
                "ix",
                ipaddress.IPv4Network("10.5.0.0/24"),
                ipaddress.IPv6Network("fd00:5::/64"),
            ),
        ),
    )
    store = InMemoryStore()
    lifecycle = build_lifecycle(settings, store)
    assert _reconcile(lifecycle, argparse.Namespace(json=False)) == 0
    assert f"network {net_id} created from the settings" in capsys.readouterr().err
    with store() as uow:
        (stored,) = uow.networks.list()
        actions = [e.action for e in uow.audit.for_target("network", net_id.value)]
    assert stored.id == net_id and stored.name == "ix" and actions == ["network.created"]
