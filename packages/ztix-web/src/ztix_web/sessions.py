"""Server-side sessions over the core's :class:`~ztix_core.web_ports.WebSessionRepository`.

The browser holds only an opaque random token (cookie); storage holds its SHA-256, the
CSRF token, the user and the times. A session dies when idle for ``session_idle_s``, at
``created + session_absolute_s`` whatever happens, when its user is disabled, and at
sign-out (deleted server-side). Signing in always starts a new session, so a token planted
before sign-in is worthless after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.records import User
from ztix_core.web_ports import WebSession
from ztix_web.config import WebSettings
from ztix_web.security import new_token, token_key

#: ``last_seen_at`` is written at most this often (not on every page view).
TOUCH_EVERY = dt.timedelta(seconds=60)
#: Expired rows are deleted at most this often per process (when a session starts).
PURGE_EVERY = dt.timedelta(minutes=5)


@attrs.frozen
class Current:
    """The session behind a request and its signed-in user (None when anonymous)."""

    session: WebSession
    user: User | None


class Sessions:
    """Load, start, rotate and end sessions."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ws: WebSettings) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.idle = dt.timedelta(seconds=ws.session_idle_s)
        self.absolute = dt.timedelta(seconds=ws.session_absolute_s)
        self._last_purge: dt.datetime | None = None

    def load(self, token: str | None) -> Current | None:
        """The live session for the cookie's token, or None (and a dead one is deleted)."""
        if not token or len(token) > 200:
            return None
        key = token_key(token)
        now = self.clock.now()
        with self.uow_factory() as uow:
            found = uow.web_sessions.get_with_user(key, now)
            if found is None:
                return None
            session, user = found
            idle = now - session.last_seen_at > self.idle
            if idle or (session.user_id is not None and (user is None or user.disabled)):
                uow.web_sessions.delete(key)
                uow.commit()
                return None
            if now - session.last_seen_at > TOUCH_EVERY:
                session = attrs.evolve(session, last_seen_at=now)
                uow.web_sessions.save(session)
                uow.commit()
            return Current(session, user)

    def _new(self, user: User | None, data: dict[str, Any] | None = None) -> tuple[str, WebSession]:
        token = new_token()
        now = self.clock.now()
        # An anonymous session only carries the sign-in form's CSRF token: it ends when it
        # would go idle, so a stream of visitors leaves no long-lived rows behind.
        lifetime = self.absolute if user is not None else self.idle
        session = WebSession(
            token_key(token),
            new_token(),
            now,
            now,
            now + lifetime,
            user_id=user.id if user is not None else None,
            data=dict(data or {}),
        )
        return token, session

    def start(self) -> tuple[str, Current]:
        """A new anonymous session (it carries the CSRF token of the sign-in form); now and
        then, expired sessions are deleted on the way."""
        token, session = self._new(None)
        now = session.created_at
        purge = self._last_purge is None or now - self._last_purge >= PURGE_EVERY
        with self.uow_factory() as uow:
            if purge:
                uow.web_sessions.purge_expired(now)
                self._last_purge = now
            uow.web_sessions.create(session)
            uow.commit()
        return token, Current(session, None)

    def restart(self, old: WebSession | None, data: dict[str, Any]) -> tuple[str, Current]:
        """End ``old`` and start a fresh anonymous session carrying ``data`` (between the
        password and the code: a new token, so one planted before sign-in learns
        nothing; nobody is signed in yet)."""
        token, session = self._new(None, data)
        with self.uow_factory() as uow:
            if old is not None:
                uow.web_sessions.delete(old.id)
            uow.web_sessions.create(session)
            uow.commit()
        return token, Current(session, None)

    def sign_in(
        self, old: WebSession | None, user: User, data: dict[str, Any] | None = None
    ) -> tuple[str, Current]:
        """End ``old`` and start a fresh session for ``user`` (new token, new CSRF token),
        carrying ``data`` (JSON) for the pages."""
        token, session = self._new(user, data)
        with self.uow_factory() as uow:
            if old is not None:
                uow.web_sessions.delete(old.id)
            uow.web_sessions.create(session)
            uow.commit()
        return token, Current(session, user)

    def put_data(self, session: WebSession, **values: Any) -> WebSession:
        """Store ``values`` (JSON) in the session's data; the updated session."""
        updated = attrs.evolve(session, data={**session.data, **values})
        with self.uow_factory() as uow:
            uow.web_sessions.save(updated)
            uow.commit()
        return updated

    def end(self, session: WebSession) -> None:
        """Delete the session server-side (sign-out)."""
        with self.uow_factory() as uow:
            uow.web_sessions.delete(session.id)
            uow.commit()
