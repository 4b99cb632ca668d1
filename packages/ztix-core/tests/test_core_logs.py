"""Log lines: JSON or text, the context fields, and secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ztix_core.errors import SettingsError
from ztix_core.logs import (
    REDACTED,
    Redactor,
    configure_from_settings,
    configure_logging,
    log_context,
    logging_settings,
    request_context,
    secrets_of,
)
from ztix_core.settings import Settings

TOKEN = "ztix_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
CONTROLLER = "zt1tokenvalue0123456789"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is out:
            root.removeHandler(handler)


@pytest.mark.parametrize(
    ("line", "gone", "kept"),
    [
        (f"GET /api with Authorization: Bearer {TOKEN}", TOKEN, "GET /api with Authorization"),
        (f"token {TOKEN} used", TOKEN, "used"),
        ("dsn postgresql://ztix:hunter2pass@db:5432/ztix", "hunter2pass", "postgresql://ztix:"),
        ("redis://:redispass99@cache:6379/0 down", "redispass99", "cache:6379/0 down"),
        ('{"password": "a long pass phrase", "user": "opa"}', "long pass phrase", '"user": "opa"'),
        ("{'client_secret': 'abc123secret'}", "abc123secret", "client_secret"),
        ("X-ZT1-Auth: zt1headertoken sent", "zt1headertoken", "sent"),
        ("GET /status?auth=queryauthtoken&x=1", "queryauthtoken", "x=1"),
        ("Cookie: ztix_session=sessiontokenvalue", "sessiontokenvalue", "Cookie"),
        ("password=plain csrf_token=csrfvalue123", "csrfvalue123", "password="),
        (f"controller said {CONTROLLER} is wrong", CONTROLLER, "is wrong"),
    ],
)
def test_redactor_removes_secrets_and_keeps_the_rest(line: str, gone: str, kept: str) -> None:
    out = Redactor([CONTROLLER])(line)
    assert gone not in out and kept in out and REDACTED in out


def test_redactor_leaves_ordinary_lines_alone() -> None:
    redact = Redactor(["short", ""])  # too short to redact safely: ignored
    for line in (
        "route server rs1 applied generation 4 in 0.8 s",
        "logger ztix_worker.relay sent 3 messages; token_count=4 request_id=abc",
        "a short line",
    ):
        assert redact(line) == line


def test_secrets_of_reads_secret_settings_and_url_passwords() -> None:
    settings = Settings(
        database_url="postgresql://ztix:db%2Fpass@db/ztix",
        redis_url="redis://:redispw123@cache:6379/0",
        zt_controller_auth_token=CONTROLLER,
    )
    found = secrets_of(settings)
    assert {CONTROLLER, "db/pass", "db%2Fpass", "redispw123"} <= set(found)


def test_json_lines_carry_context_extras_and_no_secret(stream: io.StringIO) -> None:
    settings = Settings(zt_controller_auth_token=CONTROLLER)
    handler = configure_logging("INFO", stream, secrets=secrets_of(settings))
    log = logging.getLogger("ztix.test")
    with request_context("req-1"), log_context(message_id="msg-9"):
        log.info("authorize with %s", CONTROLLER, extra={"stage": "authorize"})
        try:
            raise RuntimeError(f"controller refused X-ZT1-Auth {CONTROLLER}")
        except RuntimeError:
            log.exception("failed")
    log.info("outside")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-1" and first["message_id"] == "msg-9"
    assert first["stage"] == "authorize" and first["msg"] == f"authorize with {REDACTED}"
    assert second["error_type"] == "RuntimeError" and CONTROLLER not in second["error"]
    assert third["request_id"] is None and "message_id" not in third
    assert CONTROLLER not in stream.getvalue()
    logging.getLogger().removeHandler(handler)


def test_text_lines_read_like_a_sentence(stream: io.StringIO) -> None:
    configure_logging("INFO", stream, fmt="text", secrets=[CONTROLLER])
    with request_context("req-2"):
        logging.getLogger("ztix.test").warning("token=%s refused", CONTROLLER, extra={"n": 2})
    (line,) = stream.getvalue().splitlines()
    assert " WARNING ztix.test [req-2] token=[redacted] refused n=2" in line
    assert CONTROLLER not in line


def test_logging_settings_from_file_and_environment(tmp_path: object) -> None:
    settings = Settings(sections={"logging": {"format": "text"}})
    assert logging_settings(settings, {}).format == "text"
    assert logging_settings(settings, {"ZTIX_LOG_FORMAT": "JSON"}).format == "json"
    assert logging_settings(Settings(), {}).format == "json"
    with pytest.raises(SettingsError, match="ZTIX_LOG_FORMAT"):
        logging_settings(Settings(), {"ZTIX_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match=r"logging\.format"):
        logging_settings(Settings(sections={"logging": {"format": "xml"}}), {})
    with pytest.raises(SettingsError, match="logging"):
        logging_settings(Settings(sections={"logging": {"colour": True}}), {})
    with pytest.raises(SettingsError, match=r"logging\.format"):
        configure_logging("INFO", io.StringIO(), fmt="xml")


def test_configure_from_settings_replaces_the_earlier_handler(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZTIX_LOG_FORMAT", "text")
    first = configure_logging("INFO", stream)
    second = configure_from_settings(Settings(), "INFO")
    root = logging.getLogger()
    assert first not in root.handlers and second in root.handlers
    root.removeHandler(second)


def test_ztix_settings_knows_and_checks_the_logging_table() -> None:
    from ztix_core.plugins import Plugins, build_plugin_manager
    from ztix_core.settings_check import plugin_errors

    plugins = Plugins(build_plugin_manager(load_entry_points=False, disabled=()))
    good = Settings(storage="memory", sections={"logging": {"format": "text"}})
    assert not [e for e in plugin_errors(good, plugins) if "logging" in str(e)]
    bad = Settings(storage="memory", sections={"logging": {"format": "xml"}})
    assert any("logging.format" in str(e) for e in plugin_errors(bad, plugins))
