"""The looking glass on the pages and the API: the snapshot the worker recorded with its
time, Refresh (a form, HTMX, the API) writing one outbox message, the polling part while
a refresh is pending, and who may see it. The worker's part is played by the core's
use case over an in-memory fleet (the web has none)."""

from __future__ import annotations

import uuid

from ztix_core.looking_glass import (
    FilteredRoute,
    LookingGlassServer,
    LookingGlassSession,
    LookingGlassSnapshot,
)
from ztix_core.memory import InMemoryProvider
from ztix_core.memory.fleet import InMemoryFleet
from ztix_core.records import Actor, RouteServer
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner
from ztix_core.usecases._common import TOPIC_LOOKING_GLASS
from ztix_core.usecases.looking_glass import LookingGlass
from ztix_core.values import Asn

from .conftest import Site, later, submit  # type: ignore[import-not-found]
from .test_api import make_api  # type: ignore[import-not-found]

SERVERS = (
    LookingGlassServer(
        "rs1",
        (
            LookingGlassSession(
                "AS64500_v4", "Established", "2026-03-01 12:00:05", "Established", "",
                received=7, accepted=4, filtered=3, exported=345,
            ),
            LookingGlassSession(
                "AS64500_v6", "Active", info="Active Socket: Connection refused",
                last_error="Socket: Connection refused",
            ),
        ),
        (
            FilteredRoute(
                "45.66.0.0/24", "AS64500_v4", ("RPKI invalid",), (13,), "invalid", "64500",
                "10.0.0.11",
            ),
            FilteredRoute("10.10.0.0/16", "AS64500_v4", ("bogon prefix",), (3,)),
            FilteredRoute("45.1.0.0/24", "AS64500_v4", ("unknown reason 77",), (77,), "valid"),
        ),
        filtered_total=503,
    ),
    LookingGlassServer("rs2", error="rs2: connection refused"),
)  # fmt: skip


def _active(site: Site) -> str:
    request_id: str = submit(site, "opa", 64500)
    admin = Actor("user", str(site.users["admin"].id), is_admin=True)
    site.core.workflow.approve(admin, uuid.UUID(request_id))
    provider = InMemoryProvider()
    provider.ensure_network(b.network(1))
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999)), RouteServer("rs2", Asn(64999))])
    provisioner = Provisioner(
        site.core.uow_factory, site.core.clock, provider, fleet, site.core.registry
    )
    assert provisioner.provision(uuid.UUID(request_id)) is RequestStatus.ACTIVE
    return request_id


def _record(site: Site) -> None:
    """The worker's reading lands (what LookingGlass.run stores)."""
    at = later(site, 3)
    with site.core.uow_factory() as uow:
        before = uow.observations.looking_glass(Asn(64500))
        uow.observations.put_looking_glass(
            LookingGlassSnapshot(Asn(64500), at, before.requested_at if before else None, SERVERS)
        )
        uow.commit()


def _messages(site: Site) -> list[dict[str, object]]:
    with site.core.uow_factory() as uow:
        return [
            dict(m.payload) for m in uow.outbox.claim_unsent(1000) if m.topic == TOPIC_LOOKING_GLASS
        ]


def test_the_page_before_any_reading_and_refresh_without_javascript(site: Site) -> None:
    rid = _active(site)
    browser = site.signed_in("opa")
    assert f'href="/requests/{rid}/looking-glass"' in browser.get(f"/requests/{rid}").text
    page = browser.get(f"/requests/{rid}/looking-glass")
    assert page.status_code == 200
    assert "No reading yet" in page.text and "hx-trigger" not in page.text
    result = browser.post(f"/requests/{rid}/looking-glass", {})
    assert result.status_code == 303
    assert result.headers["location"] == f"/requests/{rid}/looking-glass"
    assert _messages(site) == [{"asn": 64500, "request_id": rid}]
    page = browser.get(f"/requests/{rid}/looking-glass")
    assert "Reading the route servers" in page.text
    assert f'hx-get="/requests/{rid}/looking-glass?part=snapshot"' in page.text
    assert "disabled" in page.text  # no second refresh while one is on its way
    browser.post(f"/requests/{rid}/looking-glass", {})
    assert len(_messages(site)) == 1  # coalesced


