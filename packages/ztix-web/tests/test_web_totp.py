"""Two-factor sign-in over HTTP, on the in-memory storage and on SQLite: set-up with the QR
code and a first code, recovery codes shown once, the sign-in in two steps (signed out
until the code), replays and used recovery codes refused, the code step throttled with
the password's limits, and admins kept from admin pages until they set TOTP up when
``require_admin_totp`` is on."""

from __future__ import annotations

import re
import urllib.parse

import attrs
import pytest

from ztix_core import totp
from ztix_core.records import User
from ztix_web.middleware import cookie_name
from ztix_web.sessions import Sessions
from ztix_web.testing import Browser

from .conftest import PASSWORD, Site, later  # type: ignore[import-not-found]

SECRET = re.compile(r'id="totp-secret"[^>]*value="([A-Z2-7]+)"')
CODES = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")


def enrol(site: Site, browser: Browser) -> tuple[str, list[str]]:
    """Set TOTP up through the page; the secret and the recovery codes it showed."""
    page = browser.get("/account/totp")
    assert page.status_code == 200
    assert '<svg role="img" aria-label="QR code to scan with your authenticator app"' in page.text
    found = SECRET.search(page.text)
    assert found is not None, page.text
    secret = found.group(1)
    done = browser.post("/account/totp", {"action": "confirm", "code": code(site, secret)})
    assert done.status_code == 200, done.text
    codes = CODES.findall(done.text)
    assert len(codes) == 10 and "shown only once" in done.text
    later(site, 30)  # the confirming code's step is used up
    return secret, codes


def code(site: Site, secret: str) -> str:
    return totp.totp(secret, site.clock.now())


def sign_out(browser: Browser) -> None:
    browser.get("/dashboard")
    assert browser.post("/logout").status_code == 303


def password_step(browser: Browser, name: str) -> None:
    result = browser.login(name, PASSWORD)
    assert (result.status_code, result.headers["location"]) == (303, "/login/code")
    assert browser.get("/login/code").status_code == 200  # as a browser follows it


def actions(site: Site) -> list[str]:
    with site.core.uow_factory() as uow:
        return [e.action for e in reversed(uow.audit.recent(200))]


