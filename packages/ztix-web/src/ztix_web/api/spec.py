"""The declarative route table: one :class:`Operation` per API call, from which the app's
routes, the parameter and body validation and the OpenAPI 3.1 document are all made.

A route's parameters and body are JSON Schemas (2020-12, OpenAPI 3.1's dialect); the
server validates every call against exactly the schemas the document publishes, so the two
cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import attrs
import falcon
import jsonschema

from ztix_core.errors import ZtixError
from ztix_web.api.auth import Caller
from ztix_web.api.envelopes import (
    ERROR_CODES,
    ApiError,
    write_data,
    write_domain_error,
    write_error,
)
from ztix_web.api.ratelimit import RateLimiter

log = logging.getLogger("ztix_web.api")

Schema = dict[str, Any]
#: Most a JSON body may be.
MAX_BODY = 64 * 1024


@attrs.frozen
class Param:
    """A path, query or header parameter."""

    name: str
    where: str
    schema: Schema
    description: str
    required: bool = False


@attrs.frozen
class Call:
    """What a handler gets: the caller (None on public operations), the validated
    parameters (path and query, by name; headers by their lowercase name) and body."""

    req: falcon.Request
    caller: Caller | None
    params: dict[str, Any]
    body: Any


@attrs.frozen
class Reply:
    """What a handler answers: ``data`` in the envelope with ``status`` (``raw``: the
    data is the whole body, as for the OpenAPI document and the IX-F export)."""

    data: Any
    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)
    raw: bool = False
    #: A raw body already serialised (bytes), e.g. from a cache.
    body: bytes | None = None


Handler = Callable[[Call], Reply]


@attrs.frozen
class Operation:
    """One API call: method, path (Falcon's and OpenAPI's ``{name}`` templates agree),
    who may call it (``public``, ``user``, ``admin``), its parameters, body and answers."""

    method: str
    path: str
    operation_id: str
    summary: str
    access: str
    handler: Handler
    data_schema: Schema
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    status: int = 200
    errors: tuple[str, ...] = ()
    tag: str = "api"
    raw: bool = False
    description: str = ""
    response_headers: tuple[str, ...] = ()

    def error_codes(self) -> list[str]:
        """Every code this operation may answer with."""
        codes = ["internal_error", "method_not_allowed", "not_acceptable"]
        if self.params or self.body is not None:
            codes.append("invalid_value")
        if self.body is not None:
            codes += ["invalid_json", "unsupported_media_type"]
        if self.access != "public":
            codes += ["unauthorized", "token_refused", "rate_limited"]
        if self.access == "admin":
            codes.append("permission_denied")
        if self.access != "public" and self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ["csrf_token", "csrf_origin"]
        codes += list(self.errors)
        return list(dict.fromkeys(codes))


def _coerce(param: Param, raw: list[str]) -> Any:
    kind = param.schema.get("type")
    if kind == "array":
        items = [part for value in raw for part in value.split(",") if part != ""]
        return [_scalar(param, param.schema.get("items", {}), item) for item in items]
    return _scalar(param, param.schema, raw[-1])


def _scalar(param: Param, schema: Schema, value: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(value, 10)
        except ValueError:
            raise ApiError(
                "invalid_value", f"{param.name}: must be an integer", field=param.name
            ) from None
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ApiError(
                "invalid_value", f"{param.name}: must be true or false", field=param.name
            )
        return value == "true"
    return value


def _field(error: jsonschema.ValidationError, root: str = "") -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.message, str):
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    if error.validator == "additionalProperties":
        extra = error.message.split("'")[1] if "'" in error.message else ""
        path.append(extra)
    name = ".".join(p for p in path if p)
    return ".".join(p for p in (root, name) if p) or root or "body"


def _check(schema: Schema, value: Any, root: str, *, whole: bool = False) -> None:
    """Validate ``value``; the error names the field (``root`` itself when ``whole``: a
    parameter is one field, even a list)."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        field = root if whole else _field(error, root)
        raise ApiError("invalid_value", f"{field}: {error.message}", field=field)


class ApiResource:
    """The Falcon resource of one path: each method's responder runs the same steps —
    caller, rate limit, access, parameters, body, handler, envelope."""

    def __init__(self, api: Api, operations: list[Operation]) -> None:
        self.api = api
        for op in operations:
            setattr(self, f"on_{op.method.lower()}", self._responder(op))

    def _responder(self, op: Operation) -> Callable[..., None]:
        def responder(req: falcon.Request, resp: falcon.Response, **path: str) -> None:
            self.api.serve(op, req, resp, path)

        responder.__doc__ = op.summary
        return responder


