"""Worker settings and the ``ztix worker`` command: bad input is named, nothing starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ztix_core.errors import SettingsError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import load_settings
from ztix_worker.settings import DriftMode, WorkerSettings, load_worker_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ztix.toml"
    path.write_text(text)
    return path


def test_defaults_and_overrides(tmp_path: Path) -> None:
    cfg = _write(tmp_path, '[worker]\nthreads = 3\nmembership_drift = "repair"\n')
    ws = load_worker_settings(load_settings(cfg, environ={}), environ={})
    assert ws.threads == 3 and ws.membership_drift is DriftMode.REPAIR
    ws = load_worker_settings(
        load_settings(cfg, environ={}),
        environ={"ZTIX_WORKER_THREADS": "5", "ZTIX_WORKER_STUCK_AFTER_S": "1.5"},
        processes=2,
    )
    assert (ws.threads, ws.stuck_after_s, ws.processes) == (5, 1.5, 2)
    assert load_worker_settings(load_settings(None, environ={}), environ={}) == WorkerSettings()


@pytest.mark.parametrize(
    ("toml", "env", "named"),
    [
        ("[worker]\nbogus = 1\n", {}, "worker"),
        ("[worker]\nthreads = 0\n", {}, "worker.threads"),
        ('[worker]\nmembership_drift = "fix-it"\n', {}, "worker.membership_drift"),
        ("", {"ZTIX_WORKER_THREADS": "many"}, "ZTIX_WORKER_THREADS"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], named: str
) -> None:
    settings = load_settings(_write(tmp_path, toml), environ={})
    with pytest.raises(SettingsError) as err:
        load_worker_settings(settings, environ=env)
    assert err.value.setting == named
    if "bogus" in toml:
        assert "bogus" in str(err.value)


def test_worker_command_is_registered() -> None:
    assert "worker" in Plugins(build_plugin_manager()).cli_commands()


def test_worker_command_refuses_bad_settings_and_starts_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "ZTIX_WORKER_THREADS": "many"}
    env.pop("ZTIX_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "worker"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "ZTIX_WORKER_THREADS" in out.stderr and "not a number" in out.stderr
