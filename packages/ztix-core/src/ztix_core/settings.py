"""One settings model: a TOML file plus environment overrides, structured by cattrs.

Environment names: the seed's ``ZT_*``, ``DATABASE_URL`` and ``REDIS_URL`` where they
exist, ``ZTIX_<FIELD>`` otherwise. Secrets come only from the environment or files: a
secret in the TOML file is refused. A missing or bad value raises SettingsError naming it.
Plugin sections (any other TOML table) are kept raw and structured on demand by
:meth:`Settings.section`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from ztix_core.errors import InvalidValue, SettingsError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.policies.auto import AutoPolicySettings
from ztix_core.usecases.provisioning import ProvisioningSettings
from ztix_core.values import Asn, NetworkId, NodeId, ipv4_prefix, ipv6_prefix

T = TypeVar("T")
CONFIG_ENV = "ZTIX_CONFIG"


@attrs.frozen
class NetworkSettings:
    """An exchange network as configured: id, name and its peering prefixes."""

    id: NetworkId
    name: str
    ipv4_prefix: ipaddress.IPv4Network
    ipv6_prefix: ipaddress.IPv6Network
    description: str = ""


def _secret(env: str) -> Any:
    return attrs.field(default=None, repr=False, metadata={"env": env, "secret": True})


def _env(env: str, default: Any) -> Any:
    return attrs.field(default=default, metadata={"env": env})


@attrs.frozen
class Settings:
    """Every setting ztix reads. Adapters read their own sections via :meth:`section`."""

    database_url: str = _env("DATABASE_URL", "sqlite:///ztix.db")
    redis_url: str | None = _env("REDIS_URL", None)
    storage: str = _env("ZTIX_STORAGE", "sql")
    zt_provider: str = _env("ZT_PROVIDER", "self_hosted_controller")
    zt_controller_base_url: str | None = _env("ZT_CONTROLLER_BASE_URL", None)
    zt_controller_auth_token: str | None = _secret("ZT_CONTROLLER_AUTH_TOKEN")
    zt_controller_auth_token_file: str | None = _env("ZT_CONTROLLER_AUTH_TOKEN_FILE", None)
    zt_central_base_url: str = _env("ZT_CENTRAL_BASE_URL", "https://api.zerotier.com/api/v1")
    zt_central_api_token: str | None = _secret("ZT_CENTRAL_API_TOKEN")
    zt_controller_required_network_ids: tuple[str, ...] = _env(
        "ZT_CONTROLLER_REQUIRED_NETWORK_IDS", ()
    )
    zt_controller_home: str | None = _env("ZT_CONTROLLER_HOME", None)
    zt_controller_backup_dir: str | None = _env("ZT_CONTROLLER_BACKUP_DIR", None)
    zt_controller_backup_retention_count: int = _env("ZT_CONTROLLER_BACKUP_RETENTION_COUNT", 7)
    peeringdb_api_key: str | None = _secret("PEERINGDB_API_KEY")
    approval_policy: str = _env("ZTIX_APPROVAL_POLICY", "manual_admin")
    #: Admit RFC 5398 documentation ASNs as members (labs and demos; never production).
    allow_documentation_asns: bool = _env("ZTIX_ALLOW_DOCUMENTATION_ASNS", False)
    route_server_fleet: str = _env("ZTIX_ROUTE_SERVER_FLEET", "bird")
    network_registry: str = _env("ZTIX_NETWORK_REGISTRY", "memory")
    networks: tuple[NetworkSettings, ...] = ()
    provisioning: ProvisioningSettings = attrs.field(factory=ProvisioningSettings)
    auto_policy: AutoPolicySettings = attrs.field(factory=AutoPolicySettings)
    sections: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def section(self, name: str, kind: type[T]) -> T:
        """Structure the TOML table ``[name]`` into ``kind``; SettingsError names the key."""
        return structure(self.sections.get(name, {}), kind, prefix=name)

    def secret(self, name: str) -> str | None:
        """A secret setting's value (never logged)."""
        value: str | None = getattr(self, name)
        return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)

    def hook(fn: Any) -> Any:
        return lambda raw, _type: fn(raw)

    conv.register_structure_hook(NetworkId, hook(lambda raw: NetworkId(str(raw))))
    conv.register_structure_hook(NodeId, hook(lambda raw: NodeId(str(raw))))
    conv.register_structure_hook(Asn, hook(Asn.parse))
    conv.register_structure_hook(ipaddress.IPv4Network, hook(ipv4_prefix))
    conv.register_structure_hook(ipaddress.IPv6Network, hook(ipv6_prefix))
    conv.register_structure_hook(
        ipaddress.IPv4Address, hook(lambda raw: ipaddress.IPv4Address(str(raw)))
    )
    conv.register_structure_hook(
        ipaddress.IPv6Address, hook(lambda raw: ipaddress.IPv6Address(str(raw)))
    )
    conv.register_structure_hook(Ipv6Scheme, hook(Ipv6Scheme))
    return conv


