"""Helpers every page handler shares: rendering, who is signed in, forms, errors."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import falcon

from ztix_core.errors import (
    Conflict,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
    ZtixError,
)
from ztix_core.records import Actor
from ztix_web.context import WebContext
from ztix_web.middleware import (
    current,
    missing_second_factor,
    session_actor,
    set_session_cookie,
)
from ztix_web.sessions import Current

#: The longest form field the app reads; anything longer is a 400 (notes and reasons have
#: their own, smaller limits in the core).
MAX_FIELD = 4000


def render(
    ctx: WebContext,
    req: falcon.Request,
    resp: falcon.Response,
    template: str,
    status: int = 200,
    /,
    **values: Any,
) -> None:
    """Render ``template`` into the response, with the user and CSRF token at hand."""
    found = current(req)
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = ctx.templates.get_template(template).render(
        user=found.user if found else None,
        csrf_token=found.session.csrf_token if found else "",
        path=req.path,
        poll_s=ctx.ws.poll_interval_s,
        now=ctx.core.clock.now(),
        sign_in_buttons=ctx.sign_in_buttons,
        local_login=ctx.ws.local_login,
        **values,
    )


def ensure_session(ctx: WebContext, req: falcon.Request, resp: falcon.Response) -> Current:
    """The request's session, starting an anonymous one (cookie set) when there is none."""
    found = current(req)
    if found is None:
        token, found = ctx.sessions.start()
        set_session_cookie(ctx, resp, token)
        req.context.current = found
    return found


def login_url(req: falcon.Request) -> str:
    """The sign-in page, coming back to this page afterwards."""
    return "/login?" + urllib.parse.urlencode({"next": req.relative_uri})


def require_user(req: falcon.Request) -> tuple[Current, Actor]:
    """The signed-in session and its actor; otherwise off to the sign-in page (HTMX
    requests are told to go there with ``HX-Redirect``)."""
    found = current(req)
    if found is None or found.user is None:
        if req.get_header("HX-Request"):
            raise falcon.HTTPUnauthorized(
                title="Signed out", headers={"HX-Redirect": login_url(req)}
            )
        raise falcon.HTTPSeeOther(login_url(req))
    return found, session_actor(req, found)


def require_admin(req: falcon.Request) -> tuple[Current, Actor]:
    """Like :func:`require_user`, and the user must be an admin (403 otherwise). With
    ``require_admin_totp`` on, the session must also have passed a TOTP code: otherwise
    off to ``/account/totp`` (to set it up, or to enter a code) and back here after;
    until then :func:`require_user` gives the admin an operator's actor."""
    found, actor = require_user(req)
    assert found.user is not None
    if not found.user.is_admin:
        raise falcon.HTTPForbidden(
            title="Admins only", description="This page is for exchange admins.", code="admin"
        )
    if missing_second_factor(req, found):
        where = "/account/totp?" + urllib.parse.urlencode({"next": req.relative_uri})
        if req.get_header("HX-Request"):
            raise falcon.HTTPForbidden(
                title="Two-factor sign-in needed", headers={"HX-Redirect": where}
            )
        raise falcon.HTTPSeeOther(where)
    return found, actor


def form(req: falcon.Request) -> dict[str, str]:
    """The urlencoded form as single strings (400 for another body or a huge field)."""
    if not (req.content_type or "").startswith("application/x-www-form-urlencoded"):
        raise falcon.HTTPBadRequest(
            title="Bad form", description="Send the form as a normal HTML form.", code="form"
        )
    media = req.get_media(default_when_empty={})
    out: dict[str, str] = {}
    for key, value in (media or {}).items():
        text = value[-1] if isinstance(value, list) else value
        if not isinstance(text, str) or len(text) > MAX_FIELD:
            raise falcon.HTTPBadRequest(
                title="Bad form", description=f"The field {key} is too long.", code="form"
            )
        out[key] = text
    return out


def parse_uuid(raw: str) -> uuid.UUID:
    """A request id from the URL; 404 for anything that is not one."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise falcon.HTTPNotFound(
            title="Not found", description="There is no such request.", code="not_found"
        ) from None


def status_for(error: ZtixError) -> int:
    """The HTTP status that says what a domain refusal means."""
    if isinstance(error, InvalidValue):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, NotEligible):
        return 422
    if isinstance(error, Conflict):
        return 409
    return 400
