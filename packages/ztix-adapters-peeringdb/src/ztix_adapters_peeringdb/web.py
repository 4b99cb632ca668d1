"""The web side of Sign in with PeeringDB: ``/login/peeringdb`` and its callback, added to
ztix-web through the ``ztix_web_extensions`` hook (ztix-web imports no adapter; this
module imports ztix-web, and only the web app loads it).

``GET /login/peeringdb`` starts a sign-in: it makes sure the browser has a (possibly
anonymous) session, stores a new state (nonce, PKCE verifier) through the core, binds it
to that session and sends the browser to PeeringDB. ``GET /login/peeringdb/callback``
consumes the state (once, from the same session), trades the code, verifies the id_token,
reads ``profile/v1`` and hands the profile to the core's use case; the user is then signed
in exactly as by the local form (``Sessions.sign_in``: new session id, new CSRF token).

Every failure lands on the error page with a short code and a "try again" leading back to
the start; it is logged and audited without secrets and changes no user.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon

from ztix_adapters_peeringdb.oidc import PeeringDbOidc, UpstreamError
from ztix_adapters_peeringdb.signin_settings import SignInSettings
from ztix_core.errors import InvalidValue
from ztix_core.usecases.peeringdb_signin import (
    PeeringDbProfile,
    PeeringDbSignIn,
    SignInRefused,
)
from ztix_web.context import WebContext
from ztix_web.extensions import INELIGIBLE_KEY, SignInButton
from ztix_web.middleware import current, expected_origin, set_session_cookie
from ztix_web.security import safe_next
from ztix_web.views.common import ensure_session, render

log = logging.getLogger("ztix_adapters_peeringdb.signin")

START = "/login/peeringdb"
CALLBACK = "/login/peeringdb/callback"
#: The session data key holding the states this browser started, newest last.
STATE_KEY = "peeringdb_states"
#: How many started sign-ins one browser keeps (two tabs, a double click).
KEEP_STATES = 5


class PeeringDbWeb:
    """The web extension (see :class:`ztix_web.extensions.WebExtension`)."""

    def __init__(
        self, settings: SignInSettings, client_secret: str, oidc: PeeringDbOidc | None = None
    ) -> None:
        self.s = settings
        self._secret = client_secret
        self._oidc = oidc
        self.flow: Flow | None = None

    def sign_in_buttons(self) -> list[SignInButton]:
        """One button: the label from the settings, leading to ``/login/peeringdb``."""
        return [SignInButton(self.s.label, START)]

    def add_routes(self, app: falcon.App[Any, Any], ctx: WebContext) -> None:
        """``/login/peeringdb`` and ``/login/peeringdb/callback``."""
        oidc = self._oidc or PeeringDbOidc(self.s, self._secret, ctx.core.clock)
        self.flow = Flow(ctx, self.s, oidc)
        app.add_route(START, Start(self.flow))
        app.add_route(CALLBACK, Callback(self.flow))


class Flow:
    """What both routes share: settings, the OIDC client, the core use case."""

    def __init__(self, ctx: WebContext, settings: SignInSettings, oidc: PeeringDbOidc) -> None:
        self.ctx = ctx
        self.s = settings
        self.oidc = oidc
        self.signin = PeeringDbSignIn(ctx.core.uow_factory, ctx.core.clock, settings.state_ttl_s)

    def redirect_uri(self, req: falcon.Request) -> str:
        """The callback URL, identical in the authorization and the token request."""
        return self.s.redirect_url or expected_origin(self.ctx, req) + CALLBACK

    def fail(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        http_status: int,
        code: str,
        message: str,
        detail: dict[str, Any] | None = None,
        *,
        audit: bool = True,
    ) -> None:
        """Log, audit and show a failed sign-in (nothing else changes)."""
        detail = detail or {}
        client = req.remote_addr or "unknown"
        log.warning("PeeringDB sign-in failed: code=%s client=%s detail=%s", code, client, detail)
        if audit:
            self.signin.record_failure(code, client, detail)
        render(
            self.ctx,
            req,
            resp,
            "error.html",
            http_status,
            title="Sign in with PeeringDB did not work",
            message=message,
            code=code,
            retry=START,
            http_status=http_status,
        )


class Start:
    """``/login/peeringdb``: start a sign-in and send the browser to PeeringDB."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Store a state bound to this browser's session, then redirect (303)."""
        target = safe_next(req.get_param("next"))
        found = current(req)
        if found is not None and found.user is not None:
            raise falcon.HTTPSeeOther(target)
        try:
            self.flow.oidc.discovery()
        except UpstreamError as error:
            self.flow.fail(req, resp, 502, error.code, error.message, error.detail)
            return
        found = ensure_session(self.flow.ctx, req, resp)
        item = self.flow.signin.begin(target)
        states = [*_started(found.session.data), item.state]
        self.flow.ctx.sessions.put_data(found.session, **{STATE_KEY: states[-KEEP_STATES:]})
        url = self.flow.oidc.authorization_url(item, self.flow.redirect_uri(req))
        raise falcon.HTTPSeeOther(url)


