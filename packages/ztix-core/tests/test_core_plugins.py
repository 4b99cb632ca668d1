"""Plugin registry: built-ins, fakes registered directly, duplicates refused, blocking."""

from __future__ import annotations

import types

import pytest

from ztix_core import hookspecs
from ztix_core.errors import PluginError, SettingsError
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Plugins, Registration, build_plugin_manager, disabled_from_env


def _plugin(name: str, *policies: str) -> types.SimpleNamespace:
    @hookimpl
    def ztix_approval_policies() -> list[Registration]:
        return [Registration(p, lambda s: None) for p in policies]

    return types.SimpleNamespace(__name__=name, ztix_approval_policies=ztix_approval_policies)


def test_builtins_are_registered_without_entry_points() -> None:
    plugins = Plugins(build_plugin_manager(load_entry_points=False, disabled=()))
    assert list(plugins.approval_policies()) == ["manual_admin", "policy_auto"]
    assert list(plugins.storage_backends()) == ["memory"]
    assert {"plugins", "settings"} <= set(plugins.cli_commands())


def test_fakes_can_be_registered_directly() -> None:
    pm = build_plugin_manager(
        load_entry_points=False, disabled=(), extra=[_plugin("fake", "fake_policy")]
    )
    assert "fake_policy" in Plugins(pm).approval_policies()


def test_duplicate_names_are_refused_naming_both_plugins() -> None:
    pm = build_plugin_manager(
        load_entry_points=False, disabled=(), extra=[_plugin("intruder", "manual_admin")]
    )
    with pytest.raises(PluginError) as info:
        Plugins(pm).approval_policies()
    assert "manual_admin" in str(info.value)
    assert "intruder" in str(info.value) and "ztix_core.builtin" in str(info.value)


def test_a_hook_returning_the_wrong_type_is_refused() -> None:
    @hookimpl
    def ztix_approval_policies() -> list[object]:
        return ["not a registration"]

    bad = types.SimpleNamespace(__name__="bad", ztix_approval_policies=ztix_approval_policies)
    pm = build_plugin_manager(load_entry_points=False, disabled=(), extra=[bad])
    with pytest.raises(PluginError, match="expected Registration"):
        Plugins(pm).approval_policies()


def test_disabled_plugins_are_blocked_by_name() -> None:
    assert disabled_from_env({"ZTIX_DISABLED_PLUGINS": " a, b ,,"}) == {"a", "b"}
    pm = build_plugin_manager(
        load_entry_points=False,
        disabled={"fake", "ztix_core.builtin"},
        extra=[_plugin("fake", "fake_policy")],
    )
    assert Plugins(pm).approval_policies() == {}


def test_select_names_the_setting_and_what_is_available() -> None:
    plugins = Plugins(build_plugin_manager(load_entry_points=False, disabled=()))
    assert plugins.select("approval_policies", "policy_auto", "X").name == "policy_auto"
    with pytest.raises(SettingsError) as info:
        plugins.select("approval_policies", "nope", "ZTIX_APPROVAL_POLICY")
    assert info.value.setting == "ZTIX_APPROVAL_POLICY"
    assert "manual_admin" in str(info.value)


def test_every_hookspec_is_documented() -> None:
    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("ztix_")]
    assert len(specs) >= 6
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, spec.__name__
