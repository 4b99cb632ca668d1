"""docs/settings-reference.md is what ``ztix settings --reference`` prints for the
installed packages, and every setting in it says what it means."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings_reference import reference, undocumented

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "settings-reference.md"
#: The example third-party plugin (tests/plugin_dist) is installed in this environment
#: but is not part of ztix: the page documents ztix's own distributions.
WITHOUT_EXAMPLE = {"ZTIX_DISABLED_PLUGINS": "example"}
REGENERATE = (
    "ZTIX_DISABLED_PLUGINS=example uv run ztix settings --reference > docs/settings-reference.md"
)


def _plugins() -> Plugins:
    return Plugins(build_plugin_manager(disabled={"example"}))


def test_every_setting_is_documented() -> None:
    missing = undocumented(Plugins(build_plugin_manager()))  # the example's table too
    assert not missing, (
        "settings without a '#:' comment above their field (write what each one means):\n"
        + "\n".join(missing)
    )


def test_the_reference_page_is_current() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "settings", "--reference"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **WITHOUT_EXAMPLE},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference(_plugins())
    assert PAGE.read_text() == done.stdout, f"docs/settings-reference.md is stale: {REGENERATE}"


def test_the_reference_names_every_variable_and_table() -> None:
    text = PAGE.read_text()
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "ZT_CONTROLLER_AUTH_TOKEN_FILE",
        "ZTIX_WORKER_THREADS",
    ):
        assert f"`{name}`" in text, name
    for table in ("[bird]", "[worker]", "[web]", "[zerotier]", "[peeringdb]", "[exchange]"):
        assert f"## `{table}`" in text, table
