"""Error pages: every refusal and failure is a page with what happened, a short code to
quote, and a way to try again."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import falcon

from ztix_core.errors import ZtixError
from ztix_web.context import WebContext
from ztix_web.views.common import render, status_for

log = logging.getLogger("ztix_web")


def retry_url(req: falcon.Request) -> str:
    """Where "try again" leads: the same page for a GET, the page the form was on
    otherwise."""
    if req.method in ("GET", "HEAD"):
        return req.relative_uri
    parts = [p for p in req.path.split("/") if p]
    if len(parts) >= 3:
        return "/" + "/".join(parts[:-1])
    return {"/logout": "/", "/onboarding": "/onboarding"}.get(req.path, req.path)


class ErrorPages:
    """Falcon error handlers that render ``error.html``."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def _page(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        status: int,
        title: str,
        message: str,
        code: str,
    ) -> None:
        render(
            self.ctx,
            req,
            resp,
            "error.html",
            status,
            title=title,
            message=message,
            code=code,
            retry=retry_url(req),
            http_status=status,
        )

    def http_error(
        self, req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
    ) -> None:
        """An HTTPError raised on purpose (403, 404, 405, ...)."""
        if ex.headers:
            resp.set_headers(ex.headers)
        status = ex.status_code
        code = ex.code if isinstance(ex.code, str) else f"http_{status}"
        self._page(req, resp, status, ex.title or "Error", ex.description or "", code)

    def ztix_error(
        self, req: falcon.Request, resp: falcon.Response, ex: ZtixError, params: Any
    ) -> None:
        """A domain refusal a page did not handle itself."""
        self._page(req, resp, status_for(ex), "Refused", ex.message, ex.code)

    def unexpected(
        self, req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
    ) -> None:
        """A bug or an outage: logged with a reference the user can quote."""
        if isinstance(ex, falcon.HTTPStatus):  # redirects travel as exceptions
            raise ex
        reference = secrets.token_hex(4)
        log.exception("unexpected error (reference %s) on %s %s", reference, req.method, req.path)
        self._page(
            req,
            resp,
            500,
            "Something went wrong",
            "ztix could not finish this. Try again; if it keeps happening, give the admins "
            "this code.",
            f"ref-{reference}",
        )
