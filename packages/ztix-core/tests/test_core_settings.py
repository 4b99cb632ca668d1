"""Settings: TOML + environment, errors that name the setting, secrets only from env/files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import attrs
import pytest

from ztix_core.errors import SettingsError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.settings import (
    SettingsErrors,
    data_dir,
    load_settings,
    read_settings,
    structure,
)
from ztix_core.values import Asn

TOML = """
database_url = "postgresql+psycopg://db/ztix"
zt_provider = "central"
approval_policy = "policy_auto"

[provisioning]
ipv6_scheme = "asn_embedded"
default_max_prefix_v4 = 200

[auto_policy]
allow_ranges = [[64512, 64520]]
deny_asns = [666]
max_per_hour = 3

[[networks]]
id = "0123456789ABCDEF"
name = "Peering LAN"
ipv4_prefix = "10.0.0.0/24"
ipv6_prefix = "fd00::/64"

[bird]
anything = "kept for the adapter"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ztix.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    s = load_settings(None, {"HOME": "/home/op"})
    assert s.database_url == "sqlite:////home/op/.local/share/ztix/ztix.db"
    assert s.redis_url is None
    assert s.zt_provider == "self_hosted_controller" and s.approval_policy == "manual_admin"


def test_file_then_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, TOML)
    s = load_settings(
        path,
        {
            "ZT_PROVIDER": "self_hosted_controller",
            "REDIS_URL": "redis://r",
            "ZT_CONTROLLER_REQUIRED_NETWORK_IDS": "abcdef, 0123456789abcdef",
            "ZT_CONTROLLER_BACKUP_RETENTION_COUNT": "3",
            "ZT_CONTROLLER_AUTH_TOKEN": "s3cret",
        },
    )
    assert s.database_url == "postgresql+psycopg://db/ztix"
    assert s.zt_provider == "self_hosted_controller" and s.redis_url == "redis://r"
    assert s.zt_controller_required_network_ids == ("abcdef", "0123456789abcdef")
    assert s.zt_controller_backup_retention_count == 3
    assert s.provisioning.ipv6_scheme is Ipv6Scheme.ASN_EMBEDDED
    assert s.provisioning.default_max_prefix_v4 == 200
    assert s.auto_policy.allow_ranges == ((64512, 64520),)
    assert s.auto_policy.deny_asns == frozenset({666})
    assert s.networks[0].id.value == "0123456789abcdef"
    assert s.sections["bird"] == {"anything": "kept for the adapter"}
    assert "s3cret" not in repr(s)


def test_token_from_file(tmp_path: Path) -> None:
    token = tmp_path / "authtoken.secret"
    token.write_text("tok\n")
    s = load_settings(None, {"ZT_CONTROLLER_AUTH_TOKEN_FILE": str(token)})
    assert s.zt_controller_auth_token == "tok"
    with pytest.raises(SettingsError) as info:
        load_settings(None, {"ZT_CONTROLLER_AUTH_TOKEN_FILE": str(tmp_path / "missing")})
    assert info.value.setting == "ZT_CONTROLLER_AUTH_TOKEN_FILE"


def test_urls_and_secrets_from_files_as_container_secrets(tmp_path: Path) -> None:
    url = tmp_path / "database_url"
    url.write_text("postgresql+psycopg://ztix:pw@db/ztix\n")
    key = tmp_path / "pdb"
    key.write_text("k3y")
    s = load_settings(None, {"DATABASE_URL_FILE": str(url), "PEERINGDB_API_KEY_FILE": str(key)})
    assert s.database_url == "postgresql+psycopg://ztix:pw@db/ztix"
    assert s.peeringdb_api_key == "k3y"
    with pytest.raises(SettingsError) as both:
        load_settings(None, {"REDIS_URL_FILE": str(url), "REDIS_URL": "redis://x"})
    assert both.value.setting == "REDIS_URL_FILE" and "not both" in str(both.value)
    with pytest.raises(SettingsError) as missing:
        load_settings(None, {"DATABASE_URL_FILE": str(tmp_path / "nope")})
    assert missing.value.setting == "DATABASE_URL_FILE" and "cannot read" in str(missing.value)
    # only settings that may carry a secret can come from a file
    assert load_settings(None, {"ZT_PROVIDER_FILE": str(key)}).zt_provider == (
        "self_hosted_controller"
    )