def test_the_snapshot_with_reasons_counts_and_its_time(site: Site) -> None:
    rid = _active(site)
    browser = site.signed_in("opa")
    browser.get("/")
    browser.post(f"/requests/{rid}/looking-glass", {})
    part = browser.get(f"/requests/{rid}/looking-glass?part=snapshot")
    assert "hx-trigger" in part.text and "<html" not in part.text
    _record(site)
    part = browser.get(f"/requests/{rid}/looking-glass?part=snapshot")
    text = part.text
    assert "hx-trigger" not in text  # the reading landed: polling stops
    assert "As of <time" in text
    for shown in (
        "AS64500_v4",
        "Established",
        "2026-03-01 12:00:05",
        "345",
        "Socket: Connection refused",
        "45.66.0.0/24",
        "RPKI invalid",
        "bogon prefix",
        "unknown reason 77",
        "not checked",
        "500 more filtered routes not shown",
        "rs2: connection refused",
    ):
        assert shown in text, shown


def test_htmx_refresh_answers_with_the_part(site: Site) -> None:
    rid = _active(site)
    _record(site)
    later(site, 60)
    browser = site.signed_in("admin")  # any request, for an admin
    browser.get(f"/requests/{rid}/looking-glass")
    part = browser.post(f"/requests/{rid}/looking-glass", {}, headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert "Refreshing" in part.text and "45.66.0.0/24" in part.text
    assert _messages(site) == [{"asn": 64500, "request_id": rid}]


def test_another_operator_sees_nothing(site: Site) -> None:
    rid = _active(site)
    _record(site)
    browser = site.signed_in("opb")
    page = browser.get(f"/requests/{rid}/looking-glass")
    assert page.status_code == 404 and "45.66.0.0" not in page.text
    browser.get("/dashboard")
    assert browser.post(f"/requests/{rid}/looking-glass", {}).status_code == 404
    assert _messages(site) == []


def test_the_api(site: Site) -> None:
    rid = _active(site)
    api = make_api(site)
    path = f"/api/v1/requests/{rid}/looking-glass"
    empty = api.call("GET", path).json["data"]
    assert empty == {
        "request_id": rid,
        "asn": 64500,
        "available": True,
        "observed_at": None,
        "requested_at": None,
        "pending": False,
        "queued": False,
        "servers": [],
    }
    asked = api.call("POST", path)
    assert asked.status_code == 202 and asked.json["data"]["queued"] is True
    assert asked.json["data"]["pending"] is True
    again = api.call("POST", path, "admin")
    assert again.status_code == 202 and again.json["data"]["queued"] is False
    assert _messages(site) == [{"asn": 64500, "request_id": rid}]
    _record(site)
    data = api.call("GET", path, "admin").json["data"]
    assert data["pending"] is False and data["observed_at"]
    rs1, rs2 = data["servers"]
    assert rs1["sessions"][0]["accepted"] == 4 and rs1["sessions"][0]["established"] is True
    assert rs1["filtered_routes"][0]["reasons"] == ["RPKI invalid"]
    assert rs1["filtered_routes"][0]["rpki"] == "invalid"
    assert (rs1["filtered_total"], rs1["not_shown"]) == (503, 500)
    assert rs2["error"] == "rs2: connection refused" and rs2["sessions"] == []
    assert api.call("GET", path, "opb").status_code == 404


def test_the_workers_reading_through_the_use_case(site: Site) -> None:
    """End to end in memory: refresh on the web, the worker's run, the page."""
    rid = _active(site)
    browser = site.signed_in("opa")
    browser.get("/")
    browser.post(f"/requests/{rid}/looking-glass", {})
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999))])
    fleet.filtered[64500] = (FilteredRoute("10.10.0.0/16", "AS64500_v4", ("bogon prefix",), (3,)),)
    later(site, 1)
    LookingGlass(site.core.uow_factory, site.core.clock, fleet).run(Asn(64500))
    page = browser.get(f"/requests/{rid}/looking-glass").text
    assert "Refreshing" not in page and "rs1" in page
    assert "No session for this member on this server" in page


def test_a_refresh_never_answered_stops_the_polling(site: Site) -> None:
    rid = _active(site)
    browser = site.signed_in("opa")
    browser.get("/")
    browser.post(f"/requests/{rid}/looking-glass", {})
    assert "hx-trigger" in browser.get(f"/requests/{rid}/looking-glass").text
    later(site, 600)  # the worker never answered (its message was lost)
    page = browser.get(f"/requests/{rid}/looking-glass").text
    assert "hx-trigger" not in page and "never answered" in page
    assert "disabled" not in page
    browser.post(f"/requests/{rid}/looking-glass", {})
    assert len(_messages(site)) == 2  # asked again
