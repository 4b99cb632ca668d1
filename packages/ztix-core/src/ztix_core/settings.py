"""One settings model: a TOML file plus environment overrides, structured by cattrs.

Environment names: the established ``ZT_*``, ``DATABASE_URL`` and ``REDIS_URL`` where they
exist, ``ZTIX_<FIELD>`` otherwise. Secrets come only from the environment or files: a
secret in the TOML file is refused. A missing or bad value raises SettingsError naming it
(:class:`SettingsErrors` when several are bad: it lists every one).
Plugin sections (any other TOML table) are kept raw and structured on demand by
:meth:`Settings.section`; :func:`ztix_core.settings_check.check_settings` checks them against
the installed plugins.

The default database is ``sqlite:///<data dir>/ztix.db``: the data directory is
``$ZTIX_DATA_DIR`` (absolute), else ``$XDG_DATA_HOME/ztix``, else ``~/.local/share/ztix``,
so every command finds the same database whatever its working directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

from ztix_core.errors import InvalidValue, SettingsError, ZtixError
from ztix_core.ipam import Ipv6Scheme
from ztix_core.policies.auto import AutoPolicySettings
from ztix_core.usecases.provisioning import ProvisioningSettings
from ztix_core.values import Asn, NetworkId, NodeId, ipv4_prefix, ipv6_prefix

T = TypeVar("T")
CONFIG_ENV = "ZTIX_CONFIG"
DATA_DIR_ENV = "ZTIX_DATA_DIR"


class SettingsErrors(SettingsError):
    """Several settings are bad at once. ``errors`` holds each one; ``setting`` names the
    first, and the message joins them all on one line."""

    def __init__(self, errors: Sequence[SettingsError]) -> None:
        flat = [leaf for error in errors for leaf in settings_errors(error)]
        ZtixError.__init__(self, "; ".join(str(e) for e in flat), setting=flat[0].setting)
        self.setting = flat[0].setting
        self.errors = tuple(flat)


def settings_errors(error: SettingsError) -> list[SettingsError]:
    """Every single error inside ``error`` (itself unless it is a :class:`SettingsErrors`)."""
    return list(error.errors) if isinstance(error, SettingsErrors) else [error]


def _raise_all(errors: Sequence[SettingsError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SettingsErrors(errors)


def gather_errors(*checks: Callable[[], object]) -> None:
    """Run every check; raise every SettingsError they raised (for a plugin's ``validate``
    that wants to report all its problems, not just the first)."""
    errors: list[SettingsError] = []
    for check in checks:
        try:
            check()
        except SettingsError as exc:
            errors.extend(settings_errors(exc))
    _raise_all(errors)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ztix keeps its files by default: ``$ZTIX_DATA_DIR``, else
    ``$XDG_DATA_HOME/ztix``, else ``~/.local/share/ztix``. Always absolute."""
    env = os.environ if environ is None else environ
    explicit = env.get(DATA_DIR_ENV, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            raise SettingsError(DATA_DIR_ENV, f"{explicit!r} must be an absolute path")
        return path
    xdg = env.get("XDG_DATA_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg) / "ztix"
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".local" / "share" / "ztix"


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    """``sqlite:///<data dir>/ztix.db`` (see :func:`data_dir`)."""
    return f"sqlite:///{data_dir(environ) / 'ztix.db'}"


@attrs.frozen
class NetworkSettings:
    """An exchange network as configured: id, name and its peering prefixes."""

    #: The ZeroTier network id (16 hex digits: the controller's address and a 6-digit number).
    id: NetworkId
    #: The network's name, shown to members and in the controller.
    name: str
    #: The IPv4 peering LAN; members get fixed addresses from it.
    ipv4_prefix: ipaddress.IPv4Network
    #: The IPv6 peering LAN; members get fixed addresses from it.
    ipv6_prefix: ipaddress.IPv6Network
    #: Free text shown to members choosing a network.
    description: str = ""


def _secret(env: str, *, file_env: bool = True) -> Any:
    """A secret: from ``env`` or (``file_env``) the file named by ``<env>_FILE``, never the
    config file."""
    return attrs.field(
        default=None, repr=False, metadata={"env": env, "secret": True, "file_env": file_env}
    )


def _env(env: str, default: Any, *, file_env: bool = False) -> Any:
    """From ``env``; with ``file_env``, also from the file named by ``<env>_FILE`` (for
    values that carry a password, such as a database URL, kept as container secrets)."""
    return attrs.field(default=default, metadata={"env": env, "file_env": file_env})


@attrs.frozen
class Settings:
    """Every setting ztix reads. Adapters read their own sections via :meth:`section`."""

    #: The database (SQLAlchemy URL): ``postgresql+psycopg://user@host/db`` in production,
    #: SQLite for one host. Default: ``ztix.db`` in the data directory (``$ZTIX_DATA_DIR``,
    #: else ``$XDG_DATA_HOME/ztix``, else ``~/.local/share/ztix``).
    database_url: str = attrs.field(
        factory=default_database_url,
        metadata={
            "env": "DATABASE_URL",
            "file_env": True,
            "default_doc": "`sqlite:///<data dir>/ztix.db`",
        },
    )
    #: Redis for the worker's queue, locks and leases (``redis://host:6379/0``); needed by
    #: ``ztix worker``, not by the embedded demo worker.
    redis_url: str | None = _env("REDIS_URL", None, file_env=True)
    #: The storage plugin (``ztix plugins`` lists them): ``sql`` (SQLite or PostgreSQL) or
    #: ``memory`` (tests).
    storage: str = _env("ZTIX_STORAGE", "sql")
    #: How members are authorized on ZeroTier: ``self_hosted_controller`` (your zerotier-one),
    #: ``central`` (ZeroTier Central's API) or ``memory`` (tests).
    zt_provider: str = _env("ZT_PROVIDER", "self_hosted_controller")
    #: The self-hosted controller's local API, e.g. ``http://127.0.0.1:9993``.
    zt_controller_base_url: str | None = _env("ZT_CONTROLLER_BASE_URL", None)
    #: The controller's API token (its ``authtoken.secret``); prefer
    #: ``zt_controller_auth_token_file``.
    zt_controller_auth_token: str | None = _secret(
        # its file is a setting of its own (zt_controller_auth_token_file): the file wins,
        # with a warning, and a token reload re-reads it
        "ZT_CONTROLLER_AUTH_TOKEN",
        file_env=False,
    )
    #: A file holding the controller's token (usually the controller's own
    #: ``authtoken.secret``); it wins over the variable, with a warning, and the worker re-reads
    #: it on SIGHUP.
    zt_controller_auth_token_file: str | None = _env("ZT_CONTROLLER_AUTH_TOKEN_FILE", None)
    #: ZeroTier Central's API root (with ``zt_provider = "central"``).
    zt_central_base_url: str = _env("ZT_CENTRAL_BASE_URL", "https://api.zerotier.com/api/v1")
    #: ZeroTier Central's API token (with ``zt_provider = "central"``).
    zt_central_api_token: str | None = _secret("ZT_CENTRAL_API_TOKEN")
    #: Networks the controller must serve before the worker provisions anything (the readiness
    #: gate); default: the configured ``[[networks]]``.
    zt_controller_required_network_ids: tuple[str, ...] = _env(
        "ZT_CONTROLLER_REQUIRED_NETWORK_IDS", ()
    )
    #: The controller's home directory (identity, ``controller.d``), for backups, drills and
    #: restores.
    zt_controller_home: str | None = _env("ZT_CONTROLLER_HOME", None)
    #: Where ``ztix controller backup`` writes its archives.
    zt_controller_backup_dir: str | None = _env("ZT_CONTROLLER_BACKUP_DIR", None)
    #: How many backup archives are kept; older ones are deleted after a successful backup.
    zt_controller_backup_retention_count: int = _env("ZT_CONTROLLER_BACKUP_RETENTION_COUNT", 7)
    #: A PeeringDB API key for the registry lookups (higher rate limits; optional).
    peeringdb_api_key: str | None = _secret("PEERINGDB_API_KEY")
    #: The OAuth client secret of Sign in with PeeringDB (client id: ``[peeringdb_login]``).
    peeringdb_client_secret: str | None = _secret("PEERINGDB_CLIENT_SECRET")
    #: Who approves join requests: ``manual_admin`` (an admin decides) or ``policy_auto``
    #: (approved at once when every guardrail of ``[auto_policy]`` holds; otherwise an admin
    #: decides).
    approval_policy: str = _env("ZTIX_APPROVAL_POLICY", "manual_admin")
    #: Admit RFC 5398 documentation ASNs as members (labs and demos; never production).
    allow_documentation_asns: bool = _env("ZTIX_ALLOW_DOCUMENTATION_ASNS", False)
    #: The route servers: ``bird`` (BIRD 2 over SSH or locally, ``[bird]``) or ``none``
    #: (bilateral-only exchange).
    route_server_fleet: str = _env("ZTIX_ROUTE_SERVER_FLEET", "bird")
    #: Where facts about a member's network come from: ``peeringdb`` (``[peeringdb]``) or
    #: ``memory`` (none; defaults apply).
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


def _child_path(prefix: str, sub: BaseException) -> str:
    """The path of a cattrs sub-error: ``prefix.attribute`` or ``prefix[index]``."""
    for note in getattr(sub, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return ".".join(p for p in (prefix, note.name) if p)
        if isinstance(note, IterableValidationNote):
            return f"{prefix}[{note.index}]"
    return prefix


def _is_missing_key(sub: BaseException) -> bool:
    """cattrs reports a missing required key as the bare KeyError of the key lookup."""
    names = {
        n.name for n in getattr(sub, "__notes__", ()) if isinstance(n, AttributeValidationNote)
    }
    return isinstance(sub, KeyError) and bool(sub.args) and sub.args[0] in names


def _describe(exc: BaseException, prefix: str) -> list[SettingsError]:
    """Every bad key in a cattrs error tree, each a SettingsError naming its full path
    (``bird.servers[0].asn``)."""
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(exc.extra_fields))
        return [SettingsError(prefix or "settings", f"unknown key(s): {keys}")]
    if isinstance(exc, ExceptionGroup):  # ClassValidationError, IterableValidationError
        out: list[SettingsError] = []
        for sub in exc.exceptions:
            path = _child_path(prefix, sub)
            if _is_missing_key(sub):
                out.append(SettingsError(path, "missing (this key is required)"))
            else:
                out.extend(_describe(sub, path))
        return out
    if isinstance(exc, InvalidValue):
        message = exc.message.removeprefix(f"{exc.field}: ")
        return [SettingsError(prefix or exc.field, message)]
    if isinstance(exc, SettingsError):
        return settings_errors(exc)
    return [SettingsError(prefix or "settings", str(exc) or type(exc).__name__)]


def structure(raw: Any, kind: type[T], prefix: str = "") -> T:
    """Structure ``raw`` into ``kind`` or raise SettingsError naming the bad setting
    (:class:`SettingsErrors` naming each when several are bad)."""
    try:
        return converter.structure(raw, kind)
    except Exception as exc:
        errors = _describe(exc, prefix)
        _raise_all(errors)
        raise SettingsError(prefix or "settings", str(exc)) from None  # pragma: no cover


def did_you_mean(name: str, candidates: Iterable[str], template: str = "{}") -> str:
    """`` (did you mean `x`?)`` for the closest candidate (shown through ``template``),
    or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean `{template.format(close[0])}`?)" if close else ""


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


def read_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Settings, list[SettingsError]]:
    """The settings as far as they are valid (a bad value falls back to its default) and
    every error found. A missing or unparseable config file raises SettingsError at once.
    Tokens are not read from their files here: :func:`load_settings` does that."""
    env = os.environ if environ is None else environ
    path = path or env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(CONFIG_ENV, f"config file {path} does not exist") from None
        except OSError as exc:
            raise SettingsError(CONFIG_ENV, f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(CONFIG_ENV, f"{path} is not valid TOML: {exc}") from None
    errors: list[SettingsError] = []
    fields = {f.name: f for f in attrs.fields(Settings) if f.name != "sections"}
    known = {k: v for k, v in data.items() if k in fields}
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name in fields:
            continue
        if isinstance(value, dict):
            sections[name] = value
        else:
            errors.append(SettingsError(name, "unknown setting" + did_you_mean(name, fields)))
    for name in list(known):
        if fields[name].metadata.get("secret"):
            errors.append(
                SettingsError(
                    name, "secrets are read from the environment or a file, not the config file"
                )
            )
            del known[name]
    for name, field in fields.items():
        env_name = field.metadata.get("env")
        if not env_name:
            continue
        raw: str | None = env.get(env_name)
        file_name = f"{env_name}_FILE"
        if field.metadata.get("file_env") and env.get(file_name):
            if raw is not None:
                errors.append(SettingsError(file_name, f"set {env_name} or {file_name}, not both"))
                known.pop(name, None)
                continue
            try:
                raw = Path(env[file_name]).read_text().strip()
            except OSError as exc:
                errors.append(
                    SettingsError(file_name, f"cannot read {env[file_name]}: {exc.strerror}")
                )
                known.pop(name, None)
                continue
        if raw is not None:
            try:
                known[name] = _from_env(raw, field)
            except SettingsError as exc:
                errors.append(exc)
                known.pop(name, None)
    if "database_url" not in known:
        try:
            known["database_url"] = default_database_url(env)
        except SettingsError as exc:
            errors.append(exc)
    try:
        settings = structure(known, Settings)
    except SettingsError as exc:
        errors.extend(settings_errors(exc))
        settings = structure({k: v for k, v in known.items() if _valid(k, v)}, Settings)
    return attrs.evolve(settings, sections=sections), errors


def _valid(name: str, value: Any) -> bool:
    try:
        structure({name: value}, Settings)
    except SettingsError:
        return False
    return True


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (``path``, else ``$ZTIX_CONFIG``, else none) and apply environment
    overrides. Raises SettingsError naming the bad or missing setting (SettingsErrors
    naming each, when several are bad)."""
    env = os.environ if environ is None else environ
    settings, errors = read_settings(path, env)
    _raise_all(errors)
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
