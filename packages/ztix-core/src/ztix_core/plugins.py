"""Plugin loading and the typed registry over pluggy.

No plugin manager exists at import time: composition roots and tests call
:func:`build_plugin_manager`, tests may register fakes directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from ztix_core import hookspecs
from ztix_core.errors import PluginError

ENTRY_POINT_GROUP = "ztix"
DISABLED_ENV = "ZTIX_DISABLED_PLUGINS"

#: Modules registered on every manager, in order (their plugin name is the module name).
BUILTIN_PLUGINS: tuple[str, ...] = ("ztix_core.builtin",)


@attrs.frozen
class Registration:
    """What a hook returns: a named thing and how to build it."""

    name: str
    factory: Callable[..., Any]
    settings_type: type | None = None
    description: str = ""


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
