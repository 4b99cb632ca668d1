"""``/requests/{id}/looking-glass``: a member's sessions and filtered routes on every route
server, as the worker last read them, with a Refresh button.

The page shows the stored snapshot with its time; Refresh (a form POST, or HTMX) asks the
worker for a new reading through the outbox and the snapshot part polls itself until a
newer reading lands. Owner or admin only (anyone else gets the 404 of an unknown id)."""

from __future__ import annotations

import uuid

import falcon

from ztix_core.errors import Conflict, NotFound, PermissionDenied
from ztix_core.records import Actor
from ztix_core.usecases.looking_glass import LookingGlassView
from ztix_web.context import WebContext
from ztix_web.views.common import parse_uuid, render, require_user


def _not_found() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(
        title="Not found", description="There is no such request.", code="not_found"
    )


class LookingGlassPage:
    """GET: the page (``?part=snapshot``: only the polled part). POST: refresh."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def _view(self, actor: Actor, request_id: uuid.UUID) -> LookingGlassView:
        try:
            return self.ctx.looking_glass.view(actor, request_id)
        except (PermissionDenied, NotFound):
            raise _not_found() from None

    def _render(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        view: LookingGlassView,
        status: int = 200,
        error: str = "",
    ) -> None:
        part = req.get_param("part") == "snapshot" or bool(req.get_header("HX-Request"))
        template = "_looking_glass.html" if part else "looking_glass.html"
        render(self.ctx, req, resp, template, status, lg=view, req=view.request, error=error)

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Render the page or its snapshot part (GET)."""
        _, actor = require_user(req)
        self._render(req, resp, self._view(actor, parse_uuid(request_id)))

    def on_post(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Ask for a fresh reading (POST): back to the page, or the part for HTMX."""
        _, actor = require_user(req)
        rid = parse_uuid(request_id)
        try:
            view = self.ctx.looking_glass.refresh(actor, rid)
        except (PermissionDenied, NotFound):
            raise _not_found() from None
        except Conflict as error:
            self._render(req, resp, self._view(actor, rid), 409, error.message)
            return
        if req.get_header("HX-Request"):
            self._render(req, resp, view)
            return
        raise falcon.HTTPSeeOther(f"/requests/{rid}/looking-glass")
