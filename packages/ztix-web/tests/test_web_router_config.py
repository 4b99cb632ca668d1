"""The router configuration of an active request: the section on the operator's and the
admin's request pages, the text/plain download and ``GET /api/v1/requests/{id}/router-config``."""

from __future__ import annotations

import uuid

import attrs
import pytest

from ztix_core.bootstrap import NoRouterConfigs
from ztix_core.fleets import NoRouteServers
from ztix_core.memory import InMemoryFleet, InMemoryProvider
from ztix_core.ports import CachedFacts, NetworkFacts, RouterConfigs
from ztix_core.records import Actor, RouteServer
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner
from ztix_core.usecases.router_config import NO_SNIPPETS, RouterConfigQuery
from ztix_core.values import Asn

from .conftest import Site, submit  # type: ignore[import-not-found]
from .test_api import make_api  # type: ignore[import-not-found]

SERVERS = [RouteServer("rs1", Asn(64999)), RouteServer("rs2", Asn(64999))]


def _with(site: Site, configs: RouterConfigs) -> None:
    site.core = attrs.evolve(
        site.core,
        router_config=RouterConfigQuery(
            site.core.uow_factory, configs, site.core.settings.provisioning
        ),
    )


def _active(site: Site) -> str:
    request_id: str = submit(site, "opa", 64500)
    admin = Actor("user", str(site.users["admin"].id), is_admin=True)
    site.core.workflow.approve(admin, uuid.UUID(request_id))
    provider = InMemoryProvider()
    provider.ensure_network(b.network(1))
    provisioner = Provisioner(
        site.core.uow_factory, site.core.clock, provider, InMemoryFleet(SERVERS), site.core.registry
    )
    assert provisioner.provision(uuid.UUID(request_id)) is RequestStatus.ACTIVE
    return request_id


def _expected(site: Site, request_id: str, flavour: str) -> str:
    admin = Actor("user", str(site.users["admin"].id), is_admin=True)
    config = site.core.router_config.for_request(admin, uuid.UUID(request_id))
    text: str = config.snippet(flavour).text
    return text


def test_an_active_request_shows_both_snippets_to_owner_and_admin(site: Site) -> None:
    _with(site, InMemoryFleet(SERVERS))
    request_id = _active(site)
    for who, path in (
        ("opa", f"/requests/{request_id}"),
        ("admin", f"/admin/requests/{request_id}"),
    ):
        page = site.signed_in(who).get(path)
        assert page.status_code == 200
        assert 'id="router-config-h">Router configuration</h2>' in page.text
        for flavour, title in (("bird", "BIRD 2"), ("frr", "FRR")):
            assert f">{title}</h3>" in page.text
            assert f'href="/requests/{request_id}/router-config?flavour={flavour}"' in page.text
            assert "session rs2 AS64999 ipv4 from 10." in page.text
        assert "suggested" in page.text and "1000 IPv4" in page.text


def test_the_download_is_the_snippet_as_text(site: Site) -> None:
    _with(site, InMemoryFleet(SERVERS))
    request_id = _active(site)
    for who in ("opa", "admin"):
        browser = site.signed_in(who)
        for flavour in ("bird", "frr"):
            got = browser.get(f"/requests/{request_id}/router-config?flavour={flavour}")
            assert got.status_code == 200
            assert got.headers["content-type"] == "text/plain; charset=utf-8"
            assert got.headers["content-disposition"] == (
                f'attachment; filename="ztix-as64500-{flavour}.conf"'
            )
            assert got.text == _expected(site, request_id, flavour)
    other = site.signed_in("opb")
    assert other.get(f"/requests/{request_id}/router-config?flavour=bird").status_code == 404
    owner = site.signed_in("opa")
    for bad in ("cisco", ""):
        assert owner.get(f"/requests/{request_id}/router-config?flavour={bad}").status_code == 400
    assert owner.get(f"/requests/{uuid.uuid4()}/router-config?flavour=bird").status_code == 404


def test_a_pending_request_has_no_section_and_no_download(site: Site) -> None:
    _with(site, InMemoryFleet(SERVERS))
    request_id = submit(site, "opa", 64500)
    browser = site.signed_in("opa")
    assert "Router configuration" not in browser.get(f"/requests/{request_id}").text
    got = browser.get(f"/requests/{request_id}/router-config?flavour=bird")
    assert got.status_code == 409 and "router configuration is for active requests" in got.text


def test_the_member_name_is_escaped_on_the_page(site: Site) -> None:
    _with(site, InMemoryFleet(SERVERS))
    request_id = _active(site)
    with site.core.uow_factory() as uow:
        now = site.clock.now()
        uow.network_facts.put(
            CachedFacts(Asn(64500), NetworkFacts(Asn(64500), "<script>x</script>"), now, now)
        )
        uow.commit()
    page = site.signed_in("opa").get(f"/requests/{request_id}")
    assert "<script>x</script>" not in page.text and "&lt;script&gt;x&lt;/script&gt;" in page.text


def test_no_route_servers_and_a_broken_setting_are_said(site: Site) -> None:
    _with(site, NoRouteServers())
    request_id = _active(site)
    browser = site.signed_in("opa")
    assert NO_SNIPPETS.split(",")[0] in browser.get(f"/requests/{request_id}").text
    assert browser.get(f"/requests/{request_id}/router-config?flavour=frr").status_code == 404
    _with(site, NoRouterConfigs("no route server is configured", "bird.servers"))
    page = site.signed_in("opa").get(f"/requests/{request_id}")
    assert page.status_code == 200
    assert "No router configuration: setting bird.servers: no route server is configured" in (
        page.text
    )


@pytest.mark.parametrize("flavour", ["bird", "frr"])
def test_the_api_answers_with_the_snippet_and_the_members_facts(site: Site, flavour: str) -> None:
    _with(site, InMemoryFleet(SERVERS))
    request_id = _active(site)
    api = make_api(site)
    path = f"/api/v1/requests/{request_id}/router-config?flavour={flavour}"
    got = api.call("GET", path, "opa")
    assert got.status_code == 200, got.text
    data = got.json["data"]
    assert data["text"] == _expected(site, request_id, flavour)
    assert (data["flavour"], data["filename"]) == (flavour, f"ztix-as64500-{flavour}.conf")
    assert data["member"]["asn"] == 64500 and data["member"]["suggested_v4"] == 1000
    assert api.call("GET", path, "admin").status_code == 200
    assert api.call("GET", path, "opb").json["error"]["code"] == "not_found"
    bad = api.call("GET", path.replace(flavour, "junos"), "opa")
    assert bad.status_code == 400 and bad.json["error"]["details"]["field"] == "flavour"
    missing = api.call("GET", f"/api/v1/requests/{request_id}/router-config", "opa")
    assert missing.status_code == 400 and "flavour" in missing.json["error"]["message"]
