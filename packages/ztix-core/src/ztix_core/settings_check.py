"""Everything ``ztix settings`` checks, against the installed plugins.

:func:`load_settings` checks what the core alone knows. This adds what only the plugins
know: each setting that selects a plugin names an installed one; the selected plugins,
every command and every web extension accept their settings (their ``validate``); every
TOML table is one an installed plugin declares (``section``), and a declared table
structures into its plugin's settings type. Every error is reported, not just the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from ztix_core.errors import SettingsError, ZtixError
from ztix_core.plugins import SELECTED_KINDS, Plugins, Registration
from ztix_core.settings import (
    Settings,
    did_you_mean,
    load_settings,
    read_settings,
    settings_errors,
)


def _errors_of(
    check: Callable[[Settings], object], settings: Settings, who: str
) -> list[SettingsError]:
    try:
        check(settings)
    except SettingsError as exc:
        return settings_errors(exc)
    except ZtixError as exc:  # a plugin refusing with another typed error still names itself
        return [SettingsError(who, str(exc))]
    return []


def _section_check(name: str, kind: type) -> Callable[[Settings], object]:
    def check(settings: Settings) -> object:
        return settings.section(name, kind)

    return check


def plugin_errors(settings: Settings, plugins: Plugins) -> list[SettingsError]:
    """Every error the installed plugins find in ``settings`` (see the module docstring)."""
    errors: list[SettingsError] = []
    in_use: list[Registration] = []
    for kind, attribute, setting in SELECTED_KINDS:
        try:
            in_use.append(plugins.select(kind, getattr(settings, attribute), setting))
        except SettingsError as exc:
            errors.append(exc)
    in_use.extend(plugins.cli_commands().values())
    # Web extensions are not selected by a setting: each checks its own table when present.
    in_use.extend(plugins.web_extensions().values())
    checks_run: list[Callable[[Settings], object]] = []
    for reg in in_use:
        if reg.validate is None or reg.validate in checks_run:
            continue
        checks_run.append(reg.validate)
        errors.extend(_errors_of(reg.validate, settings, reg.name))
    owners = plugins.sections()
    tables = {f.name for f in attrs.fields(Settings) if f.name != "sections"}
    for name in settings.sections:
        if name not in owners:
            hint = did_you_mean(name, [*owners, *tables], "[{}]")
            errors.append(
                SettingsError(f"[{name}]", f"unknown table: no installed plugin reads it{hint}")
            )
            continue
        kinds = [reg.settings_type for reg in owners[name] if reg.settings_type is not None]
        if kinds:  # even when a validate read it: that one may have stopped earlier
            errors.extend(_errors_of(_section_check(name, kinds[0]), settings, f"[{name}]"))
    unique: dict[str, SettingsError] = {}  # a validate and the table check may agree
    for error in errors:
        unique.setdefault(str(error), error)
    return list(unique.values())


def check_settings(
    path: str | Path | None, plugins: Plugins
) -> tuple[Settings, list[SettingsError]]:
    """Load the settings as every command does and check them against the plugins.

    Returns the settings (as far as they are valid) and every error, each once. A missing
    or unparseable config file raises SettingsError: nothing else can be checked then.
    """
    try:
        settings = load_settings(path)
        errors: list[SettingsError] = []
    except SettingsError as exc:
        errors = settings_errors(exc)
        settings, _ = read_settings(path)
    errors.extend(plugin_errors(settings, plugins))
    unique: dict[str, SettingsError] = {}
    for error in errors:
        unique.setdefault(str(error), error)
    return settings, list(unique.values())
