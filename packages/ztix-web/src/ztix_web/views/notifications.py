"""``/account/notifications``: who gets the email about the signed-in operator's
requests, per ASN (blank: the account's email)."""

from __future__ import annotations

import uuid

import falcon

from ztix_core.errors import ZtixError
from ztix_core.records import Actor
from ztix_core.usecases.notify import NotificationPreferences
from ztix_core.values import Asn
from ztix_web.context import WebContext
from ztix_web.views.common import form, render, require_user, status_for

PATH = "/account/notifications"


class NotificationsPage:
    """The user's ASNs with their recipients (GET); store one ASN's list (POST)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.prefs = NotificationPreferences(ctx.core.uow_factory, ctx.core.clock)

    def _page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        actor: Actor,
        status: int = 200,
        **values: object,
    ) -> None:
        render(
            self.ctx,
            req,
            resp,
            "notifications.html",
            status,
            rows=self.prefs.for_user(uuid.UUID(actor.id)),
            error=values.pop("error", None),
            error_asn=values.pop("error_asn", None),
            typed=values.pop("typed", ""),
            saved=values.pop("saved", None),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Every ASN of the account and who gets its mail."""
        _, actor = require_user(req)
        self._page(req, resp, actor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Validate and store one ASN's recipients; a refusal keeps what was typed."""
        _, actor = require_user(req)
        values = form(req)
        asn, typed = values.get("asn", ""), values.get("recipients", "")
        try:
            self.prefs.set_recipients(uuid.UUID(actor.id), asn, typed)
        except ZtixError as exc:
            self._page(
                req, resp, actor, status_for(exc), error=exc.message, error_asn=asn, typed=typed
            )
            return
        self._page(req, resp, actor, saved=Asn.parse(asn).value)
