"""``ztix worker`` refuses storage that is not ready, ``ztix settings`` checks the
``[worker]`` table, and worker logs carry an exception's type and message (the traceback
only at DEBUG). Run through the real ``ztix`` entry point, ``main(argv)``, with the
worker plugin and a storage backend whose schema is behind."""

from __future__ import annotations

import io
import json
import logging
import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import ztix_worker.plugin
from ztix_core.cli import main
from ztix_core.errors import NotReady
from ztix_core.hookspecs import hookimpl
from ztix_core.memory import InMemoryProvider, InMemoryStore
from ztix_core.memory.storage import InMemoryUnitOfWork
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.settings import Settings
from ztix_worker.logs import JsonFormatter, configure_logging

UPGRADE = (
    "the database is at schema revision none (empty), but this ztix needs 0002; "
    "run `ztix db upgrade`"
)


class BehindStore(InMemoryStore):
    """A store whose every use is recorded: the refused worker must not touch it."""

    opened = 0

    def __call__(self) -> InMemoryUnitOfWork:
        BehindStore.opened += 1
        return super().__call__()


def _behind(settings: Settings) -> None:
    raise NotReady("database_schema", UPGRADE, "run `ztix db upgrade`")


@hookimpl
def ztix_storage_backends() -> list[Registration]:
    return [Registration("behind", lambda s: BehindStore(), None, "behind head", ready=_behind)]


@hookimpl
def ztix_membership_providers() -> list[Registration]:
    return [Registration("memory", lambda s: InMemoryProvider(), None, "in memory")]


FAKES = types.SimpleNamespace(
    __name__="fakes",
    ztix_storage_backends=ztix_storage_backends,
    ztix_membership_providers=ztix_membership_providers,
)


def _plugins() -> Plugins:
    pm = build_plugin_manager(
        load_entry_points=False, disabled=(), extra=[ztix_worker.plugin, FAKES]
    )
    return Plugins(pm)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZT_PROVIDER", "memory")
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "memory")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / "data").exists()


def test_the_worker_refuses_storage_behind_head(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZTIX_STORAGE", "behind")
    BehindStore.opened = 0
    assert main(["worker"], plugins=_plugins()) == 2
    err = capsys.readouterr().err
    assert err == f"ztix: error: {UPGRADE}\n"
    assert BehindStore.opened == 0  # not one unit of work: no relay, no actor ran


def test_settings_checks_the_worker_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZTIX_WORKER_MAX_RETRIES", "lots")
    config = tmp_path / "ztix.toml"
    config.write_text("[worker]\nthreads = 0\n[wroker]\nprocesses = 2\n")
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "ztix: error: setting ZTIX_WORKER_MAX_RETRIES: 'lots' is not a number",
        "ztix: error: setting worker.threads: must be positive, got 0",
        "ztix: error: setting [wroker]: unknown table: no installed plugin reads it "
        "(did you mean `[worker]`?)",
        "ztix: the settings have 3 errors; nothing was started",
    ]
    monkeypatch.delenv("ZTIX_WORKER_MAX_RETRIES")
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 2
    assert "setting worker.threads: must be positive, got 0" in capsys.readouterr().err
    config.write_text("[worker]\nthreads = 2\n")
    assert main(["--config", str(config), "settings"], plugins=_plugins()) == 0


def _log_failure(level: str, explain: bool = False) -> dict[str, object]:
    stream = io.StringIO()
    handler = configure_logging(
        level, stream, explain=(lambda exc: "run `ztix db upgrade`") if explain else None
    )
    try:
        try:
            raise RuntimeError("no such table: outbox\n[SQL: SELECT ...]")
        except RuntimeError:
            logging.getLogger("ztix_worker.relay").exception("outbox relay pass failed")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    doc: dict[str, object] = json.loads(stream.getvalue().strip())
    return doc


def test_a_logged_exception_carries_type_and_message_without_traceback() -> None:
    doc = _log_failure("INFO")
    assert doc["error_type"] == "RuntimeError"
    assert doc["error"] == "no such table: outbox"
    assert "exc" not in doc and "Traceback" not in json.dumps(doc)


def test_the_traceback_is_logged_at_debug() -> None:
    doc = _log_failure("DEBUG")
    assert "Traceback (most recent call last)" in str(doc["exc"])
    assert doc["error_type"] == "RuntimeError"


def test_a_logged_exception_carries_the_plugins_hint() -> None:
    assert _log_failure("INFO", explain=True)["hint"] == "run `ztix db upgrade`"

    def broken(exc: BaseException) -> str | None:
        raise ZeroDivisionError

    failing = JsonFormatter(explain=broken)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)
    try:
        raise ValueError("v")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert json.loads(failing.format(record))["error"] == "v"


def test_an_unreachable_database_is_waited_for_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ztix_worker.cli import wait_for_storage

    answers: list[BaseException | None] = [
        ConnectionRefusedError("connection refused"),
        ConnectionRefusedError("connection refused"),
        ConnectionRefusedError("connection refused"),
        None,
    ]
    slept: list[float] = []

    class Flaky:
        def storage_ready(self, settings: Settings) -> None:
            answer = answers.pop(0)
            if answer is not None:
                raise answer

        def explain_error(self, error: BaseException, settings: Settings) -> str:
            return f"cannot reach the database ({error}): check DATABASE_URL"

    caplog.set_level("INFO", logger="ztix_worker.cli")
    wait_for_storage(Flaky(), Settings(), sleep=slept.append)  # type: ignore[arg-type]
    assert slept == [0.5, 1.0, 2.0] and not answers
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "database not reachable at start: cannot reach the database (connection refused): "
        "check DATABASE_URL; waiting for it",
        "database reachable: starting",
    ]


def test_a_verdict_on_the_database_is_not_waited_for() -> None:
    from ztix_worker.cli import wait_for_storage

    class Behind:
        def storage_ready(self, settings: Settings) -> None:
            _behind(settings)

    with pytest.raises(NotReady):
        wait_for_storage(Behind(), Settings(), sleep=pytest.fail)  # type: ignore[arg-type]


def test_a_database_server_restarting_is_waited_for() -> None:
    from ztix_worker.cli import wait_for_storage

    answers = [NotReady("database", "cannot open the database X", transient=True), None]

    class Restarting:
        def storage_ready(self, settings: Settings) -> None:
            answer = answers.pop(0)
            if answer is not None:
                raise answer

    slept: list[float] = []
    wait_for_storage(Restarting(), Settings(), sleep=slept.append)  # type: ignore[arg-type]
    assert slept == [0.5] and not answers
