"""Classify database integrity errors (PostgreSQL and SQLite) by the rule they broke.

Repositories check the common cases first (to give the same messages as the in-memory
adapter); these classifications are the backstop when a racing transaction got there first.
"""

from __future__ import annotations

import re

import attrs
from sqlalchemy import Index, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from ztix_adapters_sql.models import Base

_PG_KINDS = {"23505": "unique", "23503": "foreign_key", "23514": "check", "23502": "not_null"}
_SQLITE = re.compile(r"^(UNIQUE|FOREIGN KEY|CHECK|NOT NULL) constraint failed(?:: (.*))?$")
_SQLITE_KINDS = {
    "UNIQUE": "unique",
    "FOREIGN KEY": "foreign_key",
    "CHECK": "check",
    "NOT NULL": "not_null",
}


@attrs.frozen
class Violation:
    """Which kind of rule (unique, foreign_key, check, not_null) and, when known, its name."""

    kind: str
    constraint: str | None = None
    detail: str = ""


def _unique_names() -> dict[frozenset[str], str]:
    """``{"table.col", ...}`` → constraint name, for SQLite's column-list messages."""
    names: dict[frozenset[str], str] = {}
    for table in Base.metadata.tables.values():
        for cons in table.constraints:
            if isinstance(cons, UniqueConstraint | PrimaryKeyConstraint) and cons.name:
                key = frozenset(f"{table.name}.{c.name}" for c in cons.columns)
                names[key] = str(cons.name)
        for index in table.indexes:
            if isinstance(index, Index) and index.unique and index.name:
                key = frozenset(f"{table.name}.{c.name}" for c in index.columns)
                names[key] = str(index.name)
    return names


_UNIQUE_BY_COLUMNS = _unique_names()


def classify(exc: IntegrityError) -> Violation:
    """The broken rule behind ``exc``."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        diag = getattr(orig, "diag", None)
        name = getattr(diag, "constraint_name", None)
        return Violation(_PG_KINDS.get(sqlstate, "other"), name, str(orig).strip())
    message = str(orig).strip()
    match = _SQLITE.match(message)
    if match is None:
        return Violation("other", None, message)
    kind = _SQLITE_KINDS[match.group(1)]
    rest = (match.group(2) or "").strip()
    if kind == "unique":
        if rest.startswith("index '"):
            return Violation(kind, rest[len("index '") : -1], message)
        columns = frozenset(part.strip() for part in rest.split(","))
        return Violation(kind, _UNIQUE_BY_COLUMNS.get(columns), message)
    if kind == "check":
        return Violation(kind, rest or None, message)
    return Violation(kind, None, message)
