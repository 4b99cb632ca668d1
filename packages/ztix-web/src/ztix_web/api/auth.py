"""Who is calling the API: a bearer API token (scripts) or the browser session.

A bearer token is checked by the core (:class:`~ztix_core.usecases.tokens.ApiTokens`):
unknown, revoked, expired or a disabled account is 401 ``token_refused``. Bearer calls are
not subject to CSRF (a script's header is not an ambient credential a page could borrow);
session calls are, through the same middleware as the pages. The secret is never logged:
only the token's id and prefix travel further.
"""

from __future__ import annotations

import attrs
import falcon

from ztix_core.records import Actor, User
from ztix_core.usecases.tokens import ApiTokens, TokenRefused
from ztix_web.api.envelopes import ApiError
from ztix_web.middleware import current, session_actor


@attrs.frozen
class Caller:
    """The account behind a call, the actor the use cases see, and the token's id when
    the call came with one (None: the browser session)."""

    user: User
    actor: Actor
    token_id: str | None = None


def bearer_secret(req: falcon.Request) -> str | None:
    """The secret of an ``Authorization: Bearer …`` header (None when there is none)."""
    header = req.get_header("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            "unauthorized",
            "the Authorization header must be 'Bearer <token>'",
            {"WWW-Authenticate": 'Bearer realm="ztix"'},
        )
    return secret.strip()


def identify(tokens: ApiTokens, req: falcon.Request) -> Caller | None:
    """The caller (token first, then the session), or None when there is neither."""
    secret = bearer_secret(req)
    if secret is not None:
        try:
            bearer = tokens.authenticate(secret)
        except TokenRefused as exc:
            raise ApiError(
                "token_refused",
                exc.message,
                {"WWW-Authenticate": 'Bearer realm="ztix", error="invalid_token"'},
            ) from None
        return Caller(bearer.user, bearer.actor, str(bearer.token.id))
    found = current(req)
    if found is not None and found.user is not None:
        return Caller(found.user, session_actor(req, found))
    return None
