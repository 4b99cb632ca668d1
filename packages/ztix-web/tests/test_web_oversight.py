"""The admin queue's counts, the audit log (filter, paging, CSV) and the route servers'
page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

from ztix_core.records import Actor, RouteServerState
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b

from .conftest import Site, later, submit  # type: ignore[import-not-found]


def _counts(page: str) -> dict[str, int]:
    found = re.findall(r'\?status=(\w+)">.*?<span class="count">(\d+)</span>', page)
    return {status: int(n) for status, n in found}


def test_queue_counts_per_status_follow_the_filters(site: Site) -> None:
    first = submit(site, "opa", 64500)
    submit(site, "opb", 64501, "a1b2c3d4e6")
    submit(site, "opa", 64500, "a1b2c3d4e7", network=2)
    site.core.workflow.approve(Actor.user(site.users["admin"]), uuid.UUID(first))
    admin = site.signed_in("admin")
    everything = _counts(admin.get("/admin/requests").text)
    assert list(everything) == [s.value for s in RequestStatus]
    assert everything["pending"] == 2 and everything["approved"] == 1
    assert sum(everything.values()) == 3
    one_asn = _counts(admin.get("/admin/requests?asn=AS64500&status=pending").text)
    assert one_asn["pending"] == one_asn["approved"] == 1 and sum(one_asn.values()) == 2
    net = b.network(2).id.value
    assert sum(_counts(admin.get(f"/admin/requests?network={net}").text).values()) == 1


def test_audit_log_filters_pages_and_exports(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    assert "request.submitted" in page.text and "account.created" in page.text
    only = admin.get("/admin/audit?action=request.submitted")
    assert "request.submitted" in only.text and "account.created" not in only.text
    assert request_id[:8] in only.text
    export = admin.get("/admin/audit?format=csv&action=request.submitted")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["at", "actor", "action"] and len(rows) == 2
    assert rows[1][2] == "request.submitted" and rows[1][4] == request_id
    bad = admin.get("/admin/audit?action=%3Cscript%3E")
    assert bad.status_code == 400 and "letters, digits" in bad.text
    assert admin.get("/admin/audit?page=0").status_code == 400


def test_audit_log_pages(site: Site) -> None:
    browser = site.browser()
    for _ in range(120):  # failed sign-ins are audit events too
        browser.login("nobody", "wrong password!!")
        later(site, 1000)  # out of the throttle window every time
    admin = site.signed_in("admin")
    first = admin.get("/admin/audit?action=auth.login_failed")
    assert first.text.count("auth.login_failed</td>") == 100 and "Older" in first.text
    second = admin.get("/admin/audit?action=auth.login_failed&page=2")
    assert second.text.count("auth.login_failed</td>") == 20 and "Newer" in second.text


def test_route_servers_page(site: Site) -> None:
    admin = site.signed_in("admin")
    assert "No route server" in admin.get("/admin/route-servers").text
    with site.core.uow_factory() as uow:
        uow.route_servers.put(
            RouteServerState(
                "rs1", desired_generation=3, applied_generation=2, last_error="bird: syntax error"
            )
        )
        uow.route_servers.put(RouteServerState("rs2", desired_generation=3, applied_generation=3))
        uow.commit()
    page = admin.get("/admin/route-servers").text
    assert "rs1" in page and "behind" in page and "bird: syntax error" in page
    assert "rs2" in page and "in sync" in page
    assert "drifted" not in page


def test_route_servers_page_shows_drift(site: Site) -> None:
    admin = site.signed_in("admin")
    checked = dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC)
    with site.core.uow_factory() as uow:
        uow.route_servers.put(
            RouteServerState(
                "rs1",
                desired_generation=3,
                applied_generation=3,
                drift="file peers/AS64500.conf: changed; protocols not rendered by ztix: x",
                drift_checked_at=checked,
            )
        )
        uow.route_servers.put(
            RouteServerState(
                "rs2", desired_generation=3, applied_generation=3, drift_checked_at=checked
            )
        )
        uow.commit()
    page = admin.get("/admin/route-servers").text
    assert "drifted" in page
    assert "file peers/AS64500.conf: changed; protocols not rendered by ztix: x" in page
    assert "No drift at the last check" in page and "2026-12-03 01:30 UTC" in page
