"""Test helpers: a cookie-keeping browser over ``falcon.testing`` (for this package's tests
and for anyone testing a ztix-web deployment's app object)."""

from __future__ import annotations

import html
import re
import urllib.parse
from typing import Any

import falcon
import falcon.testing

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
