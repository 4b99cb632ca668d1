"""Plugin loading and the typed registry over pluggy.

No plugin manager exists at import time: composition roots and tests call
:func:`build_plugin_manager`, tests may register fakes directly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from ztix_core import hookspecs
from ztix_core.errors import PluginError

if TYPE_CHECKING:
    from ztix_core.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ztix"
DISABLED_ENV = "ZTIX_DISABLED_PLUGINS"

#: Modules registered on every manager, in order (their plugin name is the module name).
BUILTIN_PLUGINS: tuple[str, ...] = ("ztix_core.builtin",)


#: The plugins a setting selects: (Plugins method, Settings attribute, setting name).
SELECTED_KINDS: tuple[tuple[str, str, str], ...] = (
    ("storage_backends", "storage", "ZTIX_STORAGE"),
    ("membership_providers", "zt_provider", "ZT_PROVIDER"),
    ("route_server_fleets", "route_server_fleet", "ZTIX_ROUTE_SERVER_FLEET"),
    ("approval_policies", "approval_policy", "ZTIX_APPROVAL_POLICY"),
    ("network_registries", "network_registry", "ZTIX_NETWORK_REGISTRY"),
)


@attrs.frozen
class Registration:
    """What a hook returns: a named thing and how to build it.

    The keyword-only fields are optional:

    * ``section``: the TOML table this plugin reads (structured with ``settings_type``).
      Declaring it makes the table known: ``ztix settings`` refuses tables no installed
      plugin declares.
    * ``validate(settings)``: raises SettingsError for every setting the plugin would refuse
      when in use (when selected; for a command, always). It must not touch the network
      or leave anything behind; ``ztix settings`` calls it.
    * ``router_configs(settings)``: route-server fleets only: builds the
      :class:`~ztix_core.ports.RouterConfigs` that writes members' router snippets, from
      the settings alone (no connection, no secret read: the web process calls it).
    * ``ready(settings)``: raises NotReady (with a remediation) when something outside ztix
      that the plugin needs is not usable yet. For a storage backend: the schema is not at
      the version this code needs; long-running commands call it before starting.
    """

    name: str
    factory: Callable[..., Any]
    settings_type: type | None = None
    description: str = ""
    section: str = attrs.field(default="", kw_only=True)
    validate: Callable[[Settings], object] | None = attrs.field(default=None, kw_only=True)
    ready: Callable[[Settings], object] | None = attrs.field(default=None, kw_only=True)
    router_configs: Callable[[Settings], Any] | None = attrs.field(default=None, kw_only=True)


def disabled_from_env(environ: Mapping[str, str] | None = None) -> set[str]:
    """Plugin names listed (comma-separated) in ``ZTIX_DISABLED_PLUGINS``."""
    raw = (environ if environ is not None else os.environ).get(DISABLED_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def build_plugin_manager(
    *,
    load_entry_points: bool = True,
    disabled: Iterable[str] | None = None,
    extra: Iterable[object] = (),
    builtins: Iterable[str] = BUILTIN_PLUGINS,
) -> pluggy.PluginManager:
    """A manager with the hookspecs, the built-ins, entry-point plugins and ``extra``.

    ``disabled`` (default: from ``ZTIX_DISABLED_PLUGINS``) blocks plugins by name: built-in
    module names, entry-point names or the names of ``extra`` objects.
    """
    import importlib

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(disabled) if disabled is not None else disabled_from_env()
    for name in blocked:
        pm.set_blocked(name)
    for module_name in builtins:
        if module_name not in blocked:
            pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for obj in extra:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        if name not in blocked:
            pm.register(obj, name=name)
    pm.check_pending()
    return pm


class Plugins:
    """Typed access to the hooks: each method returns name → Registration and refuses
    duplicate names, saying which plugins clash."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def _collect(self, hook_name: str) -> dict[str, Registration]:
        hook = getattr(self.pm.hook, hook_name)
        found: dict[str, tuple[str, Registration]] = {}
        for impl in hook.get_hookimpls():
            for reg in impl.function() or []:
                if not isinstance(reg, Registration):
                    raise PluginError(
                        f"plugin {impl.plugin_name} returned {type(reg).__name__} from "
                        f"{hook_name}, expected Registration"
                    )
                if reg.name in found:
                    raise PluginError(
                        f"{hook_name}: the name {reg.name!r} is registered by both "
                        f"{found[reg.name][0]} and {impl.plugin_name}",
                        name=reg.name,
                    )
                found[reg.name] = (impl.plugin_name, reg)
        return {name: reg for name, (_, reg) in sorted(found.items())}

    def storage_backends(self) -> dict[str, Registration]:
        return self._collect("ztix_storage_backends")

    def membership_providers(self) -> dict[str, Registration]:
        return self._collect("ztix_membership_providers")

    def route_server_fleets(self) -> dict[str, Registration]:
        return self._collect("ztix_route_server_fleets")

    def approval_policies(self) -> dict[str, Registration]:
        return self._collect("ztix_approval_policies")

    def network_registries(self) -> dict[str, Registration]:
        return self._collect("ztix_network_registries")

    def cli_commands(self) -> dict[str, Registration]:
        return self._collect("ztix_cli_commands")

    def web_extensions(self) -> dict[str, Registration]:
        return self._collect("ztix_web_extensions")

    def sections(self) -> dict[str, list[Registration]]:
        """TOML table name → the registrations (of every hook) that declare it."""
        owners: dict[str, list[Registration]] = {}
        for kind in (*(k for k, _, _ in SELECTED_KINDS), "cli_commands", "web_extensions"):
            for reg in getattr(self, kind)().values():
                if reg.section:
                    owners.setdefault(reg.section, []).append(reg)
        return owners

    def storage_ready(self, settings: Settings) -> None:
        """Run the selected storage backend's ``ready`` check: raises NotReady (e.g. the
        database schema is behind) with the remediation. Backends without one (memory)
        are always ready."""
        reg = self.select("storage_backends", settings.storage, "ZTIX_STORAGE")
        if reg.ready is not None:
            reg.ready(settings)

    def explain_error(self, error: BaseException, settings: Settings | None) -> str | None:
        """One line naming the problem and its fix, from the first plugin that recognises
        ``error`` (hook ``ztix_explain_error``), else None. A failing hook is skipped."""
        offered = {"error": error, "settings": settings}
        for impl in reversed(self.pm.hook.ztix_explain_error.get_hookimpls()):
            try:
                text = impl.function(*(offered[name] for name in impl.argnames))
            except Exception:  # an explainer must never hide the error it explains
                log.debug("ztix_explain_error of %s failed", impl.plugin_name, exc_info=True)
                continue
            if text:
                return str(text)
        return None

    def select(self, kind: str, name: str, setting: str) -> Registration:
        """The registration called ``name`` among ``kind``; a SettingsError naming the
        setting (and what is available) when there is none."""
        from ztix_core.errors import SettingsError

        available = getattr(self, kind)()
        if name not in available:
            raise SettingsError(
                setting,
                f"no plugin named {name!r}; available: {', '.join(available) or 'none'}",
            )
        reg: Registration = available[name]
        return reg
