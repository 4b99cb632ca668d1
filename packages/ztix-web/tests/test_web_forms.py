"""Every form's bad input: a clear message on the page, a 4xx, nothing written."""

from __future__ import annotations

import pytest

from ztix_core.records import Actor
from ztix_core.testing import builders as b
from ztix_core.usecases.accounts import Accounts

from .conftest import FAST_HASHER, Site, submit  # type: ignore[import-not-found]

NET1 = b.network(1).id.value
NET2 = b.network(2).id.value
GOOD = {"asn": "64500", "network_id": NET1, "node_id": "b1b2c3d4e5", "notes": ""}


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"node_id": "xyz"}, 400, "is not 10 hex digits"),
        ({"node_id": ""}, 400, "is not 10 hex digits"),
        ({"node_id": "ff00000001"}, 400, "reserved"),
        ({"asn": "64512"}, 422, "private"),
        ({"asn": "64501"}, 422, "not linked to your account"),
        ({"asn": "AS-x"}, 400, "not an AS number"),
        ({"network_id": "0123456789abcdef"}, 404, "not an exchange network"),
        ({"network_id": "short"}, 400, "is not 16 hex digits"),
        ({"notes": "x" * 2001}, 400, "at most 2000 characters"),
    ],
)
def test_onboarding_refuses_bad_input(
    site: Site, changes: dict[str, str], status: int, message: str
) -> None:
    browser = site.signed_in("opa")
    browser.get("/onboarding")
    before = site.counts()
    result = browser.post("/onboarding", GOOD | changes)
    assert result.status_code == status, result.text
    assert message in result.text and 'role="alert"' in result.text
    assert site.counts() == before


def test_onboarding_refuses_a_network_the_operator_may_not_use(site: Site) -> None:
    Accounts(site.core.uow_factory, site.clock, FAST_HASHER).grant_network(
        Actor.system("t"), "opa", NET1
    )
    browser = site.signed_in("opa")
    page = browser.get("/onboarding")
    assert NET1 in page.text and NET2 not in page.text  # only the allowed one is offered
    before = site.counts()
    result = browser.post("/onboarding", GOOD | {"network_id": NET2})
    assert result.status_code == 422 and "may not request network" in result.text
    assert site.counts() == before


def test_onboarding_refuses_a_duplicate_live_request(site: Site) -> None:
    existing = submit(site, "opa", 64500)
    browser = site.signed_in("opa")
    browser.get("/onboarding")
    before = site.counts()
    result = browser.post("/onboarding", GOOD)
    assert result.status_code == 409 and existing in result.text
    assert site.counts() == before


def test_onboarding_keeps_what_was_typed(site: Site) -> None:
    browser = site.signed_in("opa")
    browser.get("/onboarding")
    result = browser.post("/onboarding", GOOD | {"node_id": "nothex", "notes": "hello <b>"})
    assert 'value="nothex"' in result.text and "hello &lt;b&gt;" in result.text
    assert 'aria-invalid="true"' in result.text


def test_node_check_says_what_is_wrong(site: Site) -> None:
    browser = site.signed_in("opa")
    assert "Looks right" in browser.get("/onboarding/node-check?node_id=B1B2C3D4E5").text
    assert "not 10 hex digits" in browser.get("/onboarding/node-check?node_id=b1").text


def test_reject_needs_a_reason(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    before = site.counts()
    for reason in ("", "   ", "x" * 1001):
        result = admin.post(f"/admin/requests/{request_id}/reject", {"reason": reason})
        assert result.status_code == 400 and 'role="alert"' in result.text
    assert site.counts() == before


def test_admin_actions_out_of_turn_are_conflicts(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    before = site.counts()
    for action in ("retry", "remove"):
        result = admin.post(f"/admin/requests/{request_id}/{action}")
        assert result.status_code == 409 and "request" in result.text and "pending" in result.text
    missing = "00000000-0000-4000-8000-000000000000"
    assert admin.post(f"/admin/requests/{missing}/approve").status_code == 404
    assert site.counts() == before


def test_leave_needs_the_confirmation(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    browser = site.signed_in("opa")
    browser.get(f"/requests/{request_id}")
    before = site.counts()
    result = browser.post(f"/requests/{request_id}/leave", {})
    assert result.status_code == 400 and "Tick the box" in result.text
    assert site.counts() == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=sleeping", "unknown status"),
        ("asn=AS0", "reserved"),
        ("network=nothex", "is not 16 hex digits"),
        ("age=forever", "unknown age"),
        ("page=0", "page must be a number"),
        ("page=abc", "page must be a number"),
    ],
)
def test_queue_filters_refuse_bad_values(site: Site, query: str, message: str) -> None:
    result = site.signed_in("admin").get(f"/admin/requests?{query}")
    assert result.status_code == 400 and message in result.text


def test_queue_filters_counts_and_paging(site: Site) -> None:
    submit(site, "opa", 64500, node="c1c2c3c400", network=1)
    submit(site, "opa", 64500, node="c1c2c3c401", network=2)
    submit(site, "opb", 64501, node="d1d2d3d4e5")
    admin = site.signed_in("admin")
    page = admin.get("/admin/requests")
    assert "3 matching" in page.text
    assert admin.get("/admin/requests?asn=64501").text.count("AS64501") >= 1
    assert "1 matching" in admin.get("/admin/requests?asn=AS64501").text
    assert "2 matching" in admin.get(f"/admin/requests?network={NET1}").text
    assert "0 matching" in admin.get("/admin/requests?status=active").text
    assert "0 matching" in admin.get("/admin/requests?age=1d").text
