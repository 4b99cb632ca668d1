"""The ``ztix`` command's boundary and ``ztix settings``, run through ``main(argv)`` with
fake plugins (the core's tests install no adapter): one line per problem, the right exit
code, no traceback unless ``--debug``, and nothing written."""

from __future__ import annotations

import argparse
import errno
import os
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from ztix_core.cli import main
from ztix_core.errors import NotReady, SettingsError
from ztix_core.hookspecs import hookimpl
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.settings import Settings


@attrs.frozen
class WorkerKnobs:
    """A plugin's settings type, structured from its own table."""

    threads: int = attrs.field(default=8)

    @threads.validator
    def _positive(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value <= 0:
            raise SettingsError("worker.threads", f"must be positive, got {value}")


def _need_url(settings: Settings) -> None:
    if not settings.zt_controller_base_url:
        raise SettingsError("ZT_CONTROLLER_BASE_URL", "is required when ZT_PROVIDER=fake_zt")


class LibraryError(Exception):
    """An exception of some adapter's library, which the core does not know."""


class _Command:
    def __init__(self, action: Callable[[], int]) -> None:
        self.action = action

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        return self.action()


def _raise(exc: BaseException) -> Callable[[], int]:
    def action() -> int:
        raise exc

    return action


def _fake_plugin(commands: dict[str, Callable[[], int]] | None = None) -> object:
    @hookimpl
    def ztix_membership_providers() -> list[Registration]:
        return [
            Registration(
                "fake_zt", lambda s: None, None, "fake provider", section="zt", validate=_need_url
            )
        ]

    @hookimpl
    def ztix_cli_commands() -> list[Registration]:
        regs = [
            Registration(
                "fakeworker",
                lambda: _Command(lambda: 0),
                WorkerKnobs,
                "a command with its own table",
                section="worker",
                validate=lambda s: s.section("worker", WorkerKnobs),
            )
        ]
        for name, action in (commands or {}).items():
            regs.append(Registration(name, lambda a=action: _Command(a), None, name))
        return regs

    @hookimpl
    def ztix_explain_error(error: BaseException) -> str | None:
        if isinstance(error, LibraryError):
            return f"the library failed ({error}): check LIBRARY_URL"
        return None

    return types.SimpleNamespace(
        __name__="fake",
        ztix_membership_providers=ztix_membership_providers,
        ztix_cli_commands=ztix_cli_commands,
        ztix_explain_error=ztix_explain_error,
    )


def _plugins(*extra: object, commands: dict[str, Callable[[], int]] | None = None) -> Plugins:
    pm = build_plugin_manager(
        load_entry_points=False, disabled=(), extra=[_fake_plugin(commands), *extra]
    )
    return Plugins(pm)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No ztix setting from the caller's environment; a valid fake setup; data in tmp."""
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "memory")
    monkeypatch.setenv("ZT_PROVIDER", "fake_zt")
    monkeypatch.setenv("ZT_CONTROLLER_BASE_URL", "http://127.0.0.1:9993")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / "data").exists(), "a command created the data directory"


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ztix.toml"
    path.write_text(text)
    return str(path)


def _files(directory: Path) -> set[Path]:
    return set(directory.rglob("*"))


# --------------------------------------------------------------------------- ztix settings


def test_settings_accepts_a_valid_setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "[worker]\nthreads = 4\n[zt]\n")
    before = _files(tmp_path)
    assert main(["--config", config, "settings"], plugins=_plugins()) == 0
    out = capsys.readouterr()
    assert "Settings(" in out.out and out.err == ""
    assert _files(tmp_path) == before


