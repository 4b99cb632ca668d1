"""Sessions, CSRF, sign-in throttling, redirects and headers."""

from __future__ import annotations

import datetime as dt

import pytest

from ztix_core.testing import builders as b
from ztix_web.security import safe_next, token_key
from ztix_web.testing import ORIGIN

from .conftest import (  # type: ignore[import-not-found]
    FAST_HASHER,
    PASSWORD,
    Site,
    later,
    submit,
)

COOKIE = "__Host-ztix_session"


# ------------------------------------------------------------------ CSRF and Origin


@pytest.mark.parametrize(
    ("csrf", "origin"),
    [
        (None, ORIGIN),  # no token
        ("forged-token", ORIGIN),  # wrong token
        (True, None),  # right token, no Origin (nor Referer)
        (True, "https://evil.example"),  # right token, foreign Origin
        (True, "http://falconframework.org.evil.example"),
    ],
)
def test_unsafe_requests_without_token_or_origin_are_refused(
    site: Site, csrf: str | bool | None, origin: str | None
) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    op = site.signed_in("opa")
    op.get("/onboarding")
    before = site.counts()
    for browser, path, fields in (
        (admin, f"/admin/requests/{request_id}/approve", {}),
        (admin, f"/admin/requests/{request_id}/reject", {"reason": "spam"}),
        (
            op,
            "/onboarding",
            {"asn": "64500", "network_id": b.network(2).id.value, "node_id": "b1b2c3d4e5"},
        ),
        (op, "/logout", {}),
    ):
        result = browser.post(path, fields, csrf=csrf, origin=origin)
        assert result.status_code == 403, (path, result.text)
        assert "Request refused" in result.text
    assert site.counts() == before
    assert op.get("/dashboard").status_code == 200  # still signed in: logout was refused


