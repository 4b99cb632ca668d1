"""Structured logs: JSON lines via stdlib logging, carrying the request id.

The request id lives in a context variable set around each actor run (from the outbox
message's correlation id), so every record logged while handling it — by the worker, the
provider's HTTP client or the route-server SSH code in the same thread or asyncio task —
carries it.

A logged exception always carries its type and message (``error_type``, ``error``, one
line); its traceback (``exc``) only when the root logger logs at DEBUG
(``--log-level DEBUG``), so a failure that repeats is one readable line per repetition.
Given an ``explain`` function (the plugins' ``ztix_explain_error``), it also carries
``hint``: the problem and its fix in words, e.g. "run `ztix db upgrade`".
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: Turns an exception into one line naming the problem and its fix, or None.
Explainer = Callable[[BaseException], str | None]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ztix_request_id", default=None
)

#: Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def current_request_id() -> str | None:
    """The request id of the work in progress, or None."""
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Carry ``request_id`` in every log record emitted inside the block."""
    token = _request_id.set(request_id or None)
    try:
        yield
    finally:
        _request_id.reset(token)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras; for an
    exception its type and message, and the traceback only at DEBUG."""

    def __init__(self, explain: Explainer | None = None) -> None:
        super().__init__()
        self.explain = explain

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "pid": record.process,
            "thread": record.threadName,
        }
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
        return json.dumps(doc, default=str)

    def _hint(self, exc: BaseException) -> str | None:
        if self.explain is None:
            return None
        try:
            return self.explain(exc)
        except Exception:  # a log line must never fail because of its hint
            return None


def configure_logging(
    level: str | int = "INFO", stream: TextIO | None = None, explain: Explainer | None = None
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) as JSON lines; returns the handler.
    ``explain`` adds a ``hint`` to logged exceptions (see the module docstring)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(explain))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler
