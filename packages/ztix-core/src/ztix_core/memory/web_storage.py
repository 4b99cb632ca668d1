"""In-memory web storage: sessions, OAuth states and TOTP credentials (see
:mod:`ztix_core.web_ports`)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.records import User
from ztix_core.web_ports import OAuthState, RecoveryCode, TotpCredential, WebSession


class _WebTables(Protocol):
    users: dict[uuid.UUID, Any]
    web_sessions: dict[str, WebSession]
    oauth_states: dict[str, OAuthState]


class _HasTables(Protocol):
    @property
    def tables(self) -> _WebTables: ...


class _TotpTables(Protocol):
    users: dict[uuid.UUID, Any]
    totp: dict[uuid.UUID, TotpCredential]
    totp_recovery: dict[tuple[uuid.UUID, int], RecoveryCode]


class _HasTotpTables(Protocol):
    @property
    def tables(self) -> _TotpTables: ...


def _require_json(data: Any, field: str) -> None:
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(field, f"must be JSON: {exc}") from None


class InMemoryOAuthStates:
    """OAuth states of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def put(self, item: OAuthState) -> None:
        if not item.state:
            raise InvalidValue("state", "must not be empty")
        states = self._uow.tables.oauth_states
        if item.state in states:
            raise DuplicateRecord("OAuth state exists")
        states[item.state] = item

    def take(self, state: str, now: dt.datetime) -> OAuthState | None:
        found = self._uow.tables.oauth_states.pop(state, None)
        return found if found is not None and found.expires_at > now else None

    def get(self, state: str) -> OAuthState | None:
        return self._uow.tables.oauth_states.get(state)

    def purge_expired(self, now: dt.datetime) -> int:
        states = self._uow.tables.oauth_states
        gone = [key for key, item in states.items() if item.expires_at <= now]
        for key in gone:
            del states[key]
        return len(gone)


class InMemoryWebSessions:
    """Web sessions of one in-memory unit of work."""

    def __init__(self, uow: _HasTables) -> None:
        self._uow = uow

    def create(self, session: WebSession) -> None:
        if not session.id:
            raise InvalidValue("session_id", "must not be empty")
        _require_json(session.data, "data")
        tables = self._uow.tables
        if session.user_id is not None and session.user_id not in tables.users:
            raise NotFound(f"user {session.user_id} not found")
        if session.id in tables.web_sessions:
            raise DuplicateRecord("web session exists")
        tables.web_sessions[session.id] = _copy(session)

    def get(self, session_id: str, now: dt.datetime) -> WebSession | None:
        found = self._uow.tables.web_sessions.get(session_id)
        return _copy(found) if found is not None and found.expires_at > now else None

    def get_with_user(
        self, session_id: str, now: dt.datetime
    ) -> tuple[WebSession, User | None] | None:
        session = self.get(session_id, now)
        if session is None:
            return None
        users = self._uow.tables.users
        return session, users.get(session.user_id) if session.user_id is not None else None

    def save(self, session: WebSession) -> None:
        _require_json(session.data, "data")
        sessions = self._uow.tables.web_sessions
        stored = sessions.get(session.id)
        if stored is None:
            raise NotFound("web session not found")
        sessions[session.id] = _copy(attrs.evolve(session, created_at=stored.created_at))

    def delete(self, session_id: str) -> None:
        self._uow.tables.web_sessions.pop(session_id, None)

    def delete_for_user(self, user_id: uuid.UUID) -> int:
        sessions = self._uow.tables.web_sessions
        gone = [key for key, s in sessions.items() if s.user_id == user_id]
        for key in gone:
            del sessions[key]
        return len(gone)

    def purge_expired(self, now: dt.datetime) -> int:
        sessions = self._uow.tables.web_sessions
        gone = [key for key, s in sessions.items() if s.expires_at <= now]
        for key in gone:
            del sessions[key]
        return len(gone)


def _copy(session: WebSession) -> WebSession:
    # The data dict is mutable: keep the stored one apart from the caller's, as a
    # database would (a round trip through JSON).
    data: dict[str, Any] = json.loads(json.dumps(session.data))
    return attrs.evolve(session, data=data)


class InMemoryTotp:
    """TOTP credentials and recovery codes of one in-memory unit of work."""

    def __init__(self, uow: _HasTotpTables) -> None:
        self._uow = uow

    def get(self, user_id: uuid.UUID) -> TotpCredential | None:
        return self._uow.tables.totp.get(user_id)

    def put(self, credential: TotpCredential) -> None:
        if not credential.secret:
            raise InvalidValue("secret", "must not be empty")
        tables = self._uow.tables
        if credential.user_id not in tables.users:
            raise NotFound(f"user {credential.user_id} not found")
        tables.totp[credential.user_id] = credential

    def accept_step(self, user_id: uuid.UUID, step: int) -> bool:
        found = self._uow.tables.totp.get(user_id)
        if found is None or (found.last_step is not None and step <= found.last_step):
            return False
        self._uow.tables.totp[user_id] = attrs.evolve(found, last_step=step)
        return True

    def delete(self, user_id: uuid.UUID) -> bool:
        tables = self._uow.tables
        for key in [k for k in tables.totp_recovery if k[0] == user_id]:
            del tables.totp_recovery[key]
        return tables.totp.pop(user_id, None) is not None

    def set_recovery_codes(self, user_id: uuid.UUID, code_hashes: Sequence[str]) -> None:
        tables = self._uow.tables
        if user_id not in tables.totp:
            raise NotFound(f"user {user_id} has no TOTP credential")
        if any(not h for h in code_hashes):
            raise InvalidValue("code_hash", "must not be empty")
        for key in [k for k in tables.totp_recovery if k[0] == user_id]:
            del tables.totp_recovery[key]
        for index, code_hash in enumerate(code_hashes):
            tables.totp_recovery[(user_id, index)] = RecoveryCode(user_id, index, code_hash)

    def recovery_codes(self, user_id: uuid.UUID) -> list[RecoveryCode]:
        codes = self._uow.tables.totp_recovery
        return [codes[k] for k in sorted(k for k in codes if k[0] == user_id)]

    def use_recovery_code(self, user_id: uuid.UUID, index: int, at: dt.datetime) -> bool:
        codes = self._uow.tables.totp_recovery
        found = codes.get((user_id, index))
        if found is None or found.used_at is not None:
            return False
        codes[(user_id, index)] = attrs.evolve(found, used_at=at)
        return True
