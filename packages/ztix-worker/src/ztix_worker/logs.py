"""The worker's logs: the core's (:mod:`ztix_core.logs`: JSON or text lines carrying the
request id, secrets redacted), re-exported under the names the worker has always used.

Every actor runs inside a log context carrying the request id (the outbox message's
correlation id) and the Dramatiq message id, so every line of a job carries both.
"""

from ztix_core.logs import (
    Explainer,
    JsonFormatter,
    Redactor,
    TextFormatter,
    configure_from_settings,
    configure_logging,
    current_request_id,
    log_context,
    request_context,
)

__all__ = [
    "Explainer",
    "JsonFormatter",
    "Redactor",
    "TextFormatter",
    "configure_from_settings",
    "configure_logging",
    "current_request_id",
    "log_context",
    "request_context",
]
