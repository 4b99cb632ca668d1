"""Plugins installed as separate distributions are discovered through the ``ztix`` entry
point group; ``ZTIX_DISABLED_PLUGINS`` blocks them; the CLI lists what is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

from ztix_core.plugins import Plugins, build_plugin_manager


def test_example_distribution_is_installed_with_its_entry_point() -> None:
    names = {ep.name for ep in entry_points(group="ztix")}
    assert "example" in names


def test_third_party_plugin_is_discovered_through_its_entry_point() -> None:
    plugins = Plugins(build_plugin_manager(disabled=()))
    assert "always_pending" in plugins.approval_policies()
    assert "manual_admin" in plugins.approval_policies()


def test_disabled_plugin_is_not_loaded() -> None:
    pm = build_plugin_manager(disabled={"example"})
    assert "always_pending" not in Plugins(pm).approval_policies()


def test_ztix_cli_lists_the_plugin_and_honours_the_block_list() -> None:
    ztix = [sys.executable, "-m", "ztix_core.cli", "plugins"]
    env = {**os.environ, "ZTIX_DISABLED_PLUGINS": ""}
    out = subprocess.run(ztix, capture_output=True, text=True, check=True, env=env).stdout
    assert "always_pending" in out
    env["ZTIX_DISABLED_PLUGINS"] = "example"
    out = subprocess.run(ztix, capture_output=True, text=True, check=True, env=env).stdout
    assert "always_pending" not in out


def test_bad_setting_stops_the_cli_with_its_name() -> None:
    env = {**os.environ, "ZT_CONTROLLER_BACKUP_RETENTION_COUNT": "lots"}
    proc = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "settings"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert "ZT_CONTROLLER_BACKUP_RETENTION_COUNT" in proc.stderr


def test_listing_plugins_loads_no_adapter_stack() -> None:
    """Every ztix command loads every plugin module; those must stay light so that
    `ztix plugins` or `ztix db current` do not pay for SQLAlchemy, asyncssh or Dramatiq."""
    code = (
        "import contextlib, io, sys\n"
        "from ztix_core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['plugins'])\n"
        "heavy = ('sqlalchemy', 'alembic', 'asyncssh', 'dramatiq', 'httpx', 'jinja2')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
