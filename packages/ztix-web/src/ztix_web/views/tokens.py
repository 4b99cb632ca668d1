"""``/account/tokens``: the signed-in user's own API tokens — list, create (the secret
shown once, on the answer to the form), revoke."""

from __future__ import annotations

import datetime as dt
import uuid

import falcon

from ztix_core.errors import InvalidValue, ZtixError
from ztix_core.records import Actor
from ztix_core.usecases.tokens import ApiTokens
from ztix_web.context import WebContext
from ztix_web.views.common import form, parse_uuid, render, require_user, status_for

MAX_DAYS = 3650


class TokensPage:
    """List and create (GET, POST)."""

    def __init__(self, ctx: WebContext, tokens: ApiTokens) -> None:
        self.ctx = ctx
        self.tokens = tokens

    def _page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        actor: Actor,
        status: int = 200,
        **values: object,
    ) -> None:
        found = current_user_id(actor)
        render(
            self.ctx,
            req,
            resp,
            "tokens.html",
            status,
            tokens=self.tokens.list(actor, found),
            error=values.pop("error", None),
            new_secret=values.pop("new_secret", None),
            new_name=values.pop("new_name", None),
            values=values.pop("values", {}),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The user's tokens and the form for a new one."""
        _, actor = require_user(req)
        self._page(req, resp, actor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create a token; the answer shows its secret once."""
        _, actor = require_user(req)
        values = form(req)
        try:
            expires = None
            raw_days = values.get("expires_days", "").strip()
            if raw_days:
                if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
                    raise InvalidValue("expires_days", f"a whole number of days, 1 to {MAX_DAYS}")
                expires = self.ctx.core.clock.now() + dt.timedelta(days=int(raw_days))
            made = self.tokens.create(
                actor,
                current_user_id(actor),
                values.get("name", ""),
                values.get("scope", "operator"),
                expires,
            )
        except ZtixError as exc:
            self._page(req, resp, actor, status_for(exc), error=exc.message, values=values)
            return
        self._page(req, resp, actor, 201, new_secret=made.secret, new_name=made.token.name)


class RevokeToken:
    """Revoke one of the user's tokens (POST), then back to the list."""

    def __init__(self, ctx: WebContext, tokens: ApiTokens) -> None:
        self.ctx = ctx
        self.tokens = tokens

    def on_post(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        """Revoke at once; another user's token is not found."""
        _, actor = require_user(req)
        self.tokens.revoke(actor, parse_uuid(token_id))
        raise falcon.HTTPSeeOther("/account/tokens")


def current_user_id(actor: Actor) -> uuid.UUID:
    """The signed-in user's id."""
    return uuid.UUID(actor.id)


def register(
    app: falcon.App[falcon.Request, falcon.Response], ctx: WebContext, tokens: ApiTokens
) -> None:
    """Add the token pages to ``app``."""
    app.add_route("/account/tokens", TokensPage(ctx, tokens))
    app.add_route("/account/tokens/{token_id}/revoke", RevokeToken(ctx, tokens))
