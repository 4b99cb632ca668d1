"""OAuth transient state and server-side web sessions: the core's web storage ports
(:mod:`ztix_core.web_ports`) on SQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, select, update

from ztix_adapters_sql.mapping import user_record
from ztix_adapters_sql.models import OAuthStateRow, UserRow, WebSessionRow
from ztix_adapters_sql.repositories._base import SqlRepository, require_json, violation_error
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.records import User
from ztix_core.web_ports import OAuthState, WebSession


def _oauth_record(row: OAuthStateRow) -> OAuthState:
    return OAuthState(
        state=row.state,
        provider=row.provider,
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        created_at=row.created_at,
        expires_at=row.expires_at,
        redirect_to=row.redirect_to,
    )


def _session_record(row: WebSessionRow) -> WebSession:
    return WebSession(
        id=row.id,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        user_id=row.user_id,
        data=dict(row.data or {}),
    )


class SqlOAuthStateRepository(SqlRepository):
    """Sign-ins in flight. ``take`` consumes a state: a replayed callback finds nothing."""

    def put(self, item: OAuthState) -> None:
        """Store a new state; DuplicateRecord when the key is taken."""
        if not item.state:
            raise InvalidValue("state", "must not be empty")
        values = {
            "state": item.state,
            "provider": item.provider,
            "nonce": item.nonce,
            "code_verifier": item.code_verifier,
            "redirect_to": item.redirect_to,
            "created_at": item.created_at,
            "expires_at": item.expires_at,
        }
        violation = self._insert(OAuthStateRow, values, "OAuth state")
        if violation is None:
            return
        if violation.kind == "unique":
            raise DuplicateRecord("OAuth state exists")
        raise violation_error(violation, "OAuth state")

    def take(self, state: str, now: dt.datetime) -> OAuthState | None:
        """Delete and return the state when present and not expired at ``now``."""
        row = self.session.execute(
            delete(OAuthStateRow)
            .where(OAuthStateRow.state == state)
            .returning(*OAuthStateRow.__table__.columns)
        ).first()
        if row is None:
            return None
        found = OAuthState(
            state=row.state,
            provider=row.provider,
            nonce=row.nonce,
            code_verifier=row.code_verifier,
            created_at=_utc(row.created_at),
            expires_at=_utc(row.expires_at),
            redirect_to=row.redirect_to,
        )
        return found if found.expires_at > now else None

    def get(self, state: str) -> OAuthState | None:
        """Peek without consuming (for diagnostics)."""
        row = self._get(OAuthStateRow, state)
        return _oauth_record(row) if row is not None else None

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete states that expired at or before ``now``; how many."""
        result = self.session.execute(
            delete(OAuthStateRow)
            .where(OAuthStateRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _utc(value: Any) -> dt.datetime:
    # RETURNING rows bypass nothing: the column type already made them aware UTC.
    assert isinstance(value, dt.datetime)
    return value


class SqlWebSessionRepository(SqlRepository):
    """Server-side sessions."""

    def create(self, session: WebSession) -> None:
        """Store a new session; DuplicateRecord for a taken id, NotFound for an unknown user."""
        if not session.id:
            raise InvalidValue("session_id", "must not be empty")
        require_json(session.data, "data")
        if session.user_id is not None:
            found = self.session.scalar(select(UserRow.id).where(UserRow.id == session.user_id))
            if found is None:
                raise NotFound(f"user {session.user_id} not found")
        values = {
            "id": session.id,
            "user_id": session.user_id,
            "csrf_token": session.csrf_token,
            "data": session.data,
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
            "expires_at": session.expires_at,
        }
        violation = self._insert(WebSessionRow, values, "web session")
        if violation is None:
            return
        if violation.kind == "unique":
            raise DuplicateRecord("web session exists")
        raise violation_error(violation, "web session")

    def get(self, session_id: str, now: dt.datetime) -> WebSession | None:
        """The session when it exists and has not expired at ``now``."""
        row = self._first(
            select(WebSessionRow).where(
                WebSessionRow.id == session_id, WebSessionRow.expires_at > now
            )
        )
        return _session_record(row) if row is not None else None

    def get_with_user(
        self, session_id: str, now: dt.datetime
    ) -> tuple[WebSession, User | None] | None:
        """The session and its user in one statement (an outer join)."""
        found = self.session.execute(
            select(WebSessionRow, UserRow)
            .outerjoin(UserRow, UserRow.id == WebSessionRow.user_id)
            .where(WebSessionRow.id == session_id, WebSessionRow.expires_at > now)
            .execution_options(populate_existing=True)
        ).first()
        if found is None:
            return None
        session_row, user_row = found
        return _session_record(session_row), user_record(user_row) if user_row else None

    def save(self, session: WebSession) -> None:
        """Replace user, CSRF token, data and times of a stored session; NotFound if absent."""
        require_json(session.data, "data")
        result, violation = self._guarded(
            update(WebSessionRow)
            .where(WebSessionRow.id == session.id)
            .values(
                user_id=session.user_id,
                csrf_token=session.csrf_token,
                data=session.data,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
            )
            .execution_options(synchronize_session=False)
        )
        if violation is not None:
            raise violation_error(violation, "web session")
        assert result is not None
        if result.rowcount == 0:
            raise NotFound("web session not found")

    def delete(self, session_id: str) -> None:
        """Remove the session (sign-out); absent is fine."""
        self.session.execute(
            delete(WebSessionRow)
            .where(WebSessionRow.id == session_id)
            .execution_options(synchronize_session=False)
        )

    def delete_for_user(self, user_id: uuid.UUID) -> int:
        """Sign a user out everywhere; how many sessions ended."""
        result = self.session.execute(
            delete(WebSessionRow)
            .where(WebSessionRow.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete sessions that expired at or before ``now``; how many."""
        result = self.session.execute(
            delete(WebSessionRow)
            .where(WebSessionRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
