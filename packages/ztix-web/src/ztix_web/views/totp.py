"""Two-factor sign-in (TOTP): the sign-in's second step (``/login/code``) and the
account's set-up page (``/account/totp``).

Between the password and the code the browser holds a fresh anonymous session whose data
names the account (:data:`PENDING_KEY`): nobody is signed in yet, so no page that needs a
user opens. Only a right code (or an unused recovery code) starts the signed-in session,
which then carries :data:`SECOND_FACTOR_KEY`. With ``require_admin_totp`` on, admin pages
ask for that key (:func:`ztix_web.views.common.require_admin`): an admin without it is sent
to ``/account/totp`` to set TOTP up, or to enter a code when it is on already but this
session came in another way (Sign in with PeeringDB).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import falcon

from ztix_core.errors import Conflict, InvalidValue
from ztix_core.records import Actor, User
from ztix_core.usecases.accounts import TOTP_ISSUER
from ztix_web.context import WebContext
from ztix_web.login import LoginRefused
from ztix_web.middleware import SECOND_FACTOR_KEY, current, set_session_cookie
from ztix_web.qr import qr_svg
from ztix_web.security import safe_next
from ztix_web.sessions import Current
from ztix_web.views.common import form, render, require_user

#: Session data between the two steps: ``{"user": id, "next": path, "until": iso time}``.
PENDING_KEY = "totp_pending"
#: How long the code step waits after the password.
PENDING_FOR = dt.timedelta(minutes=5)


def pending_data(user: User, target: str, now: dt.datetime) -> dict[str, Any]:
    """What the anonymous session carries between the password and the code."""
    until = (now + PENDING_FOR).isoformat()
    return {PENDING_KEY: {"user": str(user.id), "next": target, "until": until}}


def _pending(ctx: WebContext, found: Current | None) -> tuple[User, str] | None:
    """The account waiting for its code and where it goes next, unless the wait is over
    or the account is gone or disabled."""
    if found is None or found.user is not None:
        return None
    raw = found.session.data.get(PENDING_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        until = dt.datetime.fromisoformat(str(raw["until"]))
        user_id = uuid.UUID(str(raw["user"]))
    except (KeyError, ValueError):
        return None
    if until <= ctx.core.clock.now():
        return None
    user = ctx.accounts.get(user_id)
    if user is None or user.disabled:
        return None
    return user, safe_next(str(raw.get("next", "")))


class LoginCode:
    """``/login/code``: the second step of a sign-in whose password was right."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The code form; back to ``/login`` when no sign-in waits for a code."""
        if _pending(self.ctx, current(req)) is None:
            raise falcon.HTTPSeeOther("/login")
        render(self.ctx, req, resp, "login_code.html", error=None)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Check the code; a right one completes the sign-in (a new session)."""
        found = current(req)
        waiting = _pending(self.ctx, found)
        if waiting is None or found is None:
            render(
                self.ctx,
                req,
                resp,
                "login.html",
                401,
                next="/dashboard",
                username="",
                error="The sign-in took too long or was not started. Sign in again.",
            )
            return
        user, target = waiting
        code = form(req).get("code", "")
        try:
            passed = self.ctx.gate.second_step(user, code, req.remote_addr or "unknown")
        except LoginRefused as refused:
            if refused.retry_after is not None:
                resp.set_header("Retry-After", str(refused.retry_after))
            status = 429 if refused.retry_after else 401
            render(self.ctx, req, resp, "login_code.html", status, error=refused.message)
            return
        token, fresh = self.ctx.sessions.sign_in(
            found.session, user, {SECOND_FACTOR_KEY: passed.value}
        )
        set_session_cookie(self.ctx, resp, token)
        req.context.current = fresh
        raise falcon.HTTPSeeOther(target)


class TotpSetup:
    """``/account/totp``: set up two-factor sign-in (QR code, secret, first code, then the
    recovery codes once), see how many recovery codes are left, or — TOTP on, but this
    session never passed a code — enter one to open the admin pages."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def _page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        found: Current,
        actor: Actor,
        status: int = 200,
        *,
        error: str | None = None,
        recovery_codes: list[str] | None = None,
    ) -> None:
        assert found.user is not None
        state = self.ctx.accounts.totp_status(found.user.id)
        enrolment = None
        qr = None
        if not state.active:
            enrolment = self.ctx.accounts.start_totp(actor, found.user.id, TOTP_ISSUER)
            qr = qr_svg(enrolment.uri, "QR code to scan with your authenticator app")
        render(
            self.ctx,
            req,
            resp,
            "totp_setup.html",
            status,
            state=state,
            enrolment=enrolment,
            qr=qr,
            error=error,
            recovery_codes=recovery_codes,
            passed=SECOND_FACTOR_KEY in found.session.data,
            required=self.ctx.core.settings.require_admin_totp and found.user.is_admin,
            next=safe_next(req.get_param("next") or form_next(req)),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The page for the account's state."""
        found, actor = require_user(req)
        self._page(req, resp, found, actor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """``action=confirm``: the first code turns TOTP on and the answer shows the
        recovery codes once; ``action=verify``: a code for this session (throttled and
        audited like a sign-in), then on to ``next``."""
        found, actor = require_user(req)
        assert found.user is not None
        fields = form(req)
        code = fields.get("code", "")
        if fields.get("action") == "verify":
            try:
                passed = self.ctx.gate.second_step(found.user, code, req.remote_addr or "unknown")
            except LoginRefused as refused:
                if refused.retry_after is not None:
                    resp.set_header("Retry-After", str(refused.retry_after))
                status = 429 if refused.retry_after else 401
                self._page(req, resp, found, actor, status, error=refused.message)
                return
            self._elevate(req, resp, found, passed.value)
            raise falcon.HTTPSeeOther(safe_next(fields.get("next")))
        try:
            codes = self.ctx.accounts.confirm_totp(actor, found.user.id, code)
        except InvalidValue as bad:
            self._page(req, resp, found, actor, 400, error=bad.message)
            return
        except Conflict as clash:
            self._page(req, resp, found, actor, 409, error=clash.message)
            return
        fresh = self._elevate(req, resp, found, "totp")
        self._page(req, resp, fresh, actor, recovery_codes=codes)

    def _elevate(
        self, req: falcon.Request, resp: falcon.Response, found: Current, how: str
    ) -> Current:
        """The session passed a code: a new one (new token and CSRF token, as at any
        sign-in, since it may now carry admin rights) that says so."""
        assert found.user is not None
        data = {**found.session.data, SECOND_FACTOR_KEY: how}
        token, fresh = self.ctx.sessions.sign_in(found.session, found.user, data)
        set_session_cookie(self.ctx, resp, token)
        req.context.current = fresh
        return fresh


def form_next(req: falcon.Request) -> str | None:
    """``next`` from a posted form (the pages keep it across their own forms)."""
    if req.method != "POST":
        return None
    media = req.get_media(default_when_empty={})
    value = media.get("next") if isinstance(media, dict) else None
    return value if isinstance(value, str) else None
