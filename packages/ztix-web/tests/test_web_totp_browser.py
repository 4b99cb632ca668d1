"""Two-factor sign-in in a real browser: Playwright driving Debian's chromium
(/usr/bin/chromium), the app on SQLite behind a small WSGI server, the real clock, argon2id
with light parameters (the production class; its default cost would only slow the ~35
hashes and checks down), ``require_admin_totp`` on.

An admin signs in with the password and is sent from the admin queue to the set-up page;
the test reads the key off that page as a person would type it into an app, computes the
code, turns TOTP on and keeps the recovery codes the page shows once. Signed out, the
admin signs in with password + code, then once with a recovery code, and sees the same
recovery code refused the second time. Each new page passes axe-core (no serious or
critical violation) and is photographed at 375 and 1280 px into
``artifacts/screenshots/totp`` (``ZTIX_SCREENSHOT_DIR`` overrides). Without chromium the
test fails; it never skips.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from playwright.sync_api import Browser, Page, expect

from ztix_core import totp
from ztix_core.bootstrap import bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import Actor
from ztix_core.settings import Settings
from ztix_core.usecases.accounts import Accounts
from ztix_web.app import create_app
from ztix_web.config import WebSettings
from ztix_web.passwords import Argon2Hasher
from ztix_web.testing import PageCheck, launch_chromium, screenshot_dir

ROOT = Path(__file__).resolve().parents[3]
check_page = PageCheck(
    Path(__file__).parent / "browser" / "axe.min.js",
    screenshot_dir(ROOT / "artifacts" / "screenshots", "totp"),
)
PASSWORD = "a long enough passphrase"


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the test reads the pages, not the server's access log."""


@pytest.fixture
def url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The app on a migrated SQLite file (a copy of the session's template) with one
    admin, served on 127.0.0.1."""
    from ztix_adapters_sql.testing import copy_sqlite

    database_url = copy_sqlite(sqlite_template, tmp_path / "ztix.db")
    settings = Settings(storage="sql", database_url=database_url, require_admin_totp=True)
    core = bootstrap(settings, Plugins(build_plugin_manager()), with_provisioning=False)
    hasher = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
    Accounts(core.uow_factory, core.clock, hasher).create(
        Actor.system("test"), "admin", PASSWORD, is_admin=True
    )
    app = create_app(core, WebSettings(dev=True), hasher)
    server = make_server("127.0.0.1", 0, app, _Threaded, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    dispose = getattr(core.uow_factory, "dispose", None)
    if dispose is not None:
        dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


def next_code(secret: str) -> str:
    """The code of the next 30 s step: inside the ±1 window, and newer than any step
    accepted so far in this test (a code is accepted once), without waiting for it."""
    return totp.totp(secret, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=totp.STEP_S))


def password_step(page: Page, url: str, check: str | None = None) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/code$"))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    if check:
        check_page(page, check)


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/logout$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_admin_sets_up_totp_then_signs_in_with_code_and_recovery_code(
    url: str, chromium: Browser
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))  # no TOTP yet: one step

    # enforcement: the admin queue sends the admin to set TOTP up
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin queue").click()
    expect(page).to_have_url(re.compile(r"/account/totp\?next=%2Fadmin%2Frequests$"))
    expect(page.get_by_text("Admins must use two-factor sign-in here")).to_be_visible()
    expect(
        page.get_by_role("img", name="QR code to scan with your authenticator app")
    ).to_be_visible()
    check_page(page, "totp-setup")
    secret = page.get_by_label("Key").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Code from your app").fill("000000")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("is not the code your app shows now")
    check_page(page, "totp-setup-wrong-code")
    assert page.get_by_label("Key").input_value() == secret  # the same pending key
    page.get_by_label("Code from your app").fill(totp.totp(secret, dt.datetime.now(dt.UTC)))
    page.get_by_role("button", name="Turn on").click()
    codes_list = page.get_by_role("list", name="Recovery codes")
    expect(codes_list).to_be_visible()
    recovery = [c.strip() for c in codes_list.get_by_role("listitem").all_inner_texts()]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    check_page(page, "totp-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/requests$"))
    sign_out(page)

    # password, then the code: only then signed in
    password_step(page, url, "login-code")
    page.goto(f"{url}/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # not signed in between steps
    password_step(page, url)
    page.get_by_label("Code").fill(next_code(secret))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin queue").click()
    expect(page).to_have_url(re.compile(r"/admin/requests$"))
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Two-factor sign-in"
    ).click()
    expect(page.locator(".count")).to_have_text("10")
    check_page(page, "totp-on")
    sign_out(page)

    # a recovery code instead of the code: once
    password_step(page, url)
    page.get_by_label("Code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    sign_out(page)
    password_step(page, url)
    page.get_by_label("Code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong or was used already")
    expect(page).to_have_url(re.compile(r"/login/code$"))
    check_page(page, "login-code-refused")
    page.goto(f"{url}/admin/requests")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    context.close()
