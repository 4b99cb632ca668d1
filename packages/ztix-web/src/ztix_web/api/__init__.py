"""The JSON API ``/api/v1``, its OpenAPI 3.1 document and the IX-F member export.

:func:`register` adds them to the web app: a declarative route table
(:mod:`ztix_web.api.spec`) registers every operation and emits the document from the same
rows; :mod:`~ztix_web.api.routes` holds the handlers (core use cases only),
:mod:`~ztix_web.api.auth` the bearer tokens, :mod:`~ztix_web.api.ratelimit` the per-token
limit, :mod:`~ztix_web.api.ixf` the cached export, :mod:`~ztix_web.api.envelopes` the
envelopes and error codes.
"""

from __future__ import annotations

from typing import Any

import falcon

from ztix_core.errors import ZtixError
from ztix_core.usecases.ixf import ExchangeSettings, IxfExport
from ztix_core.usecases.tokens import ApiTokens
from ztix_web.api.auth import identify
from ztix_web.api.envelopes import ERROR_CODES, write_domain_error, write_error
from ztix_web.api.ixf import IxfCache
from ztix_web.api.ratelimit import RateLimiter
from ztix_web.api.routes import V1, Routes
from ztix_web.api.schemas import COMPONENTS
from ztix_web.api.spec import Api, Call, Operation, Reply
from ztix_web.context import WebContext

API_VERSION = "1.0.0"
#: Paths answered with JSON envelopes, errors included.
JSON_PREFIXES = ("/api/", "/participants.json")

_IXF_SCHEMA = {
    "type": "object",
    "description": "Euro-IX IX-F Member Export, schema version 1.0",
    "required": ["version", "timestamp", "ixp_list", "member_list"],
    "properties": {
        "version": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "ixp_list": {"type": "array", "items": {"type": "object"}},
        "member_list": {"type": "array", "items": {"type": "object"}},
    },
}


def exchange_settings(ctx: WebContext) -> ExchangeSettings:
    """The ``[exchange]`` table (SettingsError naming a bad key)."""
    return ctx.core.settings.section("exchange", ExchangeSettings)


class ApiApp:
    """The API's wiring over the web's: tokens, rate limit, the route table, the export."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.tokens = ApiTokens(ctx.core.uow_factory, ctx.core.clock)
        self.limiter = RateLimiter(ctx.ws.api_rate_per_s, ctx.ws.api_burst)
        export = IxfExport(
            ctx.core.uow_factory,
            ctx.core.clock,
            exchange_settings(ctx),
            ctx.core.settings.provisioning,
        )
        self.ixf = IxfCache(export)
        routes = Routes(ctx)
        ixf_doc = "The exchange's members in the IX-F Member Export schema 1.0 (active only)"
        cache_headers = ("ETag", "Last-Modified", "Cache-Control")
        operations = [
            *routes.operations(),
            Operation(
                "GET",
                f"{V1}/ixf",
                "getIxfExport",
                ixf_doc,
                "public",
                self.ixf.serve,
                _IXF_SCHEMA,
                raw=True,
                tag="ixf",
                response_headers=cache_headers,
            ),
            Operation(
                "GET",
                "/participants.json",
                "getParticipants",
                ixf_doc,
                "public",
                self.ixf.serve,
                _IXF_SCHEMA,
                raw=True,
                tag="ixf",
                response_headers=cache_headers,
            ),
            Operation(
                "GET",
                f"{V1}/openapi.json",
                "getOpenApi",
                "This document",
                "public",
                self._openapi,
                {"type": "object"},
                raw=True,
                tag="meta",
            ),
        ]
        self.api = Api(operations, lambda req: identify(self.tokens, req), self.limiter)
        self._document: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document (built once)."""
        if self._document is None:
            self._document = self.api.openapi(
                {
                    "title": "ztix API",
                    "version": API_VERSION,
                    "description": "Join requests, their review and the exchange's member "
                    'list. Envelopes: {"data": …} and {"error": {"code", "message", '
                    '"details"}}; x-error-codes lists every code.',
                },
                COMPONENTS,
            )
        return self._document

    def _openapi(self, call: Call) -> Reply:
        return Reply(self.document(), raw=True)


def is_json_path(req: falcon.Request) -> bool:
    """Does this path answer in JSON envelopes?"""
    return req.path.startswith(JSON_PREFIXES)


def register(app: falcon.App[falcon.Request, falcon.Response], ctx: WebContext) -> ApiApp:
    """Add the API, the export and their JSON error handling to ``app`` (after the pages'
    error handlers: on other paths those still answer)."""
    from ztix_web.views import tokens
    from ztix_web.views.errors import ErrorPages

    api_app = ApiApp(ctx)
    api_app.api.register(app)
    tokens.register(app, ctx, api_app.tokens)
    pages = ErrorPages(ctx)

    def http_error(
        req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
    ) -> None:
        if not is_json_path(req):
            pages.http_error(req, resp, ex, params)
            return
        if ex.headers:
            resp.set_headers(ex.headers)
        raw_code: object = ex.code
        code = raw_code if isinstance(raw_code, str) and raw_code in ERROR_CODES else None
        if code is None:
            code = {404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}.get(
                ex.status_code, "invalid_value" if ex.status_code < 500 else "internal_error"
            )
        write_error(resp, code, ex.description or ex.title or code, status=ex.status_code)

    def ztix_error(req: falcon.Request, resp: falcon.Response, ex: ZtixError, params: Any) -> None:
        if not is_json_path(req):
            pages.ztix_error(req, resp, ex, params)
            return
        write_domain_error(resp, ex)

    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(ZtixError, ztix_error)
    return api_app


__all__ = ["ApiApp", "register"]
