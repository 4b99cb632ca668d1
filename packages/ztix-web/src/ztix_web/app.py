"""The Falcon app factory.

``create_app`` takes a core :class:`~ztix_core.bootstrap.App` (storage, clock, use cases;
the web needs no provider or fleet) and returns a WSGI app. :func:`app_from_settings`
builds one from the settings and the installed plugins, as ``ztix web`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import falcon

from ztix_core.bootstrap import App, bootstrap
from ztix_core.errors import ZtixError
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.ports import PasswordHasher
from ztix_core.settings import Settings, load_settings
from ztix_web import api, metrics
from ztix_web.config import WebSettings, web_settings
from ztix_web.context import STATIC_DIR, WebContext
from ztix_web.extensions import WebExtension, load_extensions, sign_in_buttons
from ztix_web.middleware import CsrfMiddleware, SecurityHeadersMiddleware, SessionMiddleware
from ztix_web.passwords import Argon2Hasher
from ztix_web.requestlog import RequestIdMiddleware
from ztix_web.views import (
    admin,
    auth,
    errors,
    health,
    looking_glass,
    notifications,
    operator,
    oversight,
    router_config,
    totp,
)


def create_app(
    core: App,
    ws: WebSettings | None = None,
    hasher: PasswordHasher | None = None,
    extensions: Sequence[WebExtension] = (),
) -> falcon.App[falcon.Request, falcon.Response]:
    """The web app over ``core``: pages, static files, sessions, CSRF, security headers,
    request ids and access lines, ``/metrics`` (unless ``ws.metrics`` is off), and the
    routes and sign-in methods of ``extensions``. SettingsError when the local
    form is off (``web.local_login``) and no extension offers another way in."""
    ws = ws or WebSettings()
    buttons = sign_in_buttons(ws, extensions)
    ctx = WebContext.build(core, ws, hasher or Argon2Hasher(), buttons)
    middleware: list[Any] = [
        RequestIdMiddleware(metrics.observe_http if ws.metrics else None),
        SessionMiddleware(ctx),
        CsrfMiddleware(ctx),
        SecurityHeadersMiddleware(),
    ]
    app = falcon.App(middleware=middleware)
    app.resp_options.secure_cookies_by_default = not ctx.ws.dev
    app.add_route("/healthz", health.Health(ctx))
    if ws.metrics:
        vitals = metrics.VitalsCollector(core.uow_factory, core.clock, ws.metrics_cache_s)
        app.add_route("/metrics", metrics.MetricsResource(metrics.scrape_registry(vitals)))
    app.add_route("/", auth.Landing(ctx))
    app.add_route("/login", auth.Login(ctx))
    app.add_route("/logout", auth.Logout(ctx))
    app.add_route("/login/code", totp.LoginCode(ctx))
    app.add_route("/account/totp", totp.TotpSetup(ctx))
    app.add_route("/onboarding", operator.Onboarding(ctx))
    app.add_route("/onboarding/node-check", operator.NodeCheck(ctx))
    app.add_route("/dashboard", operator.Dashboard(ctx))
    app.add_route("/requests/{request_id}", operator.RequestPage(ctx))
    app.add_route("/requests/{request_id}/status", operator.RequestStatus(ctx))
    app.add_route("/requests/{request_id}/leave", operator.Leave(ctx))
    app.add_route(notifications.PATH, notifications.NotificationsPage(ctx))
    app.add_route("/requests/{request_id}/router-config", router_config.RouterConfigDownload(ctx))
    app.add_route("/requests/{request_id}/looking-glass", looking_glass.LookingGlassPage(ctx))
    admin_page = admin.AdminRequest(ctx)
    app.add_route("/admin/requests", admin.Queue(ctx))
    app.add_route("/admin/requests/{request_id}", admin_page)
    app.add_route("/admin/requests/{request_id}/{action}", admin.AdminAction(ctx, admin_page))
    app.add_route("/admin/audit", oversight.AuditLog(ctx))
    app.add_route("/admin/route-servers", oversight.RouteServers(ctx))
    app.add_route("/admin/controller", oversight.Controller(ctx))
    for extension in extensions:
        extension.add_routes(app, ctx)
    app.add_static_route("/static", str(STATIC_DIR))
    pages = errors.ErrorPages(ctx)
    app.add_error_handler(Exception, pages.unexpected)
    app.add_error_handler(ZtixError, pages.ztix_error)
    app.add_error_handler(falcon.HTTPError, pages.http_error)
    api.register(app, ctx)
    return app


def app_from_settings(
    settings: Settings | None = None, plugins: Plugins | None = None
) -> falcon.App[falcon.Request, falcon.Response]:
    """Settings + installed plugins → the web app (no provider, no route servers), with
    the plugins' web extensions (hook ``ztix_web_extensions``)."""
    settings = settings or load_settings()
    plugins = plugins or Plugins(build_plugin_manager())
    core = bootstrap(settings, plugins, with_provisioning=False)
    return create_app(core, web_settings(settings), extensions=load_extensions(settings, plugins))
