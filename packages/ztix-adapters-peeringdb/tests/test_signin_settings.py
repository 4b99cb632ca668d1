"""``ztix settings`` checks ``[peeringdb_login]`` and the client secret as the web app
would at start-up, every problem at once; the secret never comes from the TOML file; the
web app refuses to start with the local form off and no other way in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_peeringdb.plugin import make_web_extension
from ztix_adapters_peeringdb.testing import isolate_settings_env, plugins_with_memory_provider
from ztix_core.cli import main
from ztix_core.errors import SettingsError
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings, load_settings
from ztix_web.app import app_from_settings


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    isolate_settings_env(monkeypatch, tmp_path / "data")
    yield
    assert not (tmp_path / "data").exists()


def _plugins() -> Plugins:
    plugins: Plugins = plugins_with_memory_provider()
    return plugins


def test_every_bad_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(
        '[peeringdb_login]\nclient_id = "ztix"\nbase_url = "https://auth.example/oauth2"\n'
        'redirect_url = "https://ix.example/elsewhere"\nstate_ttl_s = 5\ntimeout_s = 0\n'
    )
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [
        "ztix: error: setting peeringdb_login.base_url: 'https://auth.example/oauth2' must be "
        "http(s)://host[:port] (no path, query or credentials)",
        "ztix: error: setting peeringdb_login.redirect_url: 'https://ix.example/elsewhere' "
        "must be an http(s) URL ending in /login/peeringdb/callback",
        "ztix: error: setting peeringdb_login.timeout_s: must be > 0, got 0.0",
        "ztix: error: setting peeringdb_login.state_ttl_s: must be 30 to 3600, got 5",
    ]


def test_a_client_id_needs_the_secret_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text('[peeringdb_login]\nclient_id = "ztix"\n')
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    assert (
        "setting PEERINGDB_CLIENT_SECRET: required when peeringdb_login.client_id is set"
        in capsys.readouterr().err
    )
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("PEERINGDB_CLIENT_SECRET_FILE", str(secret))
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 0
    assert "s3cret" not in capsys.readouterr().out
    extension = make_web_extension(load_settings(config))
    assert extension is not None
    assert [b.href for b in extension.sign_in_buttons()] == ["/login/peeringdb"]


def test_a_secret_in_the_config_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text('[peeringdb_login]\nclient_id = "ztix"\nclient_secret = "oops"\n')
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    assert "setting peeringdb_login.client_secret: secrets are read from the environment" in (
        capsys.readouterr().err
    )


def test_without_a_client_id_the_sign_in_is_off() -> None:
    assert make_web_extension(Settings()) is None


def test_local_login_off_needs_another_way_in() -> None:
    settings = Settings(storage="memory", sections={"web": {"local_login": False}})
    with pytest.raises(SettingsError, match=r"web\.local_login"):
        app_from_settings(settings, _plugins())
    on = Settings(
        storage="memory",
        peeringdb_client_secret="s",
        sections={"web": {"local_login": False}, "peeringdb_login": {"client_id": "ztix"}},
    )
    assert app_from_settings(on, _plugins()) is not None


def test_ztix_web_check_names_the_ways_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text("[web]\nlocal_login = false\n")
    assert main(["--config", str(config), "web", "--check"], plugins=_plugins()) == 2
    assert "setting web.local_login: is false, but no other sign-in method" in (
        capsys.readouterr().err
    )
    config.write_text('[peeringdb_login]\nclient_id = "ztix"\n')
    monkeypatch.setenv("PEERINGDB_CLIENT_SECRET", "s3cret")
    assert main(["--config", str(config), "web", "--check"], plugins=_plugins()) == 0
    out = capsys.readouterr().out
    assert "sign-in: local form, Sign in with PeeringDB" in out and "s3cret" not in out
