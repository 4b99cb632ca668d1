"""In-memory API storage: tokens and idempotency keys (see :mod:`ztix_core.api_ports`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

import attrs

from ztix_core.api_ports import ApiToken, IdempotencyEntry
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound


class _ApiTables(Protocol):
    users: dict[uuid.UUID, Any]
    requests: dict[uuid.UUID, Any]
    api_tokens: dict[uuid.UUID, ApiToken]
    idempotency: dict[tuple[uuid.UUID, str], IdempotencyEntry]


class _HasTables(Protocol):
    @property
    def tables(self) -> _ApiTables: ...


class InMemoryApiTokens:
    """API tokens of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def add(self, token: ApiToken) -> None:
        if not token.name.strip():
            raise InvalidValue("name", "must not be empty")
        if not token.secret_hash:
            raise InvalidValue("secret_hash", "must not be empty")
        tokens = self._uow.tables.api_tokens
        if token.user_id not in self._uow.tables.users:
            raise NotFound(f"user {token.user_id} not found")
        if token.id in tokens or any(t.secret_hash == token.secret_hash for t in tokens.values()):
            raise DuplicateRecord("API token exists")
        tokens[token.id] = token

    def get(self, token_id: uuid.UUID) -> ApiToken | None:
        return self._uow.tables.api_tokens.get(token_id)

    def get_by_hash(self, secret_hash: str) -> ApiToken | None:
        return next(
            (t for t in self._uow.tables.api_tokens.values() if t.secret_hash == secret_hash),
            None,
        )

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        found = [t for t in self._uow.tables.api_tokens.values() if t.user_id == user_id]
        return sorted(found, key=lambda t: (t.created_at, str(t.id)), reverse=True)

    def revoke(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        tokens = self._uow.tables.api_tokens
        token = tokens.get(token_id)
        if token is None:
            raise NotFound(f"API token {token_id} not found")
        if token.revoked_at is None:
            tokens[token_id] = attrs.evolve(token, revoked_at=at)

    def touch(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        tokens = self._uow.tables.api_tokens
        token = tokens.get(token_id)
        if token is not None:
            tokens[token_id] = attrs.evolve(token, last_used_at=at)


class InMemoryIdempotency:
    """Idempotency keys of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def get(self, user_id: uuid.UUID, key: str) -> IdempotencyEntry | None:
        return self._uow.tables.idempotency.get((user_id, key))

    def put(self, entry: IdempotencyEntry) -> None:
        if not entry.key:
            raise InvalidValue("Idempotency-Key", "must not be empty")
        tables = self._uow.tables
        if entry.user_id not in tables.users:
            raise NotFound(f"user {entry.user_id} not found")
        if entry.request_id not in tables.requests:
            raise NotFound(f"request {entry.request_id} not found")
        if (entry.user_id, entry.key) in tables.idempotency:
            raise DuplicateRecord("idempotency key already used")
        tables.idempotency[(entry.user_id, entry.key)] = entry

    def purge_before(self, at: dt.datetime) -> int:
        table = self._uow.tables.idempotency
        gone = [k for k, e in table.items() if e.created_at < at]
        for k in gone:
            del table[k]
        return len(gone)