class Callback:
    """``/login/peeringdb/callback``: finish the sign-in PeeringDB sent back."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """State, code, tokens, id_token, profile, user; then a fresh session (303)."""
        flow = self.flow
        client = req.remote_addr or "unknown"
        found = current(req)
        started = _started(found.session.data) if found is not None else []
        try:
            item = flow.signin.take_state(
                req.get_param("state") or "",
                client,
                started=started,
            )
        except SignInRefused as refused:
            # take_state audited it already.
            flow.fail(req, resp, 400, refused.code, refused.message, audit=False)
            return
        error = req.get_param("error")
        code = req.get_param("code")
        if error or not code:
            flow.fail(
                req,
                resp,
                502,
                "provider_refused",
                "PeeringDB did not sign you in"
                + (" (you declined)." if error == "access_denied" else "."),
                {"step": "callback", "error": (error or "no_code")[:100]},
            )
            return
        redirect_uri = flow.redirect_uri(req)
        try:
            tokens = flow.oidc.exchange(code, item, redirect_uri)
            claims = flow.oidc.verify_id_token(tokens["id_token"], item.nonce)
            raw = flow.oidc.profile(tokens["access_token"])
        except UpstreamError as failed:
            flow.fail(req, resp, 502, failed.code, failed.message, failed.detail)
            return
        try:
            profile = PeeringDbProfile.parse(raw)
        except InvalidValue as bad:
            flow.fail(
                req,
                resp,
                502,
                "profile_invalid",
                "PeeringDB sent a profile ztix cannot read.",
                {"step": "profile", "field": bad.field},
            )
            return
        if str(claims.get("sub")) != str(profile.id):
            flow.fail(
                req,
                resp,
                502,
                "id_token_invalid",
                "PeeringDB's answer could not be verified.",
                {"step": "profile", "reason": "subject_mismatch"},
            )
            return
        try:
            outcome = flow.signin.sign_in(profile, client)
        except SignInRefused as refused:
            flow.fail(req, resp, 403, refused.code, refused.message, audit=False)
            return
        data = {
            INELIGIBLE_KEY: [
                {"asn": n.asn.value, "name": n.name, "reason": n.reason} for n in outcome.ineligible
            ]
        }
        token, fresh = flow.ctx.sessions.sign_in(
            found.session if found is not None else None, outcome.user, data
        )
        set_session_cookie(flow.ctx, resp, token)
        req.context.current = fresh
        raise falcon.HTTPSeeOther(safe_next(item.redirect_to))


def _started(data: dict[str, Any]) -> list[str]:
    """The states a session's data says this browser started."""
    found = data.get(STATE_KEY)
    return [s for s in found if isinstance(s, str)] if isinstance(found, list) else []
