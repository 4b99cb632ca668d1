"""Logs: one line per record, JSON (default) or text, carrying the request id, with
secrets redacted. The web and the worker configure it the same way.

**Context.** Fields set with :func:`log_context` (the web's request id, the worker's
request and message ids) live in a context variable, so every record logged inside the
block — by ztix, the provider's HTTP client or the route-server SSH code, in the same
thread or asyncio task — carries them.

**Exceptions.** A logged exception always carries its type and message (``error_type``,
``error``, one line); its traceback (``exc``) only when the root logger logs at DEBUG, so
a failure that repeats is one readable line per repetition. Given an ``explain`` function
(the plugins' ``ztix_explain_error``), it also carries ``hint``: the problem and its fix.

**Redaction.** Every finished line goes through :class:`Redactor` before it is written:
API tokens (``ztix_…``), passwords in URLs (``postgresql://user:…@``), the value of any
``password``/``secret``/``token``/``api_key``/``auth``/``authorization``/``cookie`` key or
header, and the exact values of the secret settings (the controller token, the Central and
PeeringDB keys, the OAuth client secret, the database and Redis passwords). What is
redacted reads ``[redacted]``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import types
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings, structure

#: Turns an exception into one line naming the problem and its fix, or None.
Explainer = Callable[[BaseException], str | None]

REDACTED = "[redacted]"
FORMATS = ("json", "text")
FORMAT_ENV = "ZTIX_LOG_FORMAT"

_NO_FIELDS: Mapping[str, str] = types.MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "ztix_log_context", default=_NO_FIELDS
)

#: Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def current_request_id() -> str | None:
    """The request id of the work in progress, or None."""
    return _context.get().get("request_id")


def current_context() -> Mapping[str, str]:
    """Every field of the current log context."""
    return _context.get()


ContextToken = contextvars.Token[Mapping[str, str]]


def push_context(**fields: str | None) -> ContextToken:
    """Add ``fields`` (those not None or empty) to the log context until
    :func:`pop_context` with the token returned (for code that cannot wrap a block, such
    as a web middleware's request and response steps)."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def pop_context(token: ContextToken) -> None:
    """Undo the :func:`push_context` that returned ``token``."""
    _context.reset(token)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Carry ``fields`` (those not None or empty) in every log record emitted inside the
    block, on top of the fields already set."""
    token = push_context(**fields)
    try:
        yield
    finally:
        pop_context(token)


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Carry ``request_id`` in every log record emitted inside the block."""
    with log_context(request_id=request_id):
        yield


# --------------------------------------------------------------------------- redaction

_KEYS = r"[\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|auth|cookie)"
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>\b" + _KEYS + r")\b(?P<sep>[\"']?\s*[:=]\s*)"
    r"(?:(?P<q>[\"'])(?P<quoted>(?:\\.|(?!(?P=q)).)*)(?P=q)"
    r"|(?P<bare>\[redacted\]|(?:(?:bearer|basic|token)\s+)?[^\s,&;}\]\"']+))"
)
_URL_PASSWORD = re.compile(r"(?i)(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s\"']*):[^@\s/\"']+@")
_API_TOKEN = re.compile(r"\bztix_[A-Za-z0-9_-]{32,}")


def _key_value(match: re.Match[str]) -> str:
    key = match.group("key")
    if match.group("q"):
        q = match.group("q")
        return f"{key}{match.group('sep')}{q}{REDACTED}{q}"
    return f"{key}{match.group('sep')}{REDACTED}"


class Redactor:
    """Removes secrets from a finished log line (see the module docstring). ``secrets``
    are exact values to remove wherever they appear (shorter than 6 characters: ignored,
    they would redact ordinary words)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)
        self._exact = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        """``text`` without its secrets."""
        if self._exact is not None:
            text = self._exact.sub(REDACTED, text)
        text = _API_TOKEN.sub("ztix_" + REDACTED, text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
        return _KEY_VALUE.sub(_key_value, text)


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def secrets_of(settings: Settings) -> list[str]:
    """The values a log line must never show: every secret setting, and the passwords in
    the database and Redis URLs."""
    found: list[str] = []
    for field in attrs.fields(Settings):
        if field.metadata.get("secret"):
            value = getattr(settings, field.name)
            if isinstance(value, str):
                found.append(value)
    for url in (settings.database_url, settings.redis_url):
        password = _url_password(url)
        if password:
            found.append(password)  # as written in the URL (percent-encoded) …
            found.append(urllib.parse.unquote(password))  # … and as the server gets it
    return found


# --------------------------------------------------------------------------- formatters


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else ""


class _Formatter(logging.Formatter):
    """The fields both formats write, the exception summary, and the redaction."""

    def __init__(self, explain: Explainer | None = None, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.explain = explain
        self.redact = redactor or Redactor()

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in current_context().items():
            doc.setdefault(key, value)
        doc["pid"] = record.process
        doc["thread"] = record.threadName
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            doc["error_type"] = type(record.exc_info[1]).__name__
            doc["error"] = _first_line(record.exc_info[1])
            hint = self._hint(record.exc_info[1])
            if hint:
                doc["hint"] = hint
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                doc["exc"] = self.formatException(record.exc_info)
        return doc

    def _hint(self, exc: BaseException) -> str | None:
        if self.explain is None:
            return None
        try:
            return self.explain(exc)
        except Exception:  # a log line must never fail because of its hint
            return None


class JsonFormatter(_Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the other
    context fields, extras; for an exception its type and message, the traceback only at
    DEBUG. Secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(json.dumps(self.fields(record), default=str))


class TextFormatter(_Formatter):
    """One readable line: ``time level logger [request_id] message key=value …``; the
    traceback (at DEBUG) on the lines after it. Secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        doc = self.fields(record)
        head = [doc.pop("ts"), doc.pop("level").upper(), doc.pop("logger")]
        request_id = doc.pop("request_id")
        if request_id:
            head.append(f"[{request_id}]")
        head.append(doc.pop("msg"))
        doc.pop("pid")
        doc.pop("thread")
        trace = doc.pop("exc", None)
        tail = [f"{k}={json.dumps(v, default=str)}" for k, v in doc.items()]
        line = " ".join(str(part) for part in head + tail)
        if trace:
            line += "\n" + str(trace)
        return self.redact(line)


@attrs.frozen
class LoggingSettings:
    """The ``[logging]`` table: ``format`` is ``json`` (one JSON object per line, for a
    log pipeline) or ``text`` (for a person at a terminal); ``ZTIX_LOG_FORMAT`` wins."""

    #: ``json``: one JSON object per line on stderr (for a log pipeline); ``text``: one
    #: readable line (for a person at a terminal). ``ZTIX_LOG_FORMAT`` wins over the file.
    format: str = attrs.field(default="json", metadata={"env": FORMAT_ENV})

    def __attrs_post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SettingsError("logging.format", f"{self.format!r} must be json or text")


def logging_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> LoggingSettings:
    """``[logging]``, then ``ZTIX_LOG_FORMAT``; SettingsError names a bad value."""
    env = os.environ if environ is None else environ
    raw = dict(settings.sections.get("logging", {}))
    if env.get(FORMAT_ENV):
        value = env[FORMAT_ENV].strip().lower()
        if value not in FORMATS:
            raise SettingsError(FORMAT_ENV, f"{env[FORMAT_ENV]!r} must be json or text")
        raw["format"] = value
    return structure(raw, LoggingSettings, prefix="logging")


def configure_from_settings(
    settings: Settings,
    level: str | int = "INFO",
    explain: Explainer | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """:func:`configure_logging` with the format of ``[logging]`` / ``ZTIX_LOG_FORMAT`` and
    the secrets of ``settings`` redacted (what ``ztix web`` and ``ztix worker`` do)."""
    return configure_logging(
        level,
        stream,
        explain,
        fmt=logging_settings(settings).format,
        secrets=secrets_of(settings),
    )


def configure_logging(
    level: str | int = "INFO",
    stream: TextIO | None = None,
    explain: Explainer | None = None,
    *,
    fmt: str = "json",
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) as ``fmt`` lines (json or text),
    secrets redacted; returns the handler. A handler an earlier call installed is
    replaced. ``explain`` adds a ``hint`` to logged exceptions (see the module docstring)."""
    if fmt not in FORMATS:
        raise SettingsError("logging.format", f"{fmt!r} must be json or text")
    handler = logging.StreamHandler(stream or sys.stderr)
    kind = JsonFormatter if fmt == "json" else TextFormatter
    handler.setFormatter(kind(explain, Redactor(secrets)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, _Formatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler
