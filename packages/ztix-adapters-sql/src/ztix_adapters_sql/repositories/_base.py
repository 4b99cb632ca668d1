"""What every SQL repository shares: guarded writes (a broken rule undoes just that write
and leaves the unit of work usable, as in the in-memory adapter: a savepoint per write on
PostgreSQL, SQLite's own statement rollback) and fresh reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Select,
    String,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ztix_adapters_sql.integrity import Violation, classify
from ztix_adapters_sql.models import Base
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound, ZtixError

RowT = TypeVar("RowT", bound=Base)

#: CHECK constraint → the field whose value broke it.
_CHECK_FIELDS = {
    "ck_networks_id_hex16": "network_id",
    "ck_join_requests_node_id_hex10": "node_id",
    "ck_memberships_node_id_hex10": "node_id",
    "ck_join_requests_asn_range": "asn",
    "ck_memberships_asn_range": "asn",
    "ck_asn_links_asn_range": "asn",
    "ck_join_requests_status": "status",
    "ck_asn_links_source": "source",
    "networks.id": "network_id",
    "join_requests.node_id": "node_id",
    "memberships.node_id": "node_id",
}


def _too_long(model: type[Base] | None, values: dict[str, Any] | None) -> str | None:
    """``table.column`` of the first value longer than its column allows."""
    if model is None or values is None:
        return None
    table = Base.metadata.tables[model.__tablename__]
    for column in table.columns:
        value = values.get(column.key)
        length = column.type.length if isinstance(column.type, String) else None
        if isinstance(value, str) and length is not None and len(value) > length:
            return f"{table.name}.{column.name}"
    return None


def require_json(value: Any, field: str) -> None:
    """Refuse, with InvalidValue naming ``field``, what JSON columns cannot store."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(field, f"must be JSON-serialisable: {exc}") from None


def violation_error(violation: Violation, what: str) -> ZtixError:
    """A typed error for a broken rule the repository did not foresee more precisely."""
    if violation.kind == "unique":
        return DuplicateRecord(f"{what} breaks {violation.constraint or 'a uniqueness rule'}")
    if violation.kind == "foreign_key":
        return NotFound(f"{what} refers to a record that does not exist")
    if violation.kind in ("check", "not_null"):
        name = violation.constraint or "value"
        field = _CHECK_FIELDS.get(name, name.rpartition(".")[2])
        return InvalidValue(field, f"{what} is refused by {violation.constraint or 'a check'}")
    return ZtixError(f"{what} was refused by the database: {violation.detail}")


_INSERTS: dict[type[Base], tuple[Executable, dict[str, str]]] = {}
_UPDATES: dict[tuple[Any, ...], Executable] = {}


def _insert_statement(model: type[Base]) -> tuple[Executable, dict[str, str]]:
    """The table's INSERT, built once, and the model's attribute name → the column key
    its parameter goes by (they differ where a column's name is not its attribute's)."""
    found = _INSERTS.get(model)
    if found is None:
        keys = {prop.key: prop.columns[0].key for prop in sa_inspect(model).column_attrs}
        found = _INSERTS[model] = (insert(Base.metadata.tables[model.__tablename__]), keys)
    return found


