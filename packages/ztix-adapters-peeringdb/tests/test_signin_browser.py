"""Sign in with PeeringDB in a real browser: Playwright driving Debian's chromium
(/usr/bin/chromium) from ztix's sign-in page to the provider's login form and back.

ztix is served on 127.0.0.1 (a threaded WSGI server, SQLite); the provider is the
django-oauth-toolkit subprocess of ``conftest.idp``. Both set cookies on 127.0.0.1 under
different names. axe-core (vendored by ztix-web's tests) checks ztix's pages. Without
chromium these tests fail; they never skip.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ztix_adapters_peeringdb.testing_idp.harness import LocalIdp
from ztix_adapters_peeringdb.testing_idp.signin import (
    CALLBACK,
    PASSWORD,
    Exchange,
    net,
    new_person,
    profile,
)

CHROMIUM = os.environ.get("ZTIX_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
AXE = (ROOT / "packages/ztix-web/tests/browser/axe.min.js").read_text(encoding="utf-8")


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def served(
    exchange_factory: Callable[..., Exchange], idp: LocalIdp
) -> Iterator[tuple[Exchange, str]]:
    """ztix served on 127.0.0.1 (dev cookies), its callback registered on the provider."""
    exchange = exchange_factory(dev=True)
    server = make_server("127.0.0.1", 0, exchange.app, _Threaded, handler_class=_Quiet)
    url = f"http://127.0.0.1:{server.server_port}"
    idp.register_client([CALLBACK, url + "/login/peeringdb/callback"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield exchange, url
    server.shutdown()
    server.server_close()
    idp.register_client([CALLBACK])


def no_serious_violations(page: Page) -> None:
    page.evaluate(AXE)
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad


def provider_login(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name="PeeringDB (test provider)")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in to PeeringDB").click()


def test_sign_in_with_peeringdb_in_the_browser(
    served: tuple[Exchange, str], idp: LocalIdp, chromium: Browser
) -> None:
    exchange, url = served
    person = new_person(
        idp, profile(networks=[net(64500, 15, "Example Net"), net(64501, 1, "Other Net")])
    )
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{url}/onboarding")  # signed out: off to the sign-in page
    expect(page).to_have_url(re.compile(r"/login\?next="))
    no_serious_violations(page)
    page.get_by_role("link", name="Sign in with PeeringDB").click()
    provider_login(page, person.username)

    expect(page).to_have_url(f"{url}/onboarding")
    expect(page.get_by_label(re.compile("AS64500"))).to_be_checked()
    expect(page.get_by_text(re.compile("AS64501.*only read this network"))).to_be_visible()
    no_serious_violations(page)
    context.close()

    user = exchange.user(person.peeringdb_id)
    assert user is not None and user.username == f"pdb-{person.peeringdb_id}"
    assert exchange.links(user) == {64500: ("peeringdb", True)}
    assert exchange.actions() == ["account.created", "account.asn_linked", "auth.login"]


def test_a_provider_failure_shows_a_code_and_try_again_works(
    served: tuple[Exchange, str], idp: LocalIdp, chromium: Browser
) -> None:
    exchange, url = served
    person = new_person(idp, profile(networks=[net(64500, 15)]))
    idp.set_control({"faults": [{"prefix": "/oauth2/token/", "status": 500}]})
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_role("link", name="Sign in with PeeringDB").click()
    provider_login(page, person.username)

    expect(page.get_by_role("heading", name="Sign in with PeeringDB did not work")).to_be_visible()
    expect(page.get_by_text("provider_error")).to_be_visible()
    no_serious_violations(page)
    assert exchange.users() == []
    assert exchange.actions() == ["auth.peeringdb_failed"]

    idp.set_control({})
    page.get_by_role("link", name="Try again").click()  # the provider remembers the login
    expect(page).to_have_url(f"{url}/dashboard")
    context.close()
    assert [u.peeringdb_id for u in exchange.users()] == [person.peeringdb_id]
    assert exchange.actions()[-3:] == ["account.created", "account.asn_linked", "auth.login"]
