"""``/api/v1/requests/{id}/member``: an admin reads and changes a member's settings; each
refusal is an error envelope naming the field, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Site, submit  # type: ignore[import-not-found]
from .test_api import Api, make_api  # type: ignore[import-not-found]


@pytest.fixture
def api(site: Site) -> Api:
    return make_api(site)


def test_read_and_change(api: Api) -> None:
    rid = submit(api.site, "opa", 64500)
    path = f"/api/v1/requests/{rid}/member"
    empty = api.call("GET", path, "admin").json["data"]
    assert empty["display_name"] is None and empty["updated_at"] is None
    body = {"display_name": " A Net ", "max_prefix_v4": 5000.0, "max_prefix_v6": 60}
    changed = api.call("PATCH", path, "admin", json=body)
    assert changed.status_code == 200, changed.text
    data = changed.json["data"]
    assert (data["display_name"], data["max_prefix_v4"], data["max_prefix_v6"]) == (
        "A Net",
        5000,
        60,
    )
    assert data["updated_by"].startswith("user:")
    cleared = api.call("PATCH", path, "admin", json={"max_prefix_v6": None}).json["data"]
    assert cleared["max_prefix_v6"] is None and cleared["max_prefix_v4"] == 5000


@pytest.mark.parametrize(
    ("body", "status", "code", "text"),
    [
        ({"display_name": "two\nlines"}, 400, "invalid_value", "control characters"),
        ({"display_name": "x" * 121}, 400, "invalid_value", "display_name"),
        ({"max_prefix_v4": 0}, 400, "invalid_value", "max_prefix_v4"),
        ({"max_prefix_v6": 10_000_001}, 400, "invalid_value", "max_prefix_v6"),
        ({"max_prefix_v4": "12"}, 400, "invalid_value", "max_prefix_v4"),
        ({}, 400, "invalid_value", ""),
        ({"colour": "blue"}, 400, "invalid_value", ""),
        ({"ipv4": "10.1.0.40"}, 409, "conflict", "chosen when it is approved"),
    ],
)
def test_refusals_write_nothing(
    api: Api, body: dict[str, Any], status: int, code: str, text: str
) -> None:
    rid = submit(api.site, "opa", 64500)
    before = api.site.counts()
    result = api.call("PATCH", f"/api/v1/requests/{rid}/member", "admin", json=body)
    assert result.status_code == status, result.text
    error = result.json["error"]
    assert error["code"] == code and text in error["message"] + str(error["details"])
    after = api.site.counts()
    assert {k: v for k, v in after.items() if k != "api_tokens"} == {
        k: v for k, v in before.items() if k != "api_tokens"
    }


def test_an_unknown_request_is_not_found(api: Api) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for method, body in (("GET", None), ("PATCH", {"display_name": "x"})):
        result = api.call(method, f"/api/v1/requests/{missing}/member", "admin", json=body)
        assert result.status_code == 404 and result.json["error"]["code"] == "not_found"