@pytest.mark.parametrize(
    ("text", "env", "setting"),
    [
        (
            "",
            {"ZT_CONTROLLER_BACKUP_RETENTION_COUNT": "many"},
            "ZT_CONTROLLER_BACKUP_RETENTION_COUNT",
        ),
        ('zt_controller_auth_token = "leak"', {}, "zt_controller_auth_token"),
        ("unknown_thing = 1", {}, "unknown_thing"),
        (
            '[[networks]]\nid = "xyz"\nname = "n"\nipv4_prefix = "10.0.0.0/24"\n'
            'ipv6_prefix = "fd00::/64"',
            {},
            "networks",
        ),
        (
            '[[networks]]\nid = "0123456789abcdef"\nname = "n"\nipv4_prefix = "10.0.0.1/24"\n'
            'ipv6_prefix = "fd00::/64"',
            {},
            "networks",
        ),
        ('[provisioning]\nipv6_scheme = "random"', {}, "provisioning"),
        ("this is not toml", {}, "ZTIX_CONFIG"),
    ],
)
def test_bad_settings_name_the_setting(
    tmp_path: Path, text: str, env: dict[str, str], setting: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(_write(tmp_path, text), env)
    assert info.value.setting.startswith(setting), info.value


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(None, {"ZTIX_CONFIG": str(tmp_path / "nope.toml")})
    assert info.value.setting == "ZTIX_CONFIG"


# --------------------------------------------------------------------------- data directory


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOME": "/home/op"}, "/home/op/.local/share/ztix/ztix.db"),
        ({"HOME": "/home/op", "XDG_DATA_HOME": "/srv/data"}, "/srv/data/ztix/ztix.db"),
        # A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        ({"HOME": "/home/op", "XDG_DATA_HOME": "data"}, "/home/op/.local/share/ztix/ztix.db"),
        ({"ZTIX_DATA_DIR": "/var/lib/ztix", "XDG_DATA_HOME": "/x"}, "/var/lib/ztix/ztix.db"),
        ({"ZTIX_DATA_DIR": "/var/lib/ztix", "DATABASE_URL": "sqlite:////d/z.db"}, "/d/z.db"),
    ],
)
def test_the_default_database_is_absolute_whatever_the_working_directory(
    env: dict[str, str], expected: str
) -> None:
    assert load_settings(None, env).database_url == f"sqlite:///{expected}"
    assert data_dir(env).is_absolute()


def test_a_relative_data_dir_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(None, {"ZTIX_DATA_DIR": "data"})
    assert info.value.setting == "ZTIX_DATA_DIR" and "absolute" in str(info.value)


# --------------------------------------------------------------------------- every error


@attrs.frozen
class _Server:
    name: str
    asn: Asn
    router_id: ipaddress.IPv4Address


@attrs.frozen
class _Section:
    servers: tuple[_Server, ...] = ()


def test_a_missing_key_in_an_array_of_tables_is_named_by_its_path() -> None:
    raw = {"servers": [{"name": "rs1", "router_id": "10.0.0.1"}]}
    with pytest.raises(SettingsError) as info:
        structure(raw, _Section, prefix="bird")
    assert info.value.setting == "bird.servers[0].asn"
    assert "missing" in str(info.value) and "KeyError" not in str(info.value)


def test_every_bad_key_of_a_section_is_reported() -> None:
    raw = {
        "servers": [
            {"name": "rs1", "router_id": "10.0.0.1"},
            {"name": "rs2", "asn": "x", "router_id": "zz", "bogus": 1},
        ]
    }
    with pytest.raises(SettingsErrors) as info:
        structure(raw, _Section, prefix="bird")
    assert [e.setting for e in info.value.errors] == [
        "bird.servers[0].asn",
        "bird.servers[1].asn",
        "bird.servers[1].router_id",
        "bird.servers[1]",
    ]
    assert "'x' is not an AS number" in str(info.value)
    assert "unknown key(s): bogus" in str(info.value)


def test_every_bad_core_setting_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'databse_url = "sqlite:////x.db"\nzt_controller_auth_token = "leak"\n'
        '[provisioning]\nipv6_scheme = "random"\n',
    )
    env = {"ZT_CONTROLLER_BACKUP_RETENTION_COUNT": "many", "ZTIX_ALLOW_DOCUMENTATION_ASNS": "?"}
    with pytest.raises(SettingsErrors) as info:
        load_settings(path, env)
    settings = {e.setting for e in info.value.errors}
    assert settings == {
        "databse_url",
        "zt_controller_auth_token",
        "provisioning.ipv6_scheme",
        "ZT_CONTROLLER_BACKUP_RETENTION_COUNT",
        "ZTIX_ALLOW_DOCUMENTATION_ASNS",
    }
    assert "did you mean `database_url`?" in str(info.value)
    # read_settings keeps what is valid, so the plugins can still be checked.
    partial, errors = read_settings(path, {**env, "ZT_PROVIDER": "central"})
    assert len(errors) == 5 and partial.zt_provider == "central"


def test_require_admin_totp_from_file_or_environment(tmp_path: Path) -> None:
    assert load_settings(None, {}).require_admin_totp is False
    path = _write(tmp_path, "require_admin_totp = true\n")
    assert load_settings(path, {}).require_admin_totp is True
    assert load_settings(path, {"ZTIX_REQUIRE_ADMIN_TOTP": "off"}).require_admin_totp is False
    assert load_settings(None, {"ZTIX_REQUIRE_ADMIN_TOTP": "1"}).require_admin_totp is True
    with pytest.raises(SettingsError, match="ZTIX_REQUIRE_ADMIN_TOTP: 'maybe' is not a boolean"):
        load_settings(None, {"ZTIX_REQUIRE_ADMIN_TOTP": "maybe"})
