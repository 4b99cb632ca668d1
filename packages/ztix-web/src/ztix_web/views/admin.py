"""The admin's pages: the queue (filters, paging, counts per status) and a request's page
with approve (optionally with fixed addresses), reject (reason required), retry, remove,
and the member's settings (display name, max-prefix)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid

import falcon

from ztix_core.bootstrap import App
from ztix_core.errors import InvalidValue, ZtixError
from ztix_core.records import Actor, AuditEvent
from ztix_core.status import RequestStatus
from ztix_core.usecases.members import CHANGEABLE
from ztix_core.values import Asn, NetworkId
from ztix_web.context import WebContext
from ztix_web.pages import network_names
from ztix_web.views.common import form, parse_uuid, render, require_admin, status_for
from ztix_web.views.operator import detail_values, load_detail
from ztix_web.views.router_config import router_config_values

PAGE_SIZE = 50
AGES = {
    "": None,
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
}


def _filters(req: falcon.Request) -> tuple[dict[str, str], list[str]]:
    raw = {k: (req.get_param(k) or "").strip() for k in ("status", "asn", "network", "age", "page")}
    problems = []
    if raw["status"] and raw["status"] not in {s.value for s in RequestStatus}:
        problems.append(f"unknown status {raw['status']!r}")
    if raw["asn"]:
        try:
            Asn.parse(raw["asn"])
        except ZtixError as error:
            problems.append(error.message)
    if raw["network"]:
        try:
            NetworkId(raw["network"])
        except ZtixError as error:
            problems.append(error.message)
    if raw["age"] not in AGES:
        problems.append(f"unknown age {raw['age']!r}")
    if raw["page"] and (not raw["page"].isdigit() or not 1 <= int(raw["page"]) <= 100_000):
        problems.append("page must be a number from 1")
    return raw, problems


class Queue:
    """``/admin/requests``: every request, newest first, filtered and paged."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Render the page (GET)."""
        _, actor = require_admin(req)
        raw, problems = _filters(req)
        if problems:
            render(
                self.ctx,
                req,
                resp,
                "queue.html",
                400,
                error="; ".join(problems),
                filters=raw,
                page=None,
                counts={},
                statuses=[],
                networks=network_names(self.ctx.core),
                page_no=1,
                pages=1,
                links={},
            )
            return
        render(
            self.ctx,
            req,
            resp,
            "queue.html",
            error=None,
            filters=raw,
            **queue_values(self.ctx.core, actor, raw),
        )


def queue_values(core: App, actor: Actor, raw: dict[str, str]) -> dict[str, object]:
    """What the queue shows for valid filters ``raw``: the page, the counts per status
    under the same filters, the networks and the paging links."""
    page_no = int(raw["page"] or "1")
    page = core.queries.queue_page(
        actor,
        status=RequestStatus(raw["status"]) if raw["status"] else None,
        asn=Asn.parse(raw["asn"]) if raw["asn"] else None,
        network_id=NetworkId(raw["network"]) if raw["network"] else None,
        older_than=AGES[raw["age"]],
        limit=PAGE_SIZE,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-page.total // PAGE_SIZE))
    links = {}
    for name, number in (("previous", page_no - 1), ("next", page_no + 1)):
        if 1 <= number <= pages:
            query = {k: v for k, v in raw.items() if v and k != "page"} | {"page": number}
            links[name] = "/admin/requests?" + urllib.parse.urlencode(query)
    return {
        "page": page,
        "counts": {s.value: n for s, n in page.counts.items()},
        "statuses": [s.value for s in RequestStatus],
        "networks": network_names(core),
        "page_no": page_no,
        "pages": pages,
        "links": links,
    }


def _policy_checks(timeline: tuple[AuditEvent, ...]) -> dict[str, bool]:
    for event in reversed(timeline):
        checks = event.metadata.get("checks")
        if isinstance(checks, dict) and checks:
            return {str(k): bool(v) for k, v in checks.items()}
    return {}


class AdminRequest:
    """``/admin/requests/{id}``: the request with its operator and the decision forms."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        actor: Actor,
        request_id: str,
        status: int = 200,
        error: str | None = None,
    ) -> None:
        """Render the admin's request page (with an error message when given)."""
        detail = load_detail(self.ctx, actor, request_id)
        with self.ctx.core.uow_factory() as uow:
            owner = uow.users.get(detail.request.user_id)
            links = uow.asn_links.list_for_user(detail.request.user_id)
        render(
            self.ctx,
            req,
            resp,
            "admin_request.html",
            status,
            owner=owner,
            owner_links=links,
            checks=_policy_checks(detail.timeline),
            member=self.ctx.core.members.get(detail.request.id),
            member_editable=detail.request.status in CHANGEABLE,
            error=error,
            **detail_values(self.ctx, actor, detail),
            **router_config_values(self.ctx, actor, detail),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        """Render the page (GET)."""
        _, actor = require_admin(req)
        self.page(req, resp, actor, request_id)


def _max_prefix_field(fields: dict[str, str], name: str) -> int | None:
    """A max-prefix from the form: empty clears it (the next source holds again)."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(
            name, f"{text!r} is not a whole number (leave it empty to clear)"
        ) from None


class AdminAction:
    """``/admin/requests/{id}/{action}``: approve (with optional fixed addresses), reject,
    retry, remove, and ``member`` (the member's display name and max-prefix)."""

    ACTIONS = ("approve", "reject", "retry", "remove", "member")

    def __init__(self, ctx: WebContext, page: AdminRequest) -> None:
        self.ctx = ctx
        self.page = page

    def on_post(
        self, req: falcon.Request, resp: falcon.Response, request_id: str, action: str
    ) -> None:
        """Run the named action; the page again with the refusal when it is refused."""
        _, actor = require_admin(req)
        if action not in self.ACTIONS:
            raise falcon.HTTPNotFound(
                title="Not found", description="There is no such action.", code="not_found"
            )
        rid: uuid.UUID = parse_uuid(request_id)
        fields = form(req)
        workflow, members = self.ctx.core.workflow, self.ctx.core.members
        try:
            if action == "approve":
                ipv4, ipv6 = fields.get("ipv4", "").strip(), fields.get("ipv6", "").strip()
                if ipv4 or ipv6:
                    members.approve(actor, rid, ipv4=ipv4 or None, ipv6=ipv6 or None)
                else:
                    workflow.approve(actor, rid)
            elif action == "member":
                members.set(
                    actor,
                    rid,
                    display_name=fields.get("display_name", ""),
                    max_prefix_v4=_max_prefix_field(fields, "max_prefix_v4"),
                    max_prefix_v6=_max_prefix_field(fields, "max_prefix_v6"),
                )
            elif action == "reject":
                workflow.reject(actor, rid, fields.get("reason", ""))
            elif action == "retry":
                workflow.retry(actor, rid)
            else:
                workflow.leave(actor, rid)
        except ZtixError as error:
            self.page.page(req, resp, actor, request_id, status_for(error), error.message)
            return
        raise falcon.HTTPSeeOther(f"/admin/requests/{rid}")
