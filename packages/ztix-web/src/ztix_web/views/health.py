"""``/healthz``: for load balancers and container health checks. No session, no page:
200 when this process can read its storage, 503 (with the reason's type) when not."""

from __future__ import annotations

import falcon

from ztix_web.context import WebContext


class Health:
    """``GET /healthz``."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """One cheap read through a unit of work."""
        resp.cache_control = ["no-store"]
        try:
            with self.ctx.core.uow_factory() as uow:
                uow.route_servers.list()
        except Exception as exc:
            resp.status = falcon.HTTP_503
            resp.media = {"status": "unavailable", "reason": type(exc).__name__}
            return
        resp.media = {"status": "ok"}
