"""The API's envelopes and its error codes.

Success is ``{"data": …}``; every failure is ``{"error": {"code", "message", "details"}}``
with one documented code per domain error (:data:`ERROR_CODES`) and the HTTP status that
goes with it. A domain error the table does not know falls back to its base class's code,
so a new subclass in the core never becomes a 500.
"""

from __future__ import annotations

import json
from typing import Any

import falcon

from ztix_core.errors import (
    AddressPoolExhausted,
    Conflict,
    DuplicateLiveRequest,
    DuplicateRecord,
    IdempotencyKeyReused,
    InvalidTransition,
    InvalidValue,
    NotEligible,
    NotFound,
    NotReady,
    PermissionDenied,
    ProviderError,
    ZtixError,
)
from ztix_core.usecases.tokens import TokenRefused

#: code → (HTTP status, what it means). The OpenAPI document lists these.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_value": (400, "a parameter or body field is invalid; details.field names it"),
    "invalid_json": (400, "the body is not JSON"),
    "unauthorized": (401, "no credentials: send a bearer API token (or a browser session)"),
    "token_refused": (
        401,
        "the API token is unknown, revoked or expired, or its account is disabled",
    ),
    "permission_denied": (403, "the caller may not do this (admin operations, others' records)"),
    "csrf_token": (403, "a session-authenticated unsafe call without the session's CSRF token"),
    "csrf_origin": (403, "a session-authenticated unsafe call from another origin"),
    "not_found": (404, "no such record (another user's request is not found either)"),
    "method_not_allowed": (405, "the path does not take this method"),
    "not_acceptable": (406, "the client does not accept JSON"),
    "conflict": (409, "the change clashes with the current state; nothing changed"),
    "invalid_transition": (
        409,
        "the state machine forbids the move; details.current_status is the request's status",
    ),
    "duplicate_live_request": (
        409,
        "the ASN already has a live request on the network; details.existing_request_id",
    ),
    "duplicate": (409, "a uniqueness rule was broken"),
    "idempotency_key_reused": (
        422,
        "the Idempotency-Key was first used with a different body; use a new key",
    ),
    "unsupported_media_type": (415, "send the body as application/json"),
    "not_eligible": (422, "the account may not request this ASN or network"),
    "address_pool_exhausted": (409, "no peering-LAN address is left"),
    "rate_limited": (429, "too many calls with this token; retry after Retry-After seconds"),
    "not_ready": (503, "a dependency is not ready"),
    "provider_error": (502, "the ZeroTier controller failed"),
    "internal_error": (500, "a bug or an outage; details.reference is in the server log"),
}

_BY_TYPE: tuple[tuple[type[ZtixError], str], ...] = (
    (TokenRefused, "token_refused"),
    (InvalidValue, "invalid_value"),
    (NotFound, "not_found"),
    (PermissionDenied, "permission_denied"),
    (NotEligible, "not_eligible"),
    (InvalidTransition, "invalid_transition"),
    (DuplicateLiveRequest, "duplicate_live_request"),
    (IdempotencyKeyReused, "idempotency_key_reused"),
    (DuplicateRecord, "duplicate"),
    (Conflict, "conflict"),
    (AddressPoolExhausted, "address_pool_exhausted"),
    (NotReady, "not_ready"),
    (ProviderError, "provider_error"),
)


def code_for(error: ZtixError) -> str:
    """The documented code of a domain error (its most specific known class)."""
    for kind, code in _BY_TYPE:
        if isinstance(error, kind):
            return code
    return "invalid_value" if isinstance(error, ValueError) else "conflict"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class ApiError(Exception):
    """A refusal of the API layer itself (auth, parsing, rate limit) in the envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code][0]
        self.message = message
        self.headers = headers or {}
        self.details = details


def write_data(resp: falcon.Response, data: Any, status: int = 200) -> None:
    """``{"data": data}`` with ``status``."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps({"data": data}, separators=(",", ":"))


def write_error(
    resp: falcon.Response,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    status: int | None = None,
) -> None:
    """``{"error": {"code", "message", "details"}}`` with the code's status."""
    resp.status = status or ERROR_CODES[code][0]
    resp.content_type = falcon.MEDIA_JSON
    body = {"error": {"code": code, "message": message, "details": _jsonable(details or {})}}
    resp.text = json.dumps(body, separators=(",", ":"))


def write_domain_error(resp: falcon.Response, error: ZtixError) -> None:
    """A core refusal in the envelope: its documented code, message and details."""
    write_error(resp, code_for(error), error.message, dict(error.details))
