"""The operator's pages: onboarding and submit, dashboard, request detail, leaving."""

from __future__ import annotations

import itertools
import uuid

import falcon

from ztix_core.errors import InvalidValue, NotFound, PermissionDenied, ZtixError
from ztix_core.ports import UnitOfWork
from ztix_core.records import Actor
from ztix_core.usecases.queries import RequestDetail
from ztix_core.values import NodeId
from ztix_web.context import WebContext
from ztix_web.pages import (
    MOVING,
    WITH_SESSIONS,
    choices,
    network_names,
    networks_by_id,
    server_views,
)
from ztix_web.views.common import form, parse_uuid, render, require_user, status_for
from ztix_web.views.router_config import router_config_values


class Onboarding:
    """``/onboarding``: pick an ASN, a network and a node; POST submits the request."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def _page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        status: int = 200,
        error: str | None = None,
        error_field: str | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        found, _ = require_user(req)
        assert found.user is not None
        render(
            self.ctx,
            req,
            resp,
            "onboarding.html",
            status,
            choices=choices(self.ctx.core, found.user, found.session.data),
            error=error,
            error_field=error_field,
            values=values or {},
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        self._page(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Handle the form (POST)."""
        found, _ = require_user(req)
        assert found.user is not None
        fields = form(req)
        values = {k: fields.get(k, "") for k in ("asn", "network_id", "node_id", "notes")}
        try:
            request = self.ctx.core.workflow.submit(
                found.user.id,
                values["asn"],
                values["network_id"],
                values["node_id"].strip(),
                values["notes"],
            )
        except ZtixError as error:
            field = error.field if isinstance(error, InvalidValue) else None
            self._page(req, resp, status_for(error), error.message, field, values)
            return
        raise falcon.HTTPSeeOther(f"/requests/{request.id}")


class NodeCheck:
    """``/onboarding/node-check?node_id=…``: inline validation of a node id (HTMX)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        require_user(req)
        raw = (req.get_param("node_id") or "").strip()
        try:
            NodeId(raw)
            message, ok = f"{raw.lower()} looks right.", True
        except InvalidValue as error:
            message, ok = error.message.removeprefix("node_id: "), False
        render(self.ctx, req, resp, "_node_check.html", message=message, ok=ok)


class Dashboard:
    """``/dashboard``: the operator's requests grouped by ASN."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        _, actor = require_user(req)
        page = self.ctx.core.queries.list_requests(
            Actor("user", actor.id, is_admin=False), limit=500
        )
        by_asn = sorted(page.items, key=lambda r: (r.asn, r.requested_at))
        groups = [(asn, list(items)) for asn, items in itertools.groupby(by_asn, lambda r: r.asn)]
        render(
            self.ctx,
            req,
            resp,
            "dashboard.html",
            groups=groups,
            total=page.total,
            networks=network_names(self.ctx.core),
            moving=MOVING,
        )


def load_detail(ctx: WebContext, actor: Actor, raw_id: str) -> RequestDetail:
    """The request for its owner or an admin; 404 for anyone else (an id says nothing)."""
    try:
        return ctx.core.queries.detail(actor, parse_uuid(raw_id))
    except (PermissionDenied, NotFound):
        raise falcon.HTTPNotFound(
            title="Not found", description="There is no such request.", code="not_found"
        ) from None


def detail_values(ctx: WebContext, actor: Actor, detail: RequestDetail) -> dict[str, object]:
    """What the detail pages (operator's and admin's) show: ``actor`` must be the one
    ``detail`` was loaded for (the sessions query checks it again). The request's own
    rows are read in one unit of work (each unit costs a transaction's round trips on top
    of its queries)."""
    with ctx.core.uow_factory() as uow:
        allocations = uow.allocations.for_request(detail.request.id)
        actors = _actor_names(uow, detail)
        states = uow.route_servers.list()
        networks = networks_by_id(uow)
    sessions = None
    if detail.request.status in WITH_SESSIONS:
        sessions = ctx.oversight.request_sessions(actor, detail.request.id)
    return {
        "actors": actors,
        "detail": detail,
        "req": detail.request,
        "allocations": allocations,
        "servers": server_views(states, detail.membership),
        "networks": networks,
        "moving": MOVING,
        "sessions": sessions,
        "observe_every_s": ctx.observe_every_s,
        "peeringdb": ctx.core.facts.for_request(actor, detail.request.id),
    }


def _actor_names(uow: UnitOfWork, detail: RequestDetail) -> dict[str, str]:
    """Readable names for the users in a timeline (``user:<id>`` → their username)."""
    names = {}
    for event in detail.timeline:
        kind, _, raw = event.actor.partition(":")
        if kind != "user" or event.actor in names:
            continue
        try:
            user = uow.users.get(uuid.UUID(raw))
        except ValueError:
            continue
        if user is not None:
            names[event.actor] = user.username or user.display_name
    return names


class RequestPage:
    """``/requests/{id}``: status, timeline, addresses, route servers, leave."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Render the page (GET)."""
        _, actor = require_user(req)
        detail = load_detail(self.ctx, actor, request_id)
        render(
            self.ctx,
            req,
            resp,
            "request.html",
            **detail_values(self.ctx, actor, detail),
            # the full page only: the live part's polls never compute snippets
            **router_config_values(self.ctx, actor, detail),
        )


class RequestStatus:
    """``/requests/{id}/status``: the live part of the page (polled while moving);
    ``?part=badge`` only the status badge, ``?part=sessions`` only the BGP sessions
    (polled once per observation period while the request stands still)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Render the page (GET)."""
        _, actor = require_user(req)
        detail = load_detail(self.ctx, actor, request_id)
        part = req.get_param("part") or ""
        if part == "badge":  # the dashboard's polls: the status alone, nothing else read
            render(
                self.ctx,
                req,
                resp,
                "_request_live.html",
                badge_only=True,
                part=part,
                req=detail.request,
                moving=MOVING,
            )
            return
        render(
            self.ctx,
            req,
            resp,
            "_request_live.html",
            badge_only=False,
            part=part,
            **detail_values(self.ctx, actor, detail),
        )


class Leave:
    """``/requests/{id}/leave``: the owner (or an admin) takes the member off the exchange
    after ticking the confirmation."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Handle the form (POST)."""
        _, actor = require_user(req)
        detail = load_detail(self.ctx, actor, request_id)
        if form(req).get("confirm") != "yes":
            values = detail_values(self.ctx, actor, detail)
            render(
                self.ctx,
                req,
                resp,
                "request.html",
                400,
                error="Tick the box to confirm that you want to leave the exchange.",
                **values,
            )
            return
        try:
            self.ctx.core.workflow.leave(actor, detail.request.id)
        except ZtixError as error:
            values = detail_values(self.ctx, actor, detail)
            render(
                self.ctx,
                req,
                resp,
                "request.html",
                status_for(error),
                error=error.message,
                **values,
            )
            return
        raise falcon.HTTPSeeOther(f"/requests/{detail.request.id}")