def test_the_token_may_come_in_a_header(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    admin.get("/admin/requests")
    token = admin.csrf
    assert token is not None
    result = admin.post(
        f"/admin/requests/{request_id}/approve",
        csrf=False,
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert result.status_code == 303


def test_a_referer_from_this_site_stands_in_for_origin(site: Site) -> None:
    op = site.signed_in("opa")
    op.get("/logout")
    result = op.post("/logout", origin=None, headers={"Referer": f"{ORIGIN}/logout"})
    assert result.status_code == 303


# ------------------------------------------------------------------ sessions


def test_session_fixation_the_pre_login_token_dies_at_login(site: Site) -> None:
    browser = site.browser()
    browser.get("/login")
    planted = browser.cookies[COOKIE]
    assert browser.post("/login", {"username": "opa", "password": PASSWORD}).status_code == 303
    fresh = browser.cookies[COOKIE]
    assert fresh != planted
    with site.core.uow_factory() as uow:
        assert uow.web_sessions.get(token_key(planted), site.clock.now()) is None
        stored = uow.web_sessions.get(token_key(fresh), site.clock.now())
        assert stored is not None and stored.user_id == site.users["opa"].id
        assert uow.web_sessions.get(fresh, site.clock.now()) is None  # stored hashed
    attacker = site.browser()
    attacker.cookies[COOKIE] = planted
    result = attacker.get("/dashboard")
    assert result.status_code == 303 and result.headers["location"].startswith("/login")


def test_cookie_flags(site: Site) -> None:
    browser = site.browser()
    result = browser.get("/login")
    cookie = result.cookies[COOKIE]
    assert cookie.http_only and cookie.secure and cookie.same_site == "Lax"
    assert cookie.path == "/"


def test_dev_cookie_is_not_secure(site: Site) -> None:
    import attrs

    site.ws = attrs.evolve(site.ws, dev=True)
    cookie = site.browser().get("/login").cookies["ztix_session"]
    assert not cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_logout_deletes_the_session_server_side(site: Site) -> None:
    browser = site.signed_in("opa")
    token = browser.cookies[COOKIE]
    browser.get("/logout")
    assert browser.post("/logout").status_code == 303
    with site.core.uow_factory() as uow:
        assert uow.web_sessions.get(token_key(token), site.clock.now()) is None
    replay = site.browser()
    replay.cookies[COOKIE] = token
    assert replay.get("/dashboard").status_code == 303


def test_idle_and_absolute_expiry(site: Site) -> None:
    browser = site.signed_in("opa")
    later(site, site.ws.session_idle_s - 10)
    assert browser.get("/dashboard").status_code == 200  # refreshed last_seen
    later(site, site.ws.session_idle_s - 10)
    assert browser.get("/dashboard").status_code == 200
    later(site, site.ws.session_idle_s + 1)
    assert browser.get("/dashboard").status_code == 303  # idle too long
    browser = site.signed_in("opa")
    step = site.ws.session_idle_s - 60
    for _ in range(site.ws.session_absolute_s // step):
        later(site, step)
        browser.get("/dashboard")
    later(site, step)
    assert browser.get("/dashboard").status_code == 303  # past the absolute end


# ------------------------------------------------------------------ sign-in


def test_wrong_password_and_unknown_user_get_the_same_answer(site: Site) -> None:
    answers = []
    for username in ("opa", "nobody"):
        result = site.browser().login(username, "wrong password!!")
        answers.append((result.status_code, "Wrong username or password." in result.text))
    assert answers == [(401, True), (401, True)]


def test_throttling_per_account(site: Site) -> None:
    browser = site.browser()
    for _ in range(site.ws.max_failures_per_account):
        assert browser.login("opa", "wrong password!!").status_code == 401
    later(site, 60)
    result = browser.login("opa", PASSWORD)  # even the right password waits
    assert result.status_code == 429
    wait = site.ws.throttle_window_s - 60
    assert f"Try again in {wait} s." in result.text
    assert result.headers["retry-after"] == str(wait)
    assert site.browser().login("opb", PASSWORD).status_code == 303  # others unaffected
    with site.core.uow_factory() as uow:
        actions = [e.action for e in uow.audit.recent(50)]
    assert "auth.login_throttled" in actions and "auth.login_failed" in actions
    later(site, wait)
    assert browser.login("opa", PASSWORD).status_code == 303


def test_throttling_per_client_address(site: Site) -> None:
    browser = site.browser()
    for i in range(site.ws.max_failures_per_address):
        assert browser.login(f"guess{i}", "wrong password!!").status_code == 401
    result = browser.login("opb", PASSWORD)
    assert result.status_code == 429 and "Try again in" in result.text


def test_a_disabled_account_cannot_sign_in(site: Site) -> None:
    from ztix_core.records import Actor
    from ztix_core.usecases.accounts import Accounts

    Accounts(site.core.uow_factory, site.clock, FAST_HASHER).disable(Actor.system("t"), "opa")
    assert site.browser().login("opa", PASSWORD).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
        "/ok\r\nLocation: https://evil.example",
        "",
    ],
)
def test_next_only_accepts_local_paths(site: Site, target: str) -> None:
    browser = site.browser()
    browser.get("/login")
    result = browser.post("/login", {"username": "opa", "password": PASSWORD, "next": target})
    assert result.status_code == 303
    location = result.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location or location.startswith("/%0d")
    assert "\r" not in location and "\n" not in location


def test_next_keeps_a_local_path(site: Site) -> None:
    browser = site.browser()
    result = browser.get("/onboarding?x=1")
    assert result.headers["location"] == "/login?next=%2Fonboarding%3Fx%3D1"
    browser.get(result.headers["location"])
    result = browser.post(
        "/login", {"username": "opa", "password": PASSWORD, "next": "/onboarding?x=1"}
    )
    assert result.headers["location"] == "/onboarding?x=1"
    assert safe_next("/requests/1") == "/requests/1"


# ------------------------------------------------------------------ headers


def test_security_headers_on_every_response(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    browser = site.signed_in("opa")
    for path in (
        "/",
        "/login",
        "/dashboard",
        f"/requests/{request_id}",
        "/nowhere",
        "/admin/requests",
        "/static/ztix.css",
        "/static/vendor/htmx.min.js",
    ):
        result = browser.get(path)
        csp = result.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp
        assert result.headers["x-content-type-options"] == "nosniff"
        assert result.headers["referrer-policy"] == "same-origin"
    page = browser.get("/dashboard").text
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert 'src="/static/vendor/htmx.min.js"' in page


def test_anonymous_sessions_are_short_and_expired_ones_are_purged(site: Site) -> None:
    for _ in range(3):
        site.browser().get("/login")
    signed = site.signed_in("opa")
    with site.core.uow_factory() as uow:
        mine = uow.web_sessions.get(token_key(signed.cookies[COOKIE]), site.clock.now())
    assert mine is not None
    assert mine.expires_at - mine.created_at == dt.timedelta(seconds=site.ws.session_absolute_s)
    later(site, site.ws.session_idle_s + 1)
    site.browser().get("/login")  # starting a session purges the expired ones
    counts = site.counts()
    sessions = counts.get("web_sessions", 0)
    assert sessions == 2  # the signed-in one (not yet past its absolute end) and the new one
