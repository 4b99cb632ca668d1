"""``ztix settings`` checks what the ZeroTier providers would refuse at start-up (the
registrations declare ``[zerotier]`` and a validate), listing every problem at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_core.cli import main
from ztix_core.plugins import Plugins, build_plugin_manager


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "memory")
    yield
    assert not (tmp_path / "data").exists()


def _plugins() -> Plugins:
    return Plugins(build_plugin_manager(disabled=()))


def test_the_self_hosted_provider_settings_are_all_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_CONTROLLER_REQUIRED_NETWORK_IDS", "abc,0123456789abcdef")
    config = tmp_path / "ztix.toml"
    config.write_text("[zerotier]\ntimeout_s = -1\n[zerotiers]\n")
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "ztix: error: setting ZT_CONTROLLER_BASE_URL: is required when "
        "ZT_PROVIDER=self_hosted_controller",
        "ztix: error: setting ZT_CONTROLLER_REQUIRED_NETWORK_IDS: 'abc' is neither a 16-hex "
        "network id nor a 6-hex suffix",
        "ztix: error: setting zerotier.timeout_s: must be > 0, got -1.0",
        "ztix: error: setting [zerotiers]: unknown table: no installed plugin reads it "
        "(did you mean `[zerotier]`?)",
        "ztix: the settings have 4 errors; nothing was started",
    ]


def test_an_unknown_provider_is_refused_naming_the_installed_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_PROVIDER", "zerotier")
    assert main(["settings"], plugins=_plugins()) == 2
    assert (
        "setting ZT_PROVIDER: no plugin named 'zerotier'; available: central, "
        "self_hosted_controller" in capsys.readouterr().err
    )


def test_a_complete_self_hosted_setup_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_CONTROLLER_BASE_URL", "http://127.0.0.1:9993")
    monkeypatch.setenv("ZT_CONTROLLER_AUTH_TOKEN", "t0ken")
    assert main(["settings"], plugins=_plugins()) == 0
    assert "t0ken" not in capsys.readouterr().out