class SqlRepository:
    """Base of the repositories: they share their unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _guarded(
        self,
        stmt: Executable,
        model: type[Base] | None = None,
        values: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        *,
        savepoint: bool = True,
    ) -> tuple[CursorResult[Any] | None, Violation | None]:
        """Run a write in a savepoint; a broken rule rolls back just that write.

        ``model`` and ``values`` let a too-long value (PostgreSQL refuses it before any
        CHECK) be reported against its column. ``savepoint=False`` (PostgreSQL) saves two
        round trips where no caller recovers from a refusal: the error is still typed,
        but the transaction is spoiled and the unit of work must end."""
        # The savepoint is the connection's, not the session's: a session savepoint
        # flushes and tracks state it does not need (every write here is a plain
        # statement), and it was the largest cost of a write.
        conn = self.session.connection()
        try:
            if conn.dialect.name == "sqlite" or not savepoint:
                # SQLite undoes just the failing statement and keeps the transaction
                # usable (its ABORT conflict rule): no savepoint needed.
                result = conn.execute(stmt, params) if params is not None else conn.execute(stmt)
            else:
                with conn.begin_nested():
                    result = (
                        conn.execute(stmt, params) if params is not None else conn.execute(stmt)
                    )
        except IntegrityError as exc:
            return None, classify(exc)
        except DataError as exc:
            column = _too_long(model, values)
            if column is None:
                raise
            return None, Violation("check", column, str(exc.orig))
        assert isinstance(result, CursorResult)
        return result, None

    def _insert(
        self, model: type[Base], values: dict[str, Any], what: str, *, savepoint: bool = True
    ) -> Violation | None:
        """Insert one row; return the broken rule, or None when stored (``savepoint``: see
        :meth:`_guarded`).

        One INSERT statement per table, the row as its parameters: building a statement
        with the values inside made SQLAlchemy coerce each value and compute a fresh
        cache key at every insert."""
        stmt, keys = _insert_statement(model)
        params = {keys.get(k, k): v for k, v in values.items()}
        _, violation = self._guarded(stmt, model, values, params, savepoint=savepoint)
        return violation

    @staticmethod
    def _update_statement(
        model: type[Base],
        values: dict[str, Any],
        *,
        where: tuple[str, ...],
        expected: dict[str, Any] | None = None,
    ) -> tuple[Executable, dict[str, Any]]:
        """``UPDATE table SET every other column WHERE where-columns = their values [AND
        expected column = value]``, built once per shape (see ``_INSERTS``), and its
        parameters: ``values`` are the row's attribute values, ``expected`` a compare-and-set
        on a column's stored value."""
        expected = expected or {}
        shape = (model, tuple(sorted(values)), where, tuple(sorted(expected)))
        found = _UPDATES.get(shape)
        _, keys = _insert_statement(model)
        if found is None:
            table = Base.metadata.tables[model.__tablename__]
            stmt = (
                update(table)
                .where(*(table.c[keys[k]] == bindparam(f"w_{k}") for k in where))
                .where(*(table.c[keys[k]] == bindparam(f"x_{k}") for k in expected))
                .values({keys[k]: bindparam(f"v_{k}") for k in values if k not in where})
            )
            found = _UPDATES[shape] = stmt
        params = {f"v_{k}": v for k, v in values.items() if k not in where}
        params.update({f"w_{k}": values[k] for k in where})
        params.update({f"x_{k}": v for k, v in expected.items()})
        return found, params

    def _insert_or_raise(self, model: type[Base], values: dict[str, Any], what: str) -> None:
        violation = self._insert(model, values, what)
        if violation is not None:
            raise violation_error(violation, what)

    # Reads run as Core statements on the session's connection and return plain rows
    # whose names are the model's attribute names (``columns_of``): the mapping functions
    # read attributes only, and the ORM's identity map and object loading cost more than
    # the query itself (repositories never change a loaded row; writes are statements).

    def _first(self, stmt: Select[RowT]) -> RowT | None:
        row = self.session.connection().execute(_plain(stmt)).first()
        return cast("RowT | None", row)

    def _all(self, stmt: Select[RowT]) -> Sequence[RowT]:
        rows = self.session.connection().execute(_plain(stmt)).all()
        return cast("Sequence[RowT]", rows)

    def _get(self, model: type[RowT], key: Any) -> RowT | None:
        stmt, names = _by_key(model)
        values = key if isinstance(key, tuple) else (key,)
        row = self.session.connection().execute(stmt, dict(zip(names, values, strict=True)))
        return cast("RowT | None", row.first())

    def _rows(self, model: type[RowT], stmt: Executable, params: dict[str, Any]) -> Sequence[RowT]:
        """The rows of ``stmt``, a select of ``columns_of(model)`` built once."""
        return cast("Sequence[RowT]", self.session.connection().execute(stmt, params).all())

    def _where(self, model: type[RowT], **equal: Any) -> Sequence[RowT]:
        """The model's rows whose columns equal ``equal`` (attribute names), by a
        statement built once per model and set of names: the hot reads by one key."""
        shape = (model, tuple(sorted(equal)))
        stmt = _WHERE.get(shape)
        if stmt is None:
            attrs = sa_inspect(model).column_attrs
            stmt = _WHERE[shape] = select(*columns_of(model)).where(
                *(attrs[name].columns[0] == bindparam(f"e_{name}") for name in shape[1])
            )
        rows = self.session.connection().execute(
            stmt, {f"e_{name}": value for name, value in equal.items()}
        )
        return cast("Sequence[RowT]", rows.all())


_COLUMNS: dict[type[Base], tuple[ColumnElement[Any], ...]] = {}
_WHERE: dict[tuple[Any, ...], Select[Any]] = {}
_BY_KEY: dict[type[Base], tuple[Select[Any], tuple[str, ...]]] = {}


def columns_of(model: type[Base]) -> tuple[ColumnElement[Any], ...]:
    """The model's table columns, each labelled with its attribute's name: a ``select``
    of them returns plain rows the mapping functions read like model objects."""
    found = _COLUMNS.get(model)
    if found is None:
        found = _COLUMNS[model] = tuple(
            prop.columns[0].label(prop.key) for prop in sa_inspect(model).column_attrs
        )
    return found


def _plain(stmt: Select[Any]) -> Select[Any]:
    """``select(Model)…`` as the same query over the model's labelled columns."""
    entity = stmt.column_descriptions[0]["entity"]
    return stmt.with_only_columns(*columns_of(entity), maintain_column_froms=True)


def _by_key(model: type[Base]) -> tuple[Select[Any], tuple[str, ...]]:
    """``SELECT … WHERE primary key = :pk0 [AND …]``, built once per model."""
    found = _BY_KEY.get(model)
    if found is None:
        keys = sa_inspect(model).primary_key
        names = tuple(f"pk{i}" for i in range(len(keys)))
        stmt = select(*columns_of(model)).where(
            *(col == bindparam(name) for col, name in zip(keys, names, strict=True))
        )
        found = _BY_KEY[model] = (stmt, names)
    return found


def upsert(
    dialect: str,
    model: type[Base],
    values: dict[str, Any],
    keys: Sequence[str],
    *,
    update: bool = True,
) -> Executable:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` (or ``DO NOTHING``) for either database."""
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(**values)
    else:
        stmt = sqlite.insert(model).values(**values)
    changed = {k: v for k, v in values.items() if k not in keys}
    if update and changed:
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=changed)
    return stmt.on_conflict_do_nothing(index_elements=list(keys))
