"""A third-party ztix plugin, the worked example of docs/plugin-authors.md.

It adds two things through the ``ztix`` entry point (see ``pyproject.toml``):

* the approval policy ``always_pending`` (:mod:`.policy`): never decides, so every request
  waits for an admin;
* the membership provider ``json_file`` (:mod:`.provider`): keeps networks and members in
  a JSON file, configured by the ``[example]`` table (:mod:`.settings`). It passes the
  core's provider contract suite (``tests/plugin_dist/tests``).

This module holds only the hook implementations and imports nothing heavy: every ``ztix``
command loads every plugin module.
"""

from __future__ import annotations

from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Registration
from ztix_core.settings import Settings
from ztix_example_plugin.settings import SECTION, ExampleSettings, example_settings


def _policy(settings: Settings) -> object:
    from ztix_example_plugin.policy import AlwaysPending

    return AlwaysPending()


def _provider(settings: Settings) -> object:
    from ztix_example_plugin.provider import JsonFileProvider

    return JsonFileProvider(example_settings(settings).provider_file)


@hookimpl
def ztix_approval_policies() -> list[Registration]:
    return [Registration("always_pending", _policy, None, "example: every request waits")]


@hookimpl
def ztix_membership_providers() -> list[Registration]:
    return [
        Registration(
            "json_file",
            _provider,
            ExampleSettings,
            "example: networks and members in a JSON file",
            section=SECTION,
            validate=example_settings,
        )
    ]
