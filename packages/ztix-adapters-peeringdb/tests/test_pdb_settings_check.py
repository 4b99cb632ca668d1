"""``ztix settings`` checks the ``[peeringdb]`` table and the API key as the registry would
at start-up, every problem at once; the key never comes from the TOML file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_peeringdb.settings import MaxPrefixRule, api_key, peeringdb_settings
from ztix_adapters_peeringdb.testing import isolate_settings_env, plugins_with_memory_provider
from ztix_core.cli import main
from ztix_core.plugins import Plugins
from ztix_core.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    isolate_settings_env(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("ZTIX_NETWORK_REGISTRY", "peeringdb")
    yield
    assert not (tmp_path / "data").exists()


def _plugins() -> Plugins:
    plugins: Plugins = plugins_with_memory_provider()
    return plugins


def test_every_bad_key_is_named_and_nothing_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEERINGDB_API_KEY_FILE", str(tmp_path / "missing"))
    config = tmp_path / "ztix.toml"
    config.write_text(
        '[peeringdb]\nbase_url = "ftp://x"\nbatch_size = 151\ntimeout_s = 0\n'
        "max_prefix_floor_v6 = 0\n"
    )
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [
        f"ztix: error: setting PEERINGDB_API_KEY_FILE: cannot read {tmp_path / 'missing'}: "
        "No such file or directory",
        "ztix: error: setting peeringdb.base_url: 'ftp://x' is not an http(s):// URL",
        "ztix: error: setting peeringdb.timeout_s: must be > 0, got 0.0",
        "ztix: error: setting peeringdb.batch_size: must be between 1 and 150, got 151",
        "ztix: error: setting peeringdb.max_prefix_floor_v6: must be >= 1, got 0",
    ]
    assert err[-1] == "ztix: the settings have 5 errors; nothing was started"


def test_a_key_in_the_toml_file_is_refused_with_where_it_belongs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text('[peeringdb]\napi_key = "s3cret"\n')
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert "setting peeringdb.api_key: secrets are read from the environment or a file" in err
    assert "PEERINGDB_API_KEY_FILE" in err
    assert "s3cret" not in err


def test_the_key_comes_from_the_environment_or_its_file_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api_key(load_settings(None)) is None  # anonymous
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    monkeypatch.setenv("PEERINGDB_API_KEY_FILE", str(key_file))
    assert api_key(load_settings(None)) == "from-file"
    monkeypatch.setenv("PEERINGDB_API_KEY", "from-env")
    assert main(["settings"], plugins=_plugins()) == 2  # both set: the core refuses
    assert "set PEERINGDB_API_KEY or PEERINGDB_API_KEY_FILE, not both" in (capsys.readouterr().err)
    monkeypatch.delenv("PEERINGDB_API_KEY_FILE")
    assert api_key(load_settings(None)) == "from-env"
    assert main(["settings"], plugins=_plugins()) == 0
    out = capsys.readouterr().out
    assert "from-env" not in out and "from-file" not in out


def test_defaults_and_the_max_prefix_rule(tmp_path: Path) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text("[peeringdb]\nmax_prefix_headroom_percent = 20\nmax_prefix_floor_v4 = 50\n")
    section = peeringdb_settings(load_settings(config))
    assert section.batch_size == 150
    assert section.base_url == "https://www.peeringdb.com/api"
    rule = section.max_prefix
    assert rule == MaxPrefixRule(20, 50, 10)
    assert rule.limit(1000, 4) == 1200
    assert rule.limit(11, 6) == 14  # 13.2 rounds up
    assert rule.limit(3, 4) == 50  # the floor
    assert rule.limit(3, 6) == 10
    assert rule.limit(None, 4) is None
    assert rule.limit(0, 6) is None