def test_settings_lists_every_error_of_core_and_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ZT_CONTROLLER_BASE_URL")
    monkeypatch.setenv("ZTIX_APPROVAL_POLICY", "manual_admn")
    monkeypatch.setenv("ZT_CONTROLLER_BACKUP_RETENTION_COUNT", "many")
    config = _config(tmp_path, "[worker]\nthreads = 0\n[wroker]\nthreads = 2\n")
    before = _files(tmp_path)
    assert main(["--config", config, "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[:-1] == [
        "ztix: error: setting ZT_CONTROLLER_BACKUP_RETENTION_COUNT: 'many' is not an integer",
        "ztix: error: setting ZTIX_APPROVAL_POLICY: no plugin named 'manual_admn'; "
        "available: manual_admin, policy_auto",
        "ztix: error: setting ZT_CONTROLLER_BASE_URL: is required when ZT_PROVIDER=fake_zt",
        "ztix: error: setting worker.threads: must be positive, got 0",
        "ztix: error: setting [wroker]: unknown table: no installed plugin reads it "
        "(did you mean `[worker]`?)",
    ]
    assert lines[-1] == "ztix: the settings have 5 errors; nothing was started"
    assert "Traceback" not in err
    assert _files(tmp_path) == before


def test_settings_refuses_an_unknown_provider(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZT_PROVIDER", "self_hosted")
    assert main(["settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert "setting ZT_PROVIDER: no plugin named 'self_hosted'; available: fake_zt" in err
    assert "1 error;" in err


def test_a_table_whose_plugin_is_not_in_use_is_still_structured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A declared table is checked against its settings type even when the plugin that
    reads it is not selected (here: its command has no validate of its own)."""

    @hookimpl
    def ztix_route_server_fleets() -> list[Registration]:
        return [Registration("other", lambda s: None, WorkerKnobs, "unused", section="other")]

    other = types.SimpleNamespace(
        __name__="other", ztix_route_server_fleets=ztix_route_server_fleets
    )
    config = _config(tmp_path, "[other]\nthreads = -1\nextra = 1\n")
    assert main(["--config", config, "settings"], plugins=_plugins(other)) == 2
    err = capsys.readouterr().err
    assert "setting other: unknown key(s): extra" in err


def test_settings_names_a_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(tmp_path / "nope.toml"), "settings"], plugins=_plugins())
    assert code == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"ztix: error: setting ZTIX_CONFIG: config file {tmp_path}/nope.toml does not exist\n"
    )


# --------------------------------------------------------------------------- the boundary


def test_an_os_error_is_one_line_with_the_path_and_the_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", "/backups/ztix.tar")
    assert main(["boom"], plugins=_plugins(commands={"boom": _raise(denied)})) == 2
    err = capsys.readouterr().err
    assert err == (
        "ztix: error: permission denied: /backups/ztix.tar; "
        "check that this user may use it (owner and mode)\n"
    )


def test_a_plugin_explains_its_own_exception(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = _plugins(commands={"boom": _raise(LibraryError("no such table: outbox"))})
    assert main(["boom"], plugins=plugins) == 2
    err = capsys.readouterr().err
    assert err == ("ztix: error: the library failed (no such table: outbox): check LIBRARY_URL\n")


def test_a_failing_explainer_does_not_hide_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    @hookimpl
    def ztix_explain_error(error: BaseException, settings: Settings | None) -> str | None:
        raise RuntimeError("explainer bug")

    broken = types.SimpleNamespace(__name__="broken", ztix_explain_error=ztix_explain_error)
    plugins = _plugins(broken, commands={"boom": _raise(LibraryError("disk on fire"))})
    assert main(["boom"], plugins=plugins) == 2
    assert "the library failed (disk on fire)" in capsys.readouterr().err


def test_an_unexpected_error_names_its_type_and_hints_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = _plugins(commands={"boom": _raise(ValueError("bad thing\nsecond line"))})
    assert main(["boom"], plugins=plugins) == 1
    err = capsys.readouterr().err
    assert err == (
        "ztix: error: unexpected ValueError: bad thing (rerun with --debug for the traceback)\n"
    )


def test_debug_prints_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = _plugins(commands={"boom": _raise(ValueError("bad thing"))})
    assert main(["--debug", "boom"], plugins=plugins) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("ztix: error: unexpected ValueError")


def test_a_not_ready_error_carries_its_remediation(capsys: pytest.CaptureFixture[str]) -> None:
    not_ready = NotReady("database", "cannot open the database x", "check DATABASE_URL")
    assert main(["boom"], plugins=_plugins(commands={"boom": _raise(not_ready)})) == 2
    assert capsys.readouterr().err == (
        "ztix: error: cannot open the database x; check DATABASE_URL\n"
    )


def test_interrupt_exits_130_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = _plugins(commands={"boom": _raise(KeyboardInterrupt())})
    assert main(["boom"], plugins=plugins) == 130
    assert capsys.readouterr().err == "ztix: interrupted\n"


# --------------------------------------------------------------------------- storage ready


def test_storage_ready_runs_the_selected_backends_check() -> None:
    def behind(settings: Settings) -> None:
        raise NotReady("database_schema", "behind head", "run `ztix db upgrade`")

    @hookimpl
    def ztix_storage_backends() -> list[Registration]:
        return [Registration("checked", lambda s: None, None, "checked", ready=behind)]

    checked = types.SimpleNamespace(__name__="checked", ztix_storage_backends=ztix_storage_backends)
    plugins = _plugins(checked)
    plugins.storage_ready(Settings(storage="memory"))  # the memory backend is always ready
    with pytest.raises(NotReady, match="behind head"):
        plugins.storage_ready(Settings(storage="checked"))
    with pytest.raises(SettingsError, match="ZTIX_STORAGE"):
        plugins.storage_ready(Settings(storage="nope"))
