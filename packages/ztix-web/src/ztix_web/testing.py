"""Test helpers (for this package's tests, the end-to-end tests and anyone testing a
ztix-web deployment).

- :class:`Browser`: a cookie-keeping browser over ``falcon.testing`` (no HTTP server).
- :func:`launch_chromium`, :class:`PageCheck`, :func:`sign_in`, :func:`follow`: a real
  browser through Playwright (the ``testing`` extra), driving the system's chromium — never
  one Playwright downloads — with axe-core and screenshots on every page checked.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import falcon
import falcon.testing

if TYPE_CHECKING:
    from playwright.sync_api import Browser as ChromiumBrowser
    from playwright.sync_api import BrowserContext, Page

ORIGIN = "http://falconframework.org"  # falcon.testing's default scheme and host
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRF-Token": "([^"]+)"')


class Browser:
    """Keeps cookies between requests like a browser; POSTs send this site's ``Origin``
    and, unless told otherwise, the CSRF token of the last page seen."""

    def __init__(self, app: falcon.App[falcon.Request, falcon.Response]) -> None:
        self.client = falcon.testing.TestClient(app)
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def _keep(self, result: falcon.testing.Result) -> None:
        for name, cookie in result.cookies.items():
            if cookie.max_age == 0 or cookie.value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie.value
        found = _CSRF.search(result.text or "")
        if found:
            self.csrf = html.unescape(found.group(1) or found.group(2))

    def get(self, path: str, **kw: Any) -> falcon.testing.Result:
        """GET ``path`` (query string allowed) with the cookies."""
        result = self.client.simulate_get(path, cookies=self.cookies, **kw)
        self._keep(result)
        return result

    def post(
        self,
        path: str,
        fields: dict[str, str] | None = None,
        *,
        csrf: str | bool | None = True,
        origin: str | None = ORIGIN,
        headers: dict[str, str] | None = None,
    ) -> falcon.testing.Result:
        """POST a urlencoded form. ``csrf=True`` adds the page's token, a string sends that
        one, None or False sends none; ``origin=None`` sends no Origin header."""
        data = dict(fields or {})
        if csrf is True and self.csrf:
            data["csrf_token"] = self.csrf
        elif isinstance(csrf, str):
            data["csrf_token"] = csrf
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if origin is not None:
            sent["Origin"] = origin
        result = self.client.simulate_post(
            path, body=urllib.parse.urlencode(data), headers=sent, cookies=self.cookies
        )
        self._keep(result)
        return result

    def login(self, username: str, password: str) -> falcon.testing.Result:
        """Open the sign-in page and sign in."""
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})


# --------------------------------------------------------------------------- real browser

#: Debian's chromium (``apt-get install chromium``); ``ZTIX_TEST_CHROMIUM`` overrides.
CHROMIUM = os.environ.get("ZTIX_TEST_CHROMIUM", "/usr/bin/chromium")
#: The widths every checked page is photographed at: a phone and a laptop.
WIDTHS = (375, 1280)
#: axe-core impacts that fail a page.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@contextlib.contextmanager
def launch_chromium(executable: str = CHROMIUM) -> Iterator[ChromiumBrowser]:
    """Playwright driving the chromium at ``executable``; AssertionError when it is missing
    (browser tests fail without it, they never skip)."""
    from playwright.sync_api import sync_playwright

    assert Path(executable).exists(), f"{executable} is missing: apt-get install chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(default_root: Path, *parts: str) -> Path:
    """Where screenshots go: ``$ZTIX_SCREENSHOT_DIR`` (else ``default_root``) joined with
    ``parts`` (so test suites sharing one override keep apart)."""
    root = os.environ.get("ZTIX_SCREENSHOT_DIR")
    return Path(root or default_root).joinpath(*parts)


class PageCheck:
    """Checks a page the way every browser test does: axe-core (the vendored
    ``axe.min.js`` at ``axe_js``) finds no serious or critical violation, then a
    full-page screenshot per width, ``<shots>/<name>-<width>.png``."""

    def __init__(self, axe_js: Path, shots: Path, widths: Sequence[int] = WIDTHS) -> None:
        self.axe = axe_js.read_text(encoding="utf-8")
        self.shots = shots
        self.widths = tuple(widths)
        #: Every name checked so far, in order.
        self.names: list[str] = []

    def __call__(self, page: Page, name: str) -> None:
        """Run axe on ``page`` (AssertionError listing the violations), then photograph it
        at each width and restore its viewport. Call it once the page is the one meant
        (:func:`follow` waits for that after a click): a navigation still under way
        replaces the document axe reads."""
        page.wait_for_load_state()
        page.evaluate(self.axe)
        result = page.evaluate("async () => await axe.run(document)")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]
        assert bad == [], f"{name}: {bad}"
        self.shots.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size or {"width": 1280, "height": 800}
        for width in self.widths:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(self.shots / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size(size)
        self.names.append(name)


def follow(page: Page, link: str | re.Pattern[str], path: str) -> None:
    """Click ``link`` in the main navigation and wait until the browser shows the page at
    ``path`` (a regular expression matched at the end of the URL), loaded."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
    expect(page).to_have_url(re.compile(path + "$"))
    page.wait_for_load_state()


def sign_in(
    context: BrowserContext,
    url: str,
    username: str,
    password: str,
    check: PageCheck | None = None,
) -> Page:
    """A new page in ``context`` signed in as ``username`` (the sign-in page checked with
    ``check`` first when given); it ends on the dashboard."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(f"{url}/login")
    if check is not None:
        check(page, f"login-{username}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return page
