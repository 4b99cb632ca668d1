"""Records and ports of the JSON API's own storage: API tokens and idempotency keys.

Both are part of every :class:`~ztix_core.ports.UnitOfWork` (``api_tokens``,
``idempotency``), so the web reaches them through the storage backend the settings name
and never imports an adapter. The in-memory backend implements them in
:mod:`ztix_core.memory.api_storage`; :mod:`ztix_core.testing.api_storage_contract` holds
the suite every backend passes.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Protocol

import attrs


class TokenScope(enum.Enum):
    """What a token may do: ``operator`` acts as a non-admin even for an admin's account;
    ``admin`` may only belong to an admin."""

    OPERATOR = "operator"
    ADMIN = "admin"


@attrs.frozen
class ApiToken:
    """A bearer token for scripts. Storage keeps ``secret_hash`` (the SHA-256 of the
    secret, hex), never the secret; ``prefix`` is the secret's first characters, enough to
    tell tokens apart in a list."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    scope: TokenScope
    secret_hash: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    def usable_at(self, now: dt.datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@attrs.frozen
class IdempotencyEntry:
    """A join request filed under a client's ``Idempotency-Key``: the same user sending the
    same key again gets that request back instead of a second one. ``fingerprint`` is a
    digest of the body the key first came with."""

    user_id: uuid.UUID
    key: str
    fingerprint: str
    request_id: uuid.UUID
    created_at: dt.datetime


class ApiTokenRepository(Protocol):
    """API tokens, looked up by the hash of their secret."""

    def add(self, token: ApiToken) -> None:
        """Insert; DuplicateRecord for a taken id or hash, NotFound for an unknown user,
        InvalidValue for an empty name or hash."""

    def get(self, token_id: uuid.UUID) -> ApiToken | None:
        """The token, or None."""

    def get_by_hash(self, secret_hash: str) -> ApiToken | None:
        """The token whose secret hashes to ``secret_hash`` (revoked or not), or None."""

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        """The user's tokens, newest first, revoked ones included."""

    def revoke(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        """Mark revoked at ``at`` (a revoked token stays revoked at its first time);
        NotFound when absent."""

    def touch(self, token_id: uuid.UUID, at: dt.datetime) -> None:
        """Record a use at ``at``; absent is fine."""


class IdempotencyRepository(Protocol):
    """Idempotency keys of ``POST /api/v1/requests``, unique per (user, key)."""

    def get(self, user_id: uuid.UUID, key: str) -> IdempotencyEntry | None:
        """The entry for the user's key, or None."""

    def put(self, entry: IdempotencyEntry) -> None:
        """Insert; DuplicateRecord when the user already used the key, InvalidValue for an
        empty key, NotFound for an unknown user or request."""

    def purge_before(self, at: dt.datetime) -> int:
        """Delete entries created before ``at``; how many."""
