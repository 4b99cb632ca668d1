"""ztix-adapters-peeringdb is installed and its plugin is discovered through its entry point."""

from ztix_core.plugins import Plugins, build_plugin_manager


def test_plugin_is_discovered_through_entry_point() -> None:
    pm = build_plugin_manager()
    assert pm.get_plugin("peeringdb") is not None
    assert "peeringdb" in Plugins(pm).network_registries()
