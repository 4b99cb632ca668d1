"""API tokens and idempotency keys: the core's API storage ports
(:mod:`ztix_core.api_ports`) on SQL."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select, update

from ztix_adapters_sql.models import ApiTokenRow, IdempotencyKeyRow, JoinRequestRow, UserRow
from ztix_adapters_sql.repositories._base import SqlRepository, violation_error
from ztix_core.api_ports import ApiToken, IdempotencyEntry, TokenScope
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        scope=TokenScope(row.scope),
        secret_hash=row.secret_hash,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlApiTokenRepository(SqlRepository):
    """API tokens, looked up by the hash of their secret (a unique index)."""

    def add(self, token: ApiToken) -> None:
        """Insert; DuplicateRecord for a taken id or hash, NotFound for an unknown user."""
        if not token.name.strip():
            raise InvalidValue("name", "must not be empty")
        if not token.secret_hash:
            raise InvalidValue("secret_hash", "must not be empty")
        if self.session.scalar(select(UserRow.id).where(UserRow.id == token.user_id)) is None:
            raise NotFound(f"user {token.user_id} not found")
        values = {
            "id": token.id,
            "user_id": token.user_id,
            "name": token.name,
            "scope": token.scope.value,
            "secret_hash": token.secret_hash,
            "prefix": token.prefix,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
        }
        violation = self._insert(ApiTokenRow, values, "API token")
        if violation is None:
            return
        if violation.kind == "unique":
            raise DuplicateRecord("API token exists")
        raise violation_error(violation, "API token")

    def get(self, token_id: uuid.UUID) -> ApiToken | None:
        """The token, or None."""
        row = self._get(ApiTokenRow, token_id)
        return _token(row) if row is not None else None

    def get_by_hash(self, secret_hash: str) -> ApiToken | None:
        """The token whose secret hashes to ``secret_hash``, or None."""
        row = self._first(select(ApiTokenRow).where(ApiTokenRow.secret_hash == secret_hash))
        return _token(row) if row is not None else None

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        """The user's tokens, newest first."""
        rows = self._all(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id)
            .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id.desc())
        )
        found = [_token(r) for r in rows]
        # Ties on created_at: the same order as the in-memory adapter (id as text).
        found.sort(key=lambda t: (t.created_at, str(t.id)), reverse=True)
        return found

    def revoke(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        """Mark revoked at ``at`` (the first time stays); NotFound when absent."""
        if self._get(ApiTokenRow, token_id) is None:
            raise NotFound(f"API token {token_id} not found")
        self.session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )

    def touch(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        """Record a use at ``at``; absent is fine."""
        self.session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.id == token_id)
            .values(last_used_at=at)
            .execution_options(synchronize_session=False)
        )


class SqlIdempotencyRepository(SqlRepository):
    """Idempotency keys, unique per (user, key) by the primary key."""

    def get(self, user_id: uuid.UUID, key: str) -> IdempotencyEntry | None:
        """The entry for the user's key, or None."""
        row = self._get(IdempotencyKeyRow, (user_id, key))
        if row is None:
            return None
        return IdempotencyEntry(
            row.user_id, row.key, row.fingerprint, row.request_id, row.created_at
        )

    def put(self, entry: IdempotencyEntry) -> None:
        """Insert; DuplicateRecord when the user already used the key."""
        if not entry.key:
            raise InvalidValue("Idempotency-Key", "must not be empty")
        if self.session.scalar(select(UserRow.id).where(UserRow.id == entry.user_id)) is None:
            raise NotFound(f"user {entry.user_id} not found")
        found = select(JoinRequestRow.id).where(JoinRequestRow.id == entry.request_id)
        if self.session.scalar(found) is None:
            raise NotFound(f"request {entry.request_id} not found")
        values = {
            "user_id": entry.user_id,
            "key": entry.key,
            "fingerprint": entry.fingerprint,
            "request_id": entry.request_id,
            "created_at": entry.created_at,
        }
        violation = self._insert(IdempotencyKeyRow, values, "idempotency key")
        if violation is None:
            return
        if violation.kind == "unique":
            raise DuplicateRecord("idempotency key already used")
        raise violation_error(violation, "idempotency key")

    def purge_before(self, at: dt.datetime) -> int:
        """Delete entries created before ``at``; how many."""
        result = self.session.execute(
            delete(IdempotencyKeyRow)
            .where(IdempotencyKeyRow.created_at < at)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
