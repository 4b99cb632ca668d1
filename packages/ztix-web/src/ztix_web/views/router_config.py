"""The router configuration of an active request: the section on the request pages
(operator's and admin's) and ``/requests/{id}/router-config?flavour=bird|frr``, the
snippet as a ``text/plain`` download. The core's ``RouterConfigQuery`` decides who may
read it (the request's owner or an admin) and when (active requests only)."""

from __future__ import annotations

import falcon

from ztix_core.errors import NotFound, PermissionDenied, ZtixError
from ztix_core.ports import ROUTER_FLAVOURS
from ztix_core.records import Actor
from ztix_core.status import RequestStatus
from ztix_core.usecases.queries import RequestDetail
from ztix_web.context import WebContext
from ztix_web.views.common import parse_uuid, require_user


def router_config_values(ctx: WebContext, actor: Actor, detail: RequestDetail) -> dict[str, object]:
    """``router_config`` (None unless the request is active) and ``router_config_error``
    (why it cannot be shown: a setting or a member the fleet cannot write for)."""
    if detail.request.status is not RequestStatus.ACTIVE:
        return {"router_config": None, "router_config_error": None}
    try:
        config = ctx.core.router_config.for_request(actor, detail.request.id)
    except ZtixError as exc:
        return {"router_config": None, "router_config_error": exc.message}
    return {"router_config": config, "router_config_error": None}


class RouterConfigDownload:
    """``/requests/{id}/router-config?flavour=bird|frr``: one snippet as a text file."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """The snippet (GET): 404 for another user's request, 409 unless active, 400
        for an unknown flavour."""
        _, actor = require_user(req)
        rid = parse_uuid(request_id)
        flavour = req.get_param("flavour") or ""
        if flavour not in ROUTER_FLAVOURS:
            raise falcon.HTTPBadRequest(
                title="Unknown flavour",
                description=f"flavour must be one of {', '.join(ROUTER_FLAVOURS)}",
                code="invalid_value",
            )
        try:
            config = self.ctx.core.router_config.for_request(actor, rid)
        except (PermissionDenied, NotFound):
            raise falcon.HTTPNotFound(
                title="Not found", description="There is no such request.", code="not_found"
            ) from None
        snippet = config.snippet(flavour)
        resp.content_type = "text/plain; charset=utf-8"
        resp.set_header("Content-Disposition", f'attachment; filename="{snippet.filename}"')
        resp.set_header("Cache-Control", "no-store")
        resp.text = snippet.text
