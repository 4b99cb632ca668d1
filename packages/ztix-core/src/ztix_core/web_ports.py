"""Records and ports of the web layer's own storage: server-side sessions, OAuth
sign-ins in flight, and the second factor of local sign-ins (TOTP secrets and recovery
codes).

They are part of every :class:`~ztix_core.ports.UnitOfWork` (``web_sessions``,
``oauth_states``, ``totp``), so the web reaches them through the storage backend the settings name,
like everything else, and never imports an adapter. The in-memory backend implements them
in :mod:`ztix_core.memory.web_storage`; :mod:`ztix_core.testing.web_storage_contract`
holds the suite every backend passes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from ztix_core.records import User


@attrs.frozen
class OAuthState:
    """One OAuth/OIDC sign-in in flight: ``state`` (the key), the OIDC ``nonce`` and the PKCE
    ``code_verifier``, valid until ``expires_at`` and usable once."""

    state: str
    provider: str
    nonce: str
    code_verifier: str
    created_at: dt.datetime
    expires_at: dt.datetime
    redirect_to: str = ""


@attrs.frozen
class WebSession:
    """A server-side session. ``id`` is what the web layer keys it by (a hash of the
    cookie's token, never the token); ``user_id`` is None before sign-in; ``expires_at`` is
    the absolute end, ``last_seen_at`` drives the idle timeout."""

    id: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_id: uuid.UUID | None = None
    data: dict[str, Any] = attrs.field(factory=dict)


class OAuthStateRepository(Protocol):
    """Sign-ins in flight. ``take`` consumes a state: a replayed callback finds nothing."""

    def put(self, item: OAuthState) -> None:
        """Store a new state; DuplicateRecord when the key is taken, InvalidValue when it
        is empty."""

    def take(self, state: str, now: dt.datetime) -> OAuthState | None:
        """Delete and return the state when present and not expired at ``now``."""

    def get(self, state: str) -> OAuthState | None:
        """Peek without consuming (for diagnostics)."""

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete states that expired at or before ``now``; how many."""


class WebSessionRepository(Protocol):
    """Server-side web sessions."""

    def create(self, session: WebSession) -> None:
        """Store a new session; DuplicateRecord for a taken id, NotFound for an unknown
        user, InvalidValue for an empty id or data that is not JSON."""

    def get(self, session_id: str, now: dt.datetime) -> WebSession | None:
        """The session when it exists and has not expired at ``now``."""

    def get_with_user(
        self, session_id: str, now: dt.datetime
    ) -> tuple[WebSession, User | None] | None:
        """Like :meth:`get`, with the session's user (None for an anonymous session) read
        in the same round trip: every page asks for both."""

    def save(self, session: WebSession) -> None:
        """Replace user, CSRF token, data and times of a stored session; NotFound if absent."""

    def delete(self, session_id: str) -> None:
        """Remove the session (sign-out); absent is fine."""

    def delete_for_user(self, user_id: uuid.UUID) -> int:
        """Sign a user out everywhere; how many sessions ended."""

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete sessions that expired at or before ``now``; how many."""


@attrs.frozen
class TotpCredential:
    """A user's TOTP secret (base32). ``confirmed_at`` is None while enrolment waits for
    the first valid code: such a secret does not guard sign-in yet. ``last_step`` is the
    newest time step whose code was accepted; that code and older ones are refused."""

    user_id: uuid.UUID
    secret: str
    created_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    last_step: int | None = None

    @property
    def active(self) -> bool:
        """True once confirmed: sign-in then asks for a code."""
        return self.confirmed_at is not None


@attrs.frozen
class RecoveryCode:
    """One single-use recovery code of a user: its hash (the :class:`PasswordHasher`'s,
    never the code) and when it was used (None: still usable)."""

    user_id: uuid.UUID
    index: int
    code_hash: str
    used_at: dt.datetime | None = None


class TotpRepository(Protocol):
    """TOTP secrets and recovery codes, one credential per user. The two ``use`` methods
    are compare-and-set: of two units of work racing with the same code, one wins."""

    def get(self, user_id: uuid.UUID) -> TotpCredential | None:
        """The user's credential (pending or active), or None."""

    def put(self, credential: TotpCredential) -> None:
        """Create or replace the user's credential; NotFound for an unknown user,
        InvalidValue for an empty secret. Replacing keeps the recovery codes."""

    def accept_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Record ``step`` as the newest accepted when it is newer than ``last_step`` (or
        none is recorded); False, changing nothing, when it is not (a replay) or there is
        no credential."""

    def delete(self, user_id: uuid.UUID) -> bool:
        """Remove the credential and every recovery code; False when there was none."""

    def set_recovery_codes(self, user_id: uuid.UUID, code_hashes: Sequence[str]) -> None:
        """Replace the user's recovery codes with these (unused, indexed from 0); NotFound
        when the user has no credential, InvalidValue for an empty hash."""

    def recovery_codes(self, user_id: uuid.UUID) -> list[RecoveryCode]:
        """Every recovery code of the user, used or not, by index."""

    def use_recovery_code(self, user_id: uuid.UUID, index: int, at: dt.datetime) -> bool:
        """Mark the code used at ``at`` when it is unused; False, changing nothing, when it
        was used already or does not exist."""
