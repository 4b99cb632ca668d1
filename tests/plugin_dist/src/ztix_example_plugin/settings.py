"""The plugin's settings: the ``[example]`` TOML table."""

from __future__ import annotations

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings

SECTION = "example"


@attrs.frozen
class ExampleSettings:
    """The ``[example]`` table of the example plugin (tests/plugin_dist)."""

    #: The JSON file the ``json_file`` provider keeps its networks and members in
    #: (created on first write; its directory must exist).
    provider_file: str = ""


def example_settings(settings: Settings) -> ExampleSettings:
    """The ``[example]`` table; SettingsError names the key when it is unusable. Used as
    the registration's ``validate`` too, so ``ztix settings`` reports it."""
    section = settings.section(SECTION, ExampleSettings)
    if not section.provider_file:
        raise SettingsError(f"{SECTION}.provider_file", "required by zt_provider = json_file")
    return section
