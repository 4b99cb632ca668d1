"""Database exceptions as one line naming the problem and its fix (the ``ztix`` command's
``ztix_explain_error`` hook): a schema that is missing, a server that cannot be reached, a
file that is locked or read-only."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ztix_adapters_sql.engine import safe_url

_NOT_MIGRATED = ("no such table", "undefinedtable", "no such column")
_UNREACHABLE = (
    "could not connect",
    "connection refused",
    "connection failed",
    "unable to open database file",
    "timeout expired",
    "server closed the connection",
    "password authentication failed",
    "could not translate host name",
    "name or service not known",
    "no route to host",
)


def _reason(error: SQLAlchemyError) -> str:
    raw = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(raw).strip().splitlines()
    return lines[0].strip() if lines else type(raw).__name__


def explain(error: BaseException, database_url: str | None) -> str | None:
    """The line for a SQLAlchemy error, or None for any other exception."""
    if not isinstance(error, SQLAlchemyError):
        return None
    where = f" at {safe_url(database_url)}" if database_url else ""
    reason = _reason(error)
    text = f"{type(getattr(error, 'orig', None)).__name__} {reason}".lower()
    if any(mark in text for mark in _NOT_MIGRATED) or (
        "relation" in text and "does not exist" in text
    ):
        return f"the database{where} is not migrated ({reason}): run `ztix db upgrade`"
    if any(mark in text for mark in _UNREACHABLE) or (
        "database" in text and "does not exist" in text
    ):
        return (
            f"cannot reach the database{where} ({reason}): check DATABASE_URL / database_url "
            "and that the server runs and accepts this user"
        )
    if "database is locked" in text:
        return (
            f"the database{where} is locked by another process ({reason}): retry, or stop "
            "what holds it"
        )
    if "readonly database" in text or "read-only" in text:
        return f"the database{where} is read-only ({reason}): check its file's permissions"
    return (
        f"database error{where}: {reason}; check DATABASE_URL / database_url "
        "(rerun with --debug for the traceback)"
    )
