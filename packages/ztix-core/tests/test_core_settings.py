"""Settings: TOML + environment, errors that name the setting, secrets only from env/files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ztix_core.errors import SettingsError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.settings import load_settings

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
    s = load_settings(None, {})
    assert s.database_url == "sqlite:///ztix.db" and s.redis_url is None
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