def test_set_up_then_sign_in_with_password_and_code(site: Site) -> None:
    browser = site.signed_in("opa")
    page = browser.get("/account/totp")
    secret = SECRET.search(page.text)
    assert secret is not None
    uri = "otpauth://totp/ztix:opa?secret=" + secret.group(1)
    assert 'href="/account/totp" aria-current="page"' in page.text
    # the same pending secret on a reload
    assert SECRET.search(browser.get("/account/totp").text).group(1) == secret.group(1)  # type: ignore[union-attr]
    before = site.counts()
    wrong = browser.post("/account/totp", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400 and "is not the code your app shows now" in wrong.text
    assert site.counts() == before
    assert uri.startswith("otpauth://totp/ztix:opa")
    secret_text, recovery = enrol(site, browser)
    assert (
        'Unused recovery codes: <span class="count">10</span>' in browser.get("/account/totp").text
    )
    # the codes are not on the page again
    assert recovery[0] not in browser.get("/account/totp").text
    sign_out(browser)

    password_step(browser, "opa")
    # between the steps nobody is signed in
    assert browser.get("/dashboard").status_code == 303
    assert browser.get("/login/code").status_code == 200
    result = browser.post("/login/code", {"code": code(site, secret_text)})
    assert (result.status_code, result.headers["location"]) == (303, "/dashboard")
    assert browser.get("/dashboard").status_code == 200
    with site.core.uow_factory() as uow:
        last = uow.audit.recent(1)[0]
    assert last.action == "auth.login" and last.metadata["second_factor"] == "totp"
    sign_out(browser)
    # the same code again, in the same 30 s: a replay
    password_step(browser, "opa")
    replay = browser.post("/login/code", {"code": code(site, secret_text)})
    assert replay.status_code == 401 and "was used already" in replay.text
    assert browser.get("/dashboard").status_code == 303


def test_next_survives_the_code_step(site: Site) -> None:
    browser = site.signed_in("opa")
    secret, _ = enrol(site, browser)
    sign_out(browser)
    browser.get("/login?next=/onboarding")
    first = browser.post("/login", {"username": "opa", "password": PASSWORD, "next": "/onboarding"})
    assert first.headers["location"] == "/login/code"
    browser.get("/login/code")
    result = browser.post("/login/code", {"code": code(site, secret)})
    assert result.headers["location"] == "/onboarding"


def test_a_recovery_code_signs_in_once(site: Site) -> None:
    browser = site.signed_in("opa")
    _, recovery = enrol(site, browser)
    sign_out(browser)
    password_step(browser, "opa")
    result = browser.post("/login/code", {"code": recovery[0].upper()})
    assert result.status_code == 303
    assert (
        'Unused recovery codes: <span class="count">9</span>' in browser.get("/account/totp").text
    )
    sign_out(browser)
    password_step(browser, "opa")
    again = browser.post("/login/code", {"code": recovery[0]})
    assert again.status_code == 401
    assert browser.get("/dashboard").status_code == 303
    assert "account.totp_recovery_code_used" in actions(site)


def test_the_code_step_is_throttled_like_the_password(site: Site) -> None:
    browser = site.signed_in("opa")
    secret, _ = enrol(site, browser)
    sign_out(browser)
    password_step(browser, "opa")
    for _ in range(site.ws.max_failures_per_account):
        assert browser.post("/login/code", {"code": "123456"}).status_code == 401
    refused = browser.post("/login/code", {"code": code(site, secret)})
    assert refused.status_code == 429 and "Try again in" in refused.text
    assert refused.headers["retry-after"] == str(site.ws.throttle_window_s)
    # the password step of the account waits too
    assert site.browser().login("opa", PASSWORD).status_code == 429
    with site.core.uow_factory() as uow:
        failed = uow.audit.for_target("login", "opa")
    assert [e.metadata.get("step") for e in failed if e.action == "auth.login_failed"] == [
        "second_factor"
    ] * site.ws.max_failures_per_account
    later(site, site.ws.throttle_window_s)
    password_step(browser, "opa")
    assert browser.post("/login/code", {"code": code(site, secret)}).status_code == 303


def test_the_code_step_waits_five_minutes(site: Site) -> None:
    browser = site.signed_in("opa")
    secret, _ = enrol(site, browser)
    sign_out(browser)
    password_step(browser, "opa")
    later(site, 5 * 60 + 1)
    late = browser.post("/login/code", {"code": code(site, secret)})
    assert late.status_code == 401 and "took too long" in late.text
    assert browser.get("/login/code").headers["location"] == "/login"
    assert site.browser().get("/login/code").headers["location"] == "/login"


def test_bad_input_changes_nothing(site: Site) -> None:
    browser = site.signed_in("opa")
    browser.get("/dashboard")
    before = site.counts()
    early = browser.post("/account/totp", {"action": "confirm", "code": "123456"})
    assert early.status_code == 409 and "no two-factor set-up is waiting" in early.text
    # that answer shows the set-up page, which made the pending secret: nothing else
    pending = site.counts()
    assert {k: v - before[k] for k, v in pending.items() if before[k] != v} == {
        "totp_credentials" if "totp_credentials" in before else "totp": 1
    }
    for fields, status in (
        ({"action": "confirm", "code": ""}, 400),
        ({"action": "confirm", "code": "x" * 5000}, 400),
        ({"action": "confirm", "code": "12345a"}, 400),
        ({"action": "verify", "code": "123456"}, 401),  # nothing to verify against
    ):
        assert browser.post("/account/totp", fields).status_code == status
    no_csrf = browser.post("/account/totp", {"action": "confirm", "code": "1"}, csrf=False)
    assert no_csrf.status_code == 403
    after = site.counts()
    changed = {k for k in after if after[k] != pending[k]}
    assert changed <= {"audit", "audit_events"}  # the refused verify is a failed sign-in
    assert site.browser().get("/account/totp").status_code == 303  # signed out
    assert site.browser().post("/login/code", {"code": "123456"}, csrf=False).status_code == 403


# ------------------------------------------------------------------ enforcement


@pytest.fixture
def strict(site: Site) -> Site:
    """The same site with ``require_admin_totp`` on."""
    settings = attrs.evolve(site.core.settings, require_admin_totp=True)
    return attrs.evolve(site, core=attrs.evolve(site.core, settings=settings))


def test_an_admin_without_totp_is_sent_to_set_it_up(strict: Site) -> None:
    browser = strict.signed_in("admin")
    for path in ("/admin/requests", "/admin/audit", "/admin/route-servers"):
        result = browser.get(path)
        assert result.status_code == 303
        assert result.headers["location"] == "/account/totp?" + urllib.parse.urlencode(
            {"next": path}
        )
    htmx = browser.get("/admin/requests", headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and htmx.headers["hx-redirect"].startswith("/account/totp")
    assert browser.get("/dashboard").status_code == 200  # operator pages stay open
    page = browser.get("/account/totp?next=/admin/audit")
    assert "Admins must use two-factor sign-in here" in page.text
    secret, _ = enrol(strict, browser)
    assert browser.get("/admin/requests").status_code == 200
    sign_out(browser)
    password_step(browser, "admin")
    assert browser.post("/login/code", {"code": code(strict, secret)}).status_code == 303
    assert browser.get("/admin/requests").status_code == 200
    # operators are not asked
    assert strict.signed_in("opa").get("/dashboard").status_code == 200


def test_without_enforcement_admins_may_skip_it(site: Site) -> None:
    assert site.signed_in("admin").get("/admin/requests").status_code == 200


def test_a_session_that_skipped_the_code_enters_one_for_admin_pages(strict: Site) -> None:
    browser = strict.signed_in("admin")
    secret, _ = enrol(strict, browser)
    # a session started without the code step, as Sign in with PeeringDB starts one
    admin: User = strict.users["admin"]
    token, _ = Sessions(strict.core.uow_factory, strict.clock, strict.ws).sign_in(None, admin)
    other = strict.browser()
    other.cookies[cookie_name_for(strict)] = token
    result = other.get("/admin/audit")
    assert result.headers["location"] == "/account/totp?next=%2Fadmin%2Faudit"
    page = other.get(result.headers["location"])
    assert "Confirm it is you" in page.text and "Admin pages need one" in page.text
    wrong = other.post(
        "/account/totp", {"action": "verify", "code": "000000", "next": "/admin/audit"}
    )
    assert wrong.status_code == 401
    right = other.post(
        "/account/totp",
        {"action": "verify", "code": code(strict, secret), "next": "/admin/audit"},
    )
    assert (right.status_code, right.headers["location"]) == (303, "/admin/audit")
    assert other.get("/admin/audit").status_code == 200


def cookie_name_for(site: Site) -> str:
    class _Ctx:
        ws = site.ws

    return cookie_name(_Ctx())  # type: ignore[arg-type]


def test_until_then_the_admin_acts_as_an_operator_elsewhere(strict: Site) -> None:
    browser = strict.signed_in("admin")
    browser.get("/dashboard")
    # session API calls: the admin operations are refused
    audit = browser.get("/api/v1/audit")
    assert audit.status_code == 403, audit.text
    assert browser.get("/api/v1/me").status_code == 200
    # the tokens page makes operator tokens only
    browser.get("/account/tokens")
    before = strict.counts()
    refused = browser.post("/account/tokens", {"name": "ci", "scope": "admin"})
    assert refused.status_code == 403
    assert strict.counts() == before
    enrol(strict, browser)
    assert browser.get("/api/v1/audit").status_code == 200
    browser.get("/account/tokens")
    made = browser.post("/account/tokens", {"name": "ci", "scope": "admin"})
    assert made.status_code == 201
