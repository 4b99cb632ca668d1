"""Who may do what: every route × {anonymous, operator A, operator B, admin, disabled}."""

from __future__ import annotations

import attrs
import pytest

from ztix_core.records import Actor
from ztix_core.testing import builders as b
from ztix_core.usecases.accounts import Accounts
from ztix_web.testing import Browser

from .conftest import FAST_HASHER, Site, submit  # type: ignore[import-not-found]

ROLES = ("anonymous", "opa", "opb", "admin", "disabled")
A = "{a}"  # operator A's request id, filled in per test
NET = b.network(1).id.value

#: (method, path, form, expected status per role in ROLES order). Anonymous browsers hold
#: an anonymous session (they opened the sign-in page), so their forms pass the CSRF check
#: and meet the sign-in requirement; a disabled user's session is gone, so their forms fail
#: the CSRF check (403) and their pages send them to sign in.
MATRIX: list[tuple[str, str, dict[str, str], tuple[int, int, int, int, int]]] = [
    ("GET", "/healthz", {}, (200, 200, 200, 200, 200)),
    ("GET", "/", {}, (200, 200, 200, 200, 200)),
    ("GET", "/login", {}, (200, 303, 303, 303, 200)),
    ("GET", "/logout", {}, (200, 200, 200, 200, 303)),
    ("GET", "/onboarding", {}, (303, 200, 200, 200, 303)),
    ("GET", "/onboarding/node-check?node_id=abc", {}, (303, 200, 200, 200, 303)),
    ("GET", "/dashboard", {}, (303, 200, 200, 200, 303)),
    ("GET", f"/requests/{A}", {}, (303, 200, 404, 200, 303)),
    ("GET", f"/requests/{A}/status", {}, (303, 200, 404, 200, 303)),
    ("GET", f"/requests/{A}/status?part=sessions", {}, (303, 200, 404, 200, 303)),
    ("GET", "/requests/not-a-uuid", {}, (303, 404, 404, 404, 303)),
    # A's request is pending: no router configuration yet (409), and none for B at all.
    ("GET", f"/requests/{A}/router-config?flavour=bird", {}, (303, 409, 404, 409, 303)),
    ("GET", f"/requests/{A}/router-config?flavour=frr", {}, (303, 409, 404, 409, 303)),
    ("GET", f"/requests/{A}/router-config?flavour=ios", {}, (303, 400, 400, 400, 303)),
    ("GET", f"/requests/{A}/looking-glass", {}, (303, 200, 404, 200, 303)),
    ("GET", f"/requests/{A}/looking-glass?part=snapshot", {}, (303, 200, 404, 200, 303)),
    ("GET", "/requests/not-a-uuid/looking-glass", {}, (303, 404, 404, 404, 303)),
    # a pending request's member is on no route server: nothing to refresh
    ("POST", f"/requests/{A}/looking-glass", {}, (303, 409, 404, 409, 403)),
    ("POST", f"/requests/{A}/leave", {"confirm": "yes"}, (303, 409, 404, 409, 403)),
    (
        "POST",
        "/onboarding",
        {"asn": "64500", "network_id": NET, "node_id": "0000000001"},
        (303, 409, 422, 422, 403),
    ),
    ("GET", "/admin/requests", {}, (303, 403, 403, 200, 303)),
    ("GET", f"/admin/requests/{A}", {}, (303, 403, 403, 200, 303)),
    ("POST", f"/admin/requests/{A}/reject", {"reason": ""}, (303, 403, 403, 400, 403)),
    ("POST", f"/admin/requests/{A}/bogus", {}, (303, 403, 403, 404, 403)),
    ("POST", f"/admin/requests/{A}/approve", {}, (303, 403, 403, 303, 403)),
    ("GET", "/admin/audit", {}, (303, 403, 403, 200, 303)),
    ("GET", "/admin/audit?format=csv", {}, (303, 403, 403, 200, 303)),
    ("GET", "/admin/route-servers", {}, (303, 403, 403, 200, 303)),
    ("GET", "/admin/controller", {}, (303, 403, 403, 200, 303)),
    ("GET", "/nowhere", {}, (404, 404, 404, 404, 404)),
]


def _browser(site: Site, role: str) -> Browser:
    browser: Browser
    if role == "anonymous":
        browser = site.browser()
        browser.get("/login")
    elif role == "disabled":
        browser = site.signed_in("gone")
        Accounts(site.core.uow_factory, site.clock, FAST_HASHER).disable(
            Actor.system("test"), "gone"
        )
    else:
        browser = site.signed_in(role)
    return browser


@pytest.mark.parametrize(("method", "path", "fields", "expected"), MATRIX)
def test_matrix(
    site: Site, method: str, path: str, fields: dict[str, str], expected: tuple[int, ...]
) -> None:
    request_id = submit(site, "opa", 64500)
    url = path.replace(A, request_id)
    got = {}
    for role in ROLES:
        browser = _browser(site, role)
        if method == "GET":
            got[role] = browser.get(url).status_code
        else:
            browser.get("/")  # a page, for the CSRF token of this session
            got[role] = browser.post(url, fields).status_code
    assert got == dict(zip(ROLES, expected, strict=True))


def test_operator_b_never_sees_a_request_of_a(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    browser = site.signed_in("opb")
    for url in (
        f"/requests/{request_id}",
        f"/requests/{request_id}/status",
        f"/requests/{request_id}/looking-glass",
    ):
        page = browser.get(url)
        assert page.status_code == 404 and "AS64500" not in page.text
    assert "AS64500" not in browser.get("/dashboard").text


def test_a_disabled_account_with_a_live_session_is_signed_out(site: Site) -> None:
    browser = site.signed_in("gone")
    assert browser.get("/dashboard").status_code == 200
    with site.core.uow_factory() as uow:  # switched off behind the app's back
        user = uow.users.get(site.users["gone"].id)
        assert user is not None
        uow.users.update(attrs.evolve(user, disabled=True))
        uow.commit()
    result = browser.get("/dashboard")
    assert result.status_code == 303 and result.headers["location"].startswith("/login")
    assert site.browser().login("gone", "a long enough passphrase").status_code == 401
