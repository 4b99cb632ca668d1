"""Middleware: the session behind each request, CSRF + Origin on every unsafe request, and
the security headers on every response."""

from __future__ import annotations

from typing import Any

import falcon

from ztix_core.records import Actor
from ztix_web.context import WebContext
from ztix_web.security import SECURITY_HEADERS, same_token
from ztix_web.sessions import Current

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def cookie_name(ctx: WebContext) -> str:
    """``__Host-`` binds the cookie to this host and path / (browsers require Secure)."""
    return "ztix_session" if ctx.ws.dev else "__Host-ztix_session"


def set_session_cookie(ctx: WebContext, resp: falcon.Response, token: str) -> None:
    """Write the session cookie: HttpOnly, SameSite=Lax, Secure unless dev, path /."""
    resp.set_cookie(
        cookie_name(ctx),
        token,
        max_age=ctx.ws.session_absolute_s,
        path="/",
        secure=not ctx.ws.dev,
        http_only=True,
        same_site="Lax",
    )


def clear_session_cookie(ctx: WebContext, resp: falcon.Response) -> None:
    """Tell the browser to drop the session cookie."""
    resp.unset_cookie(cookie_name(ctx), path="/")


#: Session data key of a session that passed the second step (TOTP code or recovery code).
SECOND_FACTOR_KEY = "second_factor"


def current(req: falcon.Request) -> Current | None:
    """The request's session, if any."""
    found: Current | None = req.context.get("current")
    return found


def missing_second_factor(req: falcon.Request, found: Current) -> bool:
    """True for an admin's session that passed no TOTP code while ``require_admin_totp``
    is on: such a session acts as an operator until it does."""
    return bool(
        found.user is not None
        and found.user.is_admin
        and req.context.get("admin_totp_required")
        and SECOND_FACTOR_KEY not in found.session.data
    )


def session_actor(req: falcon.Request, found: Current) -> Actor:
    """The actor behind a signed-in session: the account's rights, without the admin's
    while :func:`missing_second_factor` (pages, the tokens page and session API calls
    alike)."""
    assert found.user is not None
    actor = Actor.user(found.user)
    if missing_second_factor(req, found):
        return Actor(actor.kind, actor.id, is_admin=False)
    return actor


class SessionMiddleware:
    """Loads ``req.context.current`` from the cookie (static files skip it)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Attach the session behind the cookie (or None) to the request."""
        req.context.current = None
        req.context.admin_totp_required = self.ctx.core.settings.require_admin_totp
        if req.path.startswith("/static/"):
            return
        values = req.get_cookie_values(cookie_name(self.ctx)) or []
        for token in values[:1]:
            req.context.current = self.ctx.sessions.load(token)
        if values and req.context.current is None:
            clear_session_cookie(self.ctx, resp)


def expected_origin(ctx: WebContext, req: falcon.Request) -> str:
    """The origin browsers send for this site: the setting, else the request's own."""
    if ctx.ws.public_origin:
        return ctx.ws.public_origin
    return f"{req.scheme}://{req.netloc}"


class CsrfMiddleware:
    """Every unsafe request must come from this origin (``Origin``, else ``Referer``) and
    carry the session's CSRF token (form field ``csrf_token`` or header
    ``X-CSRF-Token``); otherwise 403 before any handler runs, so nothing changes."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        """Refuse an unsafe request from elsewhere or without the session's token (403)."""
        if req.method in SAFE_METHODS:
            return
        if req.path.startswith("/api/"):
            signed_in = current(req)
            if (
                req.get_header("Authorization") is not None
                or signed_in is None
                or (signed_in.user is None)
            ):
                # A bearer token is no ambient credential a foreign page could make a
                # browser send, and without a signed-in session there is none at all: the
                # API authenticates these itself (ztix_web.api.auth).
                return
        origin = req.get_header("Origin") or _origin_of(req.get_header("Referer"))
        if origin != expected_origin(self.ctx, req):
            raise falcon.HTTPForbidden(
                title="Request refused",
                description="This form was not sent from this site (Origin check). "
                "Reload the page and try again.",
                code="csrf_origin",
            )
        found = current(req)
        given = req.get_header(CSRF_HEADER)
        if (
            given is None
            and req.content_type
            and req.content_type.startswith("application/x-www-form-urlencoded")
        ):
            form = req.get_media(default_when_empty={})
            value = form.get(CSRF_FIELD) if isinstance(form, dict) else None
            given = value if isinstance(value, str) else None
        if found is None or not same_token(found.session.csrf_token, given):
            raise falcon.HTTPForbidden(
                title="Request refused",
                description="The form's security token is missing or out of date. "
                "Reload the page and try again.",
                code="csrf_token",
            )


def _origin_of(referer: str | None) -> str | None:
    if not referer:
        return None
    scheme, sep, rest = referer.partition("://")
    if not sep:
        return None
    return f"{scheme}://{rest.split('/', 1)[0]}"


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; pages are never cached."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        for name, value in SECURITY_HEADERS.items():
            resp.set_header(name, value)
        if not req.path.startswith("/static/") and resp.get_header("Cache-Control") is None:
            # Responses that may be cached (the IX-F export) say so themselves.
            resp.set_header("Cache-Control", "no-store")
