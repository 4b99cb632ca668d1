"""Every request gets an id, one access log line and (when metrics are on) its counts.

The id is the client's ``X-Request-ID`` when it is sane (1–128 characters of letters,
digits and ``._~:+/=@-``: what proxies and tracing tools send), else a new random one.
It is in the log context while the request runs, so every line logged for it carries
``request_id``, and it goes back in the response's ``X-Request-ID`` header. The access
line names the method, the path (never the query string, which may carry an OAuth code),
the status and the duration; probes (``/healthz``, ``/metrics``) log at DEBUG only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import falcon

from ztix_core.logs import pop_context, push_context

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._~:+/=@-]{1,128}")
PROBES = frozenset({"/healthz", "/metrics"})

#: ``(method, route, status, seconds)`` for each answered request.
Observer = Callable[[str, str, int, float], None]

log = logging.getLogger("ztix_web.access")


def request_id_of(req: falcon.Request) -> str:
    """The client's request id when sane, else a new one."""
    given = req.get_header(REQUEST_ID_HEADER)
    if given is not None and SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def route_of(req: falcon.Request) -> str:
    """The route template that answered (``/requests/{request_id}``), ``/static`` for
    static files, ``unmatched`` when none did: a label with few values, never a raw path."""
    template = getattr(req, "uri_template", None)
    if template:
        return str(template)
    if req.path.startswith("/static/"):
        return "/static"
    return "unmatched"


class RequestIdMiddleware:
    """The first middleware: the request id, the access line, the HTTP metrics."""

    def __init__(self, observe: Observer | None = None) -> None:
        self.observe = observe

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Pick the id and put it in the log context."""
        req.context.request_id = request_id_of(req)
        req.context.started = time.perf_counter()
        req.context.log_token = push_context(request_id=req.context.request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        """Answer with the id; log and count the request; leave the log context."""
        request_id = req.context.get("request_id")
        if request_id is None:  # process_request never ran
            return
        resp.set_header(REQUEST_ID_HEADER, request_id)
        seconds = time.perf_counter() - req.context.started
        status = resp.status_code
        route = route_of(req)
        try:
            log.log(
                logging.DEBUG if req.path in PROBES else logging.INFO,
                "%s %s %d",
                req.method,
                req.path,
                status,
                extra={
                    "method": req.method,
                    "path": req.path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            if self.observe is not None:
                self.observe(req.method, route, status, seconds)
        finally:
            pop_context(req.context.log_token)