class Api:
    """The route table and the machinery that serves it."""

    def __init__(
        self,
        operations: list[Operation],
        identify_caller: Callable[[falcon.Request], Caller | None],
        limiter: RateLimiter,
    ) -> None:
        self.operations = operations
        self.identify = identify_caller
        self.limiter = limiter

    def register(self, app: falcon.App[falcon.Request, falcon.Response]) -> None:
        """Add one resource per path to ``app``."""
        by_path: dict[str, list[Operation]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, []).append(op)
        for path, ops in by_path.items():
            app.add_route(path, ApiResource(self, ops))

    # ------------------------------------------------------------------ serving

    def serve(
        self, op: Operation, req: falcon.Request, resp: falcon.Response, path: dict[str, str]
    ) -> None:
        """Run one call; every refusal becomes the error envelope."""
        try:
            self._serve(op, req, resp, path)
        except ApiError as exc:
            resp.set_headers(exc.headers)
            write_error(resp, exc.code, exc.message, exc.details)
        except ZtixError as exc:
            write_domain_error(resp, exc)
        except falcon.HTTPError:
            raise
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("API failure (reference %s) on %s %s", reference, req.method, req.path)
            write_error(
                resp, "internal_error", "ztix could not finish this call", {"reference": reference}
            )

    def _serve(
        self, op: Operation, req: falcon.Request, resp: falcon.Response, path: dict[str, str]
    ) -> None:
        if not req.client_accepts("application/json"):
            raise ApiError("not_acceptable", "this API answers application/json only")
        caller = None
        if op.access != "public":
            caller = self.identify(req)
            if caller is None:
                raise ApiError(
                    "unauthorized",
                    "send a bearer API token: Authorization: Bearer <token>",
                    {"WWW-Authenticate": 'Bearer realm="ztix"'},
                )
            if caller.token_id is not None:
                wait = self.limiter.take(caller.token_id)
                if wait:
                    raise ApiError(
                        "rate_limited",
                        f"too many calls with this token; retry in {wait:.1f} s",
                        {"Retry-After": RateLimiter.retry_after(wait)},
                        retry_after_s=round(wait, 3),
                    )
            if op.access == "admin" and not caller.actor.is_admin:
                raise ApiError(
                    "permission_denied", "this operation is for exchange admins (admin scope)"
                )
        params = self._params(op, req, path)
        body = self._body(op, req) if op.body is not None else None
        reply = op.handler(Call(req, caller, params, body))
        resp.set_headers(reply.headers)
        if reply.status == 304:
            resp.status = 304
            resp.content_type = None
            return
        if reply.body is not None:
            resp.status = reply.status
            resp.content_type = falcon.MEDIA_JSON
            resp.data = reply.body
        elif reply.raw:
            resp.status = reply.status
            resp.content_type = falcon.MEDIA_JSON
            resp.text = json.dumps(reply.data, separators=(",", ":"))
        else:
            write_data(resp, reply.data, reply.status)

    def _params(self, op: Operation, req: falcon.Request, path: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in op.params:
            if param.where == "path":
                values[param.name] = path[param.name]
            elif param.where == "header":
                header = req.get_header(param.name)
                if header is not None:
                    values[param.name.lower()] = header
            else:
                raw = req.get_param_as_list(param.name)
                if raw is not None:
                    values[param.name] = _coerce(param, raw)
        for param in op.params:
            key = param.name.lower() if param.where == "header" else param.name
            if key not in values:
                if param.required:
                    raise ApiError("invalid_value", f"{param.name}: required", field=param.name)
                continue
            _check(param.schema, values[key], param.name, whole=True)
        return values

    def _body(self, op: Operation, req: falcon.Request) -> Any:
        assert op.body is not None
        if not (req.content_type or "").startswith("application/json"):
            raise ApiError("unsupported_media_type", "send the body as application/json")
        raw = req.bounded_stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ApiError("invalid_value", f"body: at most {MAX_BODY} bytes", field="body")
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError("invalid_json", f"the body is not JSON: {exc}") from None
        _check(op.body, body, "")
        req.context.raw_body = raw
        return body

    # ------------------------------------------------------------------ document

    def openapi(self, info: dict[str, Any], schemas: dict[str, Schema]) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the table."""
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = self._operation(op)
        error_codes = sorted(ERROR_CODES)
        return {
            "openapi": "3.1.0",
            "info": info,
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": {
                    **schemas,
                    "Error": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {
                            "error": {
                                "type": "object",
                                "required": ["code", "message", "details"],
                                "properties": {
                                    "code": {"type": "string", "enum": error_codes},
                                    "message": {"type": "string"},
                                    "details": {"type": "object"},
                                },
                            }
                        },
                    },
                },
                "securitySchemes": {
                    "bearerToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "an API token from `ztix token create` or /account/tokens",
                    },
                    "session": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": "__Host-ztix_session",
                        "description": "the browser session; unsafe methods need X-CSRF-Token",
                    },
                },
            },
            "x-error-codes": {
                code: {"status": status, "meaning": meaning}
                for code, (status, meaning) in sorted(ERROR_CODES.items())
            },
        }

    @staticmethod
    def _operation(op: Operation) -> dict[str, Any]:
        success_schema: Schema = (
            op.data_schema
            if op.raw
            else {
                "type": "object",
                "required": ["data"],
                "properties": {"data": op.data_schema},
            }
        )
        success: dict[str, Any] = {
            "description": op.summary,
            "content": {"application/json": {"schema": success_schema}},
        }
        if op.response_headers:
            success["headers"] = {
                name: {"schema": {"type": "string"}} for name in op.response_headers
            }
        responses: dict[str, Any] = {str(op.status): success}
        if "304" in op.response_headers or "ETag" in op.response_headers:
            responses["304"] = {"description": "not modified since the ETag / Last-Modified sent"}
        by_status: dict[int, list[str]] = {}
        for code in op.error_codes():
            by_status.setdefault(ERROR_CODES[code][0], []).append(code)
        for status, codes in sorted(by_status.items()):
            entry: dict[str, Any] = {
                "description": "; ".join(f"`{c}`: {ERROR_CODES[c][1]}" for c in codes),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status == 429:
                entry["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
            responses[str(status)] = entry
        doc: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": responses,
        }
        if op.description:
            doc["description"] = op.description
        doc["security"] = [] if op.access == "public" else [{"bearerToken": []}, {"session": []}]
        if op.params:
            doc["parameters"] = [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": p.schema,
                    **(
                        {"style": "form", "explode": False}
                        if p.schema.get("type") == "array"
                        else {}
                    ),
                }
                for p in op.params
            ]
        if op.body is not None:
            doc["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.body}},
            }
        return doc
