"""Admin oversight pages: the audit log (filter, paging, CSV export), the route servers
(apply state, reachability, sessions, last apply) and the controller (readiness,
networks, last backup and drill). The live parts are what the worker last recorded: the
web talks to neither the route servers nor the controller."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse

import falcon

from ztix_web.context import WebContext
from ztix_web.views.common import render, require_admin

PAGE_SIZE = 100
#: The audit port reads newest-first without an offset: pages past this are not offered.
MAX_EVENTS = 10_000


def _action(req: falcon.Request) -> str:
    action = (req.get_param("action") or "").strip()
    if len(action) > 100 or not all(c.isalnum() or c in "._-" for c in action):
        raise falcon.HTTPBadRequest(
            title="Bad filter",
            description="action: letters, digits and . _ - only",
            code="invalid_value",
        )
    return action


class AuditLog:
    """``/admin/audit``: the newest events first, by action; ``?format=csv`` exports."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        require_admin(req)
        action = _action(req)
        page_no = req.get_param_as_int("page", min_value=1, max_value=MAX_EVENTS // PAGE_SIZE)
        page_no = page_no or 1
        csv_export = req.get_param("format") == "csv"
        limit = MAX_EVENTS if csv_export else page_no * PAGE_SIZE + 1
        with self.ctx.core.uow_factory() as uow:
            events = uow.audit.recent(limit, action or None)
        if csv_export:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["at", "actor", "action", "target_type", "target_id", "metadata"])
            for e in events:
                writer.writerow(
                    [
                        e.at.isoformat(),
                        e.actor,
                        e.action,
                        e.target_type,
                        e.target_id,
                        json.dumps(e.metadata, sort_keys=True),
                    ]
                )
            resp.content_type = "text/csv; charset=utf-8"
            resp.downloadable_as = "ztix-audit.csv"
            resp.text = out.getvalue()
            return
        shown = events[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
        more = len(events) > page_no * PAGE_SIZE
        query = {"action": action} if action else {}
        links = {}
        if page_no > 1:
            links["previous"] = "?" + urllib.parse.urlencode(query | {"page": page_no - 1})
        if more:
            links["next"] = "?" + urllib.parse.urlencode(query | {"page": page_no + 1})
        render(
            self.ctx,
            req,
            resp,
            "audit.html",
            events=shown,
            action=action,
            page_no=page_no,
            links=links,
            csv_link="/admin/audit?" + urllib.parse.urlencode(query | {"format": "csv"}),
        )


class RouteServers:
    """``/admin/route-servers``: per server the desired and applied generation, the last
    apply (result, stage, message, duration), reachability and sessions established."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        _, actor = require_admin(req)
        render(
            self.ctx,
            req,
            resp,
            "route_servers.html",
            servers=self.ctx.oversight.route_servers(actor),
            observe_every_s=self.ctx.observe_every_s,
        )


class Controller:
    """``/admin/controller``: the controller's readiness checks with their remediation,
    the exchange networks, and the last backup, drill and restore."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        _, actor = require_admin(req)
        render(
            self.ctx,
            req,
            resp,
            "controller.html",
            seen=self.ctx.oversight.controller(actor),
            provider=self.ctx.core.settings.zt_provider,
            observe_every_s=self.ctx.observe_every_s,
        )
