"""Landing, sign-in and sign-out."""

from __future__ import annotations

import falcon

from ztix_web.context import WebContext
from ztix_web.login import LoginRefused
from ztix_web.middleware import clear_session_cookie, current, set_session_cookie
from ztix_web.security import safe_next
from ztix_web.views import totp
from ztix_web.views.common import ensure_session, form, render


class Landing:
    """``/``: what ztix is and the way in."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        render(self.ctx, req, resp, "landing.html")


class Login:
    """``/login``: the local sign-in form (unless ``web.local_login`` is off) and the
    extensions' sign-in buttons; ``next`` may only be a path on this site. An account
    with TOTP goes on to ``/login/code`` still signed out (:mod:`ztix_web.views.totp`)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        found = current(req)
        target = safe_next(req.get_param("next"))
        if found is not None and found.user is not None:
            raise falcon.HTTPSeeOther(target)
        ensure_session(self.ctx, req, resp)
        render(self.ctx, req, resp, "login.html", next=target, username="", error=None)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Handle the form (POST); refused (403) when local sign-in is off."""
        if not self.ctx.ws.local_login:
            raise falcon.HTTPForbidden(
                title="Local sign-in is off",
                description="This exchange signs people in through the buttons on the "
                "sign-in page only.",
                code="local_login_disabled",
            )
        fields = form(req)
        target = safe_next(fields.get("next"))
        username = fields.get("username", "").strip()
        password = fields.get("password", "")
        if not username or not password:
            render(
                self.ctx,
                req,
                resp,
                "login.html",
                400,
                next=target,
                username=username,
                error="Enter your username and password.",
            )
            return
        try:
            passed = self.ctx.gate.attempt(username, password, req.remote_addr or "unknown")
        except LoginRefused as refused:
            if refused.retry_after is not None:
                resp.set_header("Retry-After", str(refused.retry_after))
            render(
                self.ctx,
                req,
                resp,
                "login.html",
                429 if refused.retry_after else 401,
                next=target,
                username=username,
                error=refused.message,
            )
            return
        found = current(req)
        old = found.session if found else None
        if passed.needs_code:
            data = totp.pending_data(passed.user, target, self.ctx.core.clock.now())
            token, fresh = self.ctx.sessions.restart(old, data)
            set_session_cookie(self.ctx, resp, token)
            req.context.current = fresh
            raise falcon.HTTPSeeOther("/login/code")
        token, fresh = self.ctx.sessions.sign_in(old, passed.user)
        set_session_cookie(self.ctx, resp, token)
        req.context.current = fresh
        raise falcon.HTTPSeeOther(target)


class Logout:
    """``/logout``: a confirmation page (GET) and the sign-out itself (POST)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        if current(req) is None:
            raise falcon.HTTPSeeOther("/")
        render(self.ctx, req, resp, "logout.html")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Handle the form (POST)."""
        found = current(req)
        if found is not None:
            self.ctx.sessions.end(found.session)
            if found.user is not None:
                self.ctx.gate.signed_out(found.user, req.remote_addr or "unknown")
        clear_session_cookie(self.ctx, resp)
        raise falcon.HTTPSeeOther("/login")
