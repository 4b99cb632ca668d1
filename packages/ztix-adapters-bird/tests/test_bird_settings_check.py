"""``ztix settings`` checks the ``[bird]`` table as the ``bird`` fleet would (the
registration declares the table and a validate), listing every problem with its path."""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_core.cli import main
from ztix_core.hookspecs import hookimpl
from ztix_core.memory import InMemoryProvider
from ztix_core.plugins import Plugins, Registration, build_plugin_manager


@hookimpl
def ztix_membership_providers() -> list[Registration]:
    return [Registration("memory", lambda s: InMemoryProvider(), None, "in memory")]


def _plugins() -> Plugins:
    fake = types.SimpleNamespace(
        __name__="fake_provider", ztix_membership_providers=ztix_membership_providers
    )
    return Plugins(build_plugin_manager(disabled=(), extra=[fake]))


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZT_PROVIDER", "memory")
    yield
    assert not (tmp_path / "data").exists()


SERVERS = """
[[bird.servers]]
name = "rs1"
router_id = "10.0.0.1"
transport = "local"

[[bird.servers]]
name = "rs2"
asn = "AS-nope"
router_id = "10.0.0.2"
transport = "local"
"""


def test_every_bad_server_key_is_named_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(SERVERS)
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert "ztix: error: setting bird.servers[0].asn: missing (this key is required)\n" in err
    assert "ztix: error: setting bird.servers[1].asn: 'AS-nope' is not an AS number\n" in err
    assert "KeyError" not in err and "Traceback" not in err
    assert err.endswith("the settings have 2 errors; nothing was started\n")


def test_the_bird_fleet_without_servers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settings"], plugins=_plugins()) == 2
    assert "setting bird.servers: no route server is configured" in capsys.readouterr().err


def test_the_bird_table_is_checked_even_with_another_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "memory")
    config = tmp_path / "ztix.toml"
    config.write_text(SERVERS.replace('asn = "AS-nope"', "asn = 64999"))
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    assert "setting bird.servers[0].asn: missing" in capsys.readouterr().err
    config.write_text(
        SERVERS.replace('asn = "AS-nope"', "asn = 64999").replace(
            'name = "rs1"', 'name = "rs1"\nasn = 64998'
        )
    )
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 0


def test_rendering_into_an_unusable_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rs render --out`` where a file is in the way: the OSError reaches the user as one
    line naming the path and what to check, exit 2, no traceback."""
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "bird")
    config = tmp_path / "ztix.toml"
    config.write_text(
        SERVERS.replace('asn = "AS-nope"', "asn = 64999").replace(
            'name = "rs1"', 'name = "rs1"\nasn = 64998'
        )
    )
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    argv = ["--config", str(config), "rs", "render", "--out", str(blocker / "out")]
    assert main(argv, plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: ") and err.count("\n") == 1
    assert str(blocker) in err and "Traceback" not in err
    assert blocker.read_text() == ""


def test_the_removed_max_prefix_default_is_refused_naming_its_replacement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(
        SERVERS.replace('asn = "AS-nope"', "asn = 64999").replace(
            'name = "rs1"', 'name = "rs1"\nasn = 64998'
        )
        + "[bird.servers.policy]\ndefault_max_prefix_v6 = 40\n"
    )
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert (
        "setting bird.servers[1].policy: default_max_prefix_v6 was removed: a member's IPv6 "
        "max-prefix falls back to `[provisioning] default_max_prefix_v6`" in err
    )
    assert "unknown key" not in err and "Traceback" not in err
    assert err.endswith("the settings have 1 error; nothing was started\n")