converter = _make_converter()


def _describe(exc: BaseException, prefix: str) -> SettingsError:
    """Turn a cattrs error tree into one SettingsError naming the first bad key."""
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(exc.extra_fields))
        return SettingsError(prefix or "settings", f"unknown key(s): {keys}")
    if isinstance(exc, ClassValidationError):
        for sub in exc.exceptions:
            note = next((n for n in getattr(sub, "__notes__", []) if "attribute" in n), "")
            name = getattr(note, "name", None) or (
                note.split("attribute", 1)[1].split()[0].strip("'") if note else ""
            )
            path = ".".join(p for p in (prefix, name) if p)
            return _describe(sub, path)
    if isinstance(exc, ExceptionGroup):
        return _describe(exc.exceptions[0], prefix)
    if isinstance(exc, InvalidValue):
        return SettingsError(prefix or exc.field, exc.message)
    if isinstance(exc, SettingsError):
        return exc
    return SettingsError(prefix or "settings", str(exc) or type(exc).__name__)


def structure(raw: Any, kind: type[T], prefix: str = "") -> T:
    """Structure ``raw`` into ``kind`` or raise SettingsError naming the bad setting."""
    try:
        return converter.structure(raw, kind)
    except Exception as exc:
        raise _describe(exc, prefix) from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _from_env(raw: str, field: attrs.Attribute[Any]) -> Any:
    kind = field.type
    text = raw.strip()
    if kind in (int, "int"):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(field.metadata["env"], f"{raw!r} is not an integer") from None
    if kind in (bool, "bool"):
        if text.lower() not in _TRUE | _FALSE:
            raise SettingsError(field.metadata["env"], f"{raw!r} is not a boolean")
        return text.lower() in _TRUE
    if "tuple" in str(kind):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text or None


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (``path``, else ``$ZTIX_CONFIG``, else none) and apply environment
    overrides. Raises SettingsError naming the bad or missing setting."""
    env = os.environ if environ is None else environ
    path = path or env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(CONFIG_ENV, f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(CONFIG_ENV, f"{path} is not valid TOML: {exc}") from None
    fields = {f.name: f for f in attrs.fields(Settings)}
    known = {k: v for k, v in data.items() if k in fields and k != "sections"}
    sections = {k: v for k, v in data.items() if k not in fields}
    for name, value in sections.items():
        if not isinstance(value, dict):
            raise SettingsError(name, "unknown setting (plugin sections must be tables)")
    for name in known:
        if fields[name].metadata.get("secret"):
            raise SettingsError(
                name, "secrets are read from the environment or a file, not the config file"
            )
    for name, field in fields.items():
        env_name = field.metadata.get("env")
        if env_name and env_name in env:
            known[name] = _from_env(env[env_name], field)
    settings = structure(known, Settings)
    settings = attrs.evolve(settings, sections=sections)
    # One precedence, also used by a token reload: the file wins over the environment
    # variable (the file is what rotation rewrites; a running process's environment
    # cannot change). Both set and different: warn, never say which value.
    token_file = settings.zt_controller_auth_token_file
    if token_file:
        try:
            token = Path(token_file).read_text().strip() or None
        except OSError as exc:
            raise SettingsError(
                "ZT_CONTROLLER_AUTH_TOKEN_FILE", f"cannot read {token_file}: {exc.strerror}"
            ) from None
        env_token = settings.zt_controller_auth_token
        if env_token is not None and env_token.strip() != token:
            logging.getLogger(__name__).warning(
                "ZT_CONTROLLER_AUTH_TOKEN and ZT_CONTROLLER_AUTH_TOKEN_FILE are both set and "
                "differ; using the file (unset one of them)"
            )
        settings = attrs.evolve(settings, zt_controller_auth_token=token)
    return settings
