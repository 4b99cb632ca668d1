"""Plain request/reply values passed between the HTTP server and the API emulations."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ztix_adapters_zerotier.emulator import zt_json


@attrs.frozen
class Request:
    """One HTTP request: ``path`` is percent-decoded and without the query string;
    ``headers`` keys are lowercase."""

    method: str
    path: str
    query: Mapping[str, list[str]] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    client: str = "127.0.0.1"

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@attrs.define
class Reply:
    """One HTTP response."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)


def json_reply(status: int, value: object) -> Reply:
    """A JSON response rendered like nlohmann's ``dump()``."""
    return Reply(status, zt_json.dump(value), {"Content-Type": "application/json"})


def raw_json_reply(status: int, text: str) -> Reply:
    """A response with the JSON content type and a body that may not be valid JSON."""
    return Reply(status, text.encode(), {"Content-Type": "application/json"})


def empty_reply(status: int) -> Reply:
    """A response with an empty body (the controller's 404 and 400)."""
    return Reply(status)
