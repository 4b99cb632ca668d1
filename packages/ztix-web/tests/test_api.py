"""``/api/v1``: the OpenAPI document, the authorization matrix, envelopes and field-named
validation errors, idempotency, the per-token rate limit, sessions with CSRF, and token
secrets that never reach a log or the audit trail. On the in-memory store and on SQLite."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import attrs
import falcon.testing
import pytest
from openapi_spec_validator import validate

from ztix_core.api_ports import TokenScope
from ztix_core.records import Actor
from ztix_core.testing import builders as b
from ztix_core.usecases.tokens import ApiTokens
from ztix_web.app import create_app
from ztix_web.config import WebSettings
from ztix_web.testing import ORIGIN

from .conftest import FAST_HASHER, Site, submit  # type: ignore[import-not-found]

CLI = Actor.system("test")
NET = b.network(1).id.value
NET2 = b.network(2).id.value
WHO = ("none", "opa", "opb", "admin", "revoked", "expired")


@attrs.define
class Api:
    """A test client with one bearer token per identity of the matrix."""

    site: Site
    client: falcon.testing.TestClient
    secrets: dict[str, str]

    def call(self, method: str, path: str, who: str = "opa", **kw: Any) -> falcon.testing.Result:
        headers = dict(kw.pop("headers", {}))
        if who in self.secrets:
            headers["Authorization"] = f"Bearer {self.secrets[who]}"
        return self.client.simulate_request(method, path, headers=headers, **kw)


def make_api(site: Site, ws: WebSettings | None = None) -> Api:
    tokens = ApiTokens(site.core.uow_factory, site.clock)
    secrets = {
        "opa": tokens.create(CLI, site.users["opa"].id, "a").secret,
        "opb": tokens.create(CLI, site.users["opb"].id, "b").secret,
        "admin": tokens.create(CLI, site.users["admin"].id, "adm", TokenScope.ADMIN).secret,
    }
    revoked = tokens.create(CLI, site.users["opa"].id, "gone")
    tokens.revoke(CLI, revoked.token.id)
    secrets["revoked"] = revoked.secret
    soon = site.clock.now() + dt.timedelta(minutes=5)
    secrets["expired"] = tokens.create(CLI, site.users["opa"].id, "old", expires_at=soon).secret
    site.clock.advance(seconds=600)
    app = create_app(site.core, ws or site.ws, FAST_HASHER)
    return Api(site, falcon.testing.TestClient(app), secrets)


@pytest.fixture
def api(site: Site) -> Api:
    return make_api(site)


def _error(result: falcon.testing.Result) -> dict[str, Any]:
    body = result.json
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def test_openapi_document_is_valid_and_lists_every_route(api: Api) -> None:
    result = api.call("GET", "/api/v1/openapi.json", "none")
    assert result.status_code == 200
    doc = result.json
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {"createRequest", "approveRequest", "rejectRequest", "listAudit"} <= ops
    assert doc["x-error-codes"]["invalid_transition"]["status"] == 409


# --------------------------------------------------------------------------- the matrix

REQ = "{rid}"
#: operation → (method, path, body, {identity: expected status}); identities not listed
#: (none, revoked, expired) expect 401 on every non-public operation.
MATRIX: dict[str, tuple[str, str, dict[str, Any] | None, dict[str, int]]] = {
    "getMe": ("GET", "/api/v1/me", None, {"opa": 200, "opb": 200, "admin": 200}),
    "listAsns": ("GET", "/api/v1/asns", None, {"opa": 200, "opb": 200, "admin": 200}),
    "listNetworks": ("GET", "/api/v1/networks", None, {"opa": 200, "opb": 200, "admin": 200}),
    "listRequests": ("GET", "/api/v1/requests", None, {"opa": 200, "opb": 200, "admin": 200}),
    "createRequest": (
        "POST",
        "/api/v1/requests",
        {"asn": 64500, "network_id": NET2, "node_id": "0a0b0c0d0e"},
        {"opa": 201, "opb": 422, "admin": 422},
    ),
    "getRequest": ("GET", f"/api/v1/requests/{REQ}", None, {"opa": 200, "opb": 404, "admin": 200}),
    "getRouterConfig": (
        "GET",
        f"/api/v1/requests/{REQ}/router-config?flavour=bird",
        None,
        {"opa": 409, "opb": 404, "admin": 409},
    ),
    "approveRequest": (
        "POST",
        f"/api/v1/requests/{REQ}/approve",
        None,
        {"opa": 403, "opb": 403, "admin": 200},
    ),
    "getMemberSettings": (
        "GET",
        f"/api/v1/requests/{REQ}/member",
        None,
        {"opa": 403, "opb": 403, "admin": 200},
    ),
    "changeMemberSettings": (
        "PATCH",
        f"/api/v1/requests/{REQ}/member",
        {"display_name": "A Net", "max_prefix_v4": 5000},
        {"opa": 403, "opb": 403, "admin": 200},
    ),
    "rejectRequest": (
        "POST",
        f"/api/v1/requests/{REQ}/reject",
        {"reason": "no"},
        {"opa": 403, "opb": 403, "admin": 200},
    ),
    "retryRequest": (
        "POST",
        f"/api/v1/requests/{REQ}/retry",
        None,
        {"opa": 403, "opb": 403, "admin": 409},
    ),
    "removeRequest": (
        "POST",
        f"/api/v1/requests/{REQ}/remove",
        None,
        {"opa": 409, "opb": 404, "admin": 409},
    ),
    "getLookingGlass": (
        "GET",
        f"/api/v1/requests/{REQ}/looking-glass",
        None,
        {"opa": 200, "opb": 404, "admin": 200},
    ),
    "refreshLookingGlass": (  # a pending request's member is on no route server
        "POST",
        f"/api/v1/requests/{REQ}/looking-glass",
        None,
        {"opa": 409, "opb": 404, "admin": 409},
    ),
    "listRouteServers": (
        "GET",
        "/api/v1/route-servers",
        None,
        {"opa": 403, "opb": 403, "admin": 200},
    ),
    "listAudit": ("GET", "/api/v1/audit", None, {"opa": 403, "opb": 403, "admin": 200}),
    "getIxfExport": ("GET", "/api/v1/ixf", None, dict.fromkeys(WHO, 200)),
    "getParticipants": ("GET", "/participants.json", None, dict.fromkeys(WHO, 200)),
    "getOpenApi": ("GET", "/api/v1/openapi.json", None, dict.fromkeys(WHO, 200)),
}


def test_the_matrix_covers_every_operation(api: Api) -> None:
    doc = api.call("GET", "/api/v1/openapi.json", "none").json
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert ops == set(MATRIX)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_authorization_matrix(api: Api, operation: str, who: str) -> None:
    """Operator A owns a pending request; B must not see it; only the admin decides."""
    method, path, body, expected = MATRIX[operation]
    rid = submit(api.site, "opa", 64500)
    before = api.site.counts()
    result = api.call(method, path.format(rid=rid), who, json=body)
    want = expected.get(who, 401)
    assert result.status_code == want, (operation, who, result.text)
    if want >= 400:
        error = _error(result)
        if want == 401:
            assert error["code"] == ("unauthorized" if who == "none" else "token_refused")
            assert "WWW-Authenticate" in result.headers
        if want == 409:
            # a move the state machine forbids, or a read only an active request has, or a
            # looking glass of a member on no route server
            conflict = operation == "getRouterConfig" or "looking-glass" in path
            assert error["code"] == ("conflict" if conflict else "invalid_transition")
            assert error["details"]["current_status"] == "pending"
        after = api.site.counts()
        # A refusal writes nothing (a token's last use is the only thing a call records).
        assert {k: v for k, v in after.items() if k != "api_tokens"} == {
            k: v for k, v in before.items() if k != "api_tokens"
        }
    elif method == "GET" and not path.endswith(".json") and "ixf" not in path:
        assert set(result.json) == {"data"}


def test_operator_scope_of_an_admin_is_an_operator(site: Site) -> None:
    api = make_api(site)
    narrow = ApiTokens(site.core.uow_factory, site.clock).create(
        CLI, site.users["admin"].id, "narrow", TokenScope.OPERATOR
    )
    api.secrets["narrow"] = narrow.secret
    assert api.call("GET", "/api/v1/audit", "narrow").status_code == 403
    assert api.call("GET", "/api/v1/me", "narrow").json["data"]["scope"] == "operator"
    assert api.call("GET", "/api/v1/me", "admin").json["data"]["scope"] == "admin"


def test_revocation_takes_effect_at_once(api: Api) -> None:
    tokens = ApiTokens(api.site.core.uow_factory, api.site.clock)
    assert api.call("GET", "/api/v1/me", "opb").status_code == 200
    (token,) = tokens.list(CLI, api.site.users["opb"].id)
    tokens.revoke(Actor.user(api.site.users["opb"]), token.id)
    result = api.call("GET", "/api/v1/me", "opb")
    assert result.status_code == 401 and _error(result)["code"] == "token_refused"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"network_id": NET, "node_id": "0a0b0c0d0e"}, "asn"),
        ({"asn": "x", "network_id": NET, "node_id": "0a0b0c0d0e"}, "asn"),
        ({"asn": 64500, "network_id": "zz", "node_id": "0a0b0c0d0e"}, "network_id"),
        ({"asn": 64500, "network_id": NET, "node_id": "XYZ"}, "node_id"),
        ({"asn": 64500, "network_id": NET, "node_id": "0a0b0c0d0e", "x": 1}, "x"),
        ({"asn": 64500, "network_id": NET, "node_id": "0a0b0c0d0e", "notes": "n" * 2001}, "notes"),
        ([], "body"),
    ],
)
def test_bad_bodies_name_the_field_and_change_nothing(api: Api, body: Any, field: str) -> None:
    before = api.site.counts()
    result = api.call("POST", "/api/v1/requests", json=body)
    assert result.status_code == 400, result.text
    error = _error(result)
    assert error["code"] == "invalid_value" and error["details"]["field"] == field
    assert {k: v for k, v in api.site.counts().items() if k != "api_tokens"} == {
        k: v for k, v in before.items() if k != "api_tokens"
    }


def test_other_refusals_use_the_envelope(api: Api) -> None:
    not_json = api.call(
        "POST", "/api/v1/requests", body="{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and _error(not_json)["code"] == "invalid_json"
    form = api.call("POST", "/api/v1/requests", body="a=b", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415 and _error(form)["code"] == "unsupported_media_type"
    bad_param = api.call("GET", "/api/v1/requests", params={"status": "sleeping"})
    assert bad_param.status_code == 400 and _error(bad_param)["details"]["field"] == "status"
    bad_id = api.call("GET", "/api/v1/requests/not-a-uuid")
    assert bad_id.status_code == 400 and _error(bad_id)["details"]["field"] == "request_id"
    unknown = api.call("GET", "/api/v1/nothing-here")
    assert unknown.status_code == 404 and _error(unknown)["code"] == "not_found"
    wrong_method = api.call("DELETE", "/api/v1/me")
    assert wrong_method.status_code == 405 and _error(wrong_method)["code"] == "method_not_allowed"
    malformed = api.call("GET", "/api/v1/me", "none", headers={"Authorization": "Basic x"})
    assert malformed.status_code == 401 and _error(malformed)["code"] == "unauthorized"
    blank = api.call(
        "POST",
        f"/api/v1/requests/{submit(api.site, 'opa', 64500)}/reject",
        "admin",
        json={"reason": "   "},
    )
    assert blank.status_code == 400 and _error(blank)["details"]["field"] == "reason"


def test_duplicate_live_request_names_the_first(api: Api) -> None:
    first = submit(api.site, "opa", 64500)
    body = {"asn": 64500, "network_id": NET, "node_id": "0a0b0c0d0e"}
    result = api.call("POST", "/api/v1/requests", json=body)
    assert result.status_code == 409
    error = _error(result)
    assert error["code"] == "duplicate_live_request"
    assert error["details"]["existing_request_id"] == first


def test_request_lifecycle_over_the_api(api: Api) -> None:
    body = {"asn": 64500, "network_id": NET, "node_id": "0a0b0c0d0e", "notes": "hi"}
    created = api.call("POST", "/api/v1/requests", json=body)
    assert created.status_code == 201
    rid = created.json["data"]["id"]
    assert created.headers["Location"] == f"/api/v1/requests/{rid}"
    listed = api.call("GET", "/api/v1/requests", "admin", params={"status": "pending,approved"})
    assert [r["id"] for r in listed.json["data"]["items"]] == [rid]
    assert api.call("GET", "/api/v1/requests", "opb").json["data"]["total"] == 0
    approved = api.call("POST", f"/api/v1/requests/{rid}/approve", "admin")
    assert approved.json["data"]["status"] == "approved"
    again = api.call("POST", f"/api/v1/requests/{rid}/approve", "admin")
    assert again.status_code == 409
    assert _error(again)["details"]["current_status"] == "approved"
    detail = api.call("GET", f"/api/v1/requests/{rid}").json["data"]
    assert [e["action"] for e in detail["timeline"]] == ["request.submitted", "request.approved"]
    assert detail["membership"] is None
    audit = api.call("GET", "/api/v1/audit", "admin", params={"action": "request.approved"})
    assert [e["target_id"] for e in audit.json["data"]["items"]] == [rid]
    asns = api.call("GET", "/api/v1/asns").json["data"]
    assert {a["asn"]: a["eligible"] for a in asns} == {64500: True, 64512: False}


# --------------------------------------------------------------------------- idempotency


def test_idempotency_key(api: Api) -> None:
    body = {"asn": 64500, "network_id": NET, "node_id": "0a0b0c0d0e"}
    key = {"Idempotency-Key": "abc-123"}
    first = api.call("POST", "/api/v1/requests", json=body, headers=key)
    assert first.status_code == 201 and first.headers["Idempotency-Replayed"] == "false"
    counts = api.site.counts()
    second = api.call("POST", "/api/v1/requests", json=dict(reversed(body.items())), headers=key)
    assert second.status_code == 201 and second.headers["Idempotency-Replayed"] == "true"
    assert second.json["data"]["id"] == first.json["data"]["id"]
    other = api.call("POST", "/api/v1/requests", json={**body, "notes": "x"}, headers=key)
    assert other.status_code == 422
    assert _error(other)["code"] == "idempotency_key_reused"
    assert _error(other)["details"]["request_id"] == first.json["data"]["id"]
    # Another user's same key is theirs alone.
    theirs = api.call(
        "POST",
        "/api/v1/requests",
        "opb",
        json={"asn": 64501, "network_id": NET, "node_id": "0a0b0c0d0f"},
        headers=key,
    )
    assert theirs.status_code == 201 and theirs.headers["Idempotency-Replayed"] == "false"
    after = api.site.counts()
    assert after.get("join_requests", after.get("requests")) == 1 + counts.get(
        "join_requests", counts.get("requests", 0)
    )


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_per_token(site: Site) -> None:
    api = make_api(site, WebSettings(api_burst=3, api_rate_per_s=0.01))
    statuses = [api.call("GET", "/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.call("GET", "/api/v1/me")
    assert _error(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert api.call("GET", "/api/v1/me", "opb").status_code == 200  # its own bucket


# --------------------------------------------------------------------------- sessions


def test_browser_session_with_csrf(site: Site) -> None:
    rid = submit(site, "opa", 64500)
    browser = site.signed_in("admin")
    browser.get("/dashboard")  # the signed-in session's CSRF token
    me = browser.get("/api/v1/me")
    assert me.status_code == 200 and me.json["data"]["auth"] == "session"
    refused = browser.client.simulate_post(
        f"/api/v1/requests/{rid}/approve", cookies=browser.cookies, headers={"Origin": ORIGIN}
    )
    assert refused.status_code == 403 and _error(refused)["code"] == "csrf_token"
    assert browser.csrf
    ok = browser.client.simulate_post(
        f"/api/v1/requests/{rid}/approve",
        cookies=browser.cookies,
        headers={"Origin": ORIGIN, "X-CSRF-Token": browser.csrf},
    )
    assert ok.status_code == 200, ok.text


# --------------------------------------------------------------------------- secrets


def test_token_secrets_never_reach_logs_or_audit(
    site: Site, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api(site)
    for who in ("opa", "revoked", "expired", "admin"):
        api.call("GET", "/api/v1/me", who)
        api.call("POST", "/api/v1/requests", who, json={"asn": 1})
    api.secrets["bogus"] = "ztix_" + "Q" * 43
    api.call("GET", "/api/v1/me", "bogus")
    out, err = capsys.readouterr()
    with site.core.uow_factory() as uow:
        trail = json.dumps([attrs.asdict(e) for e in uow.audit.recent(1000)], default=str)
        stored = repr(uow.api_tokens.list_for_user(site.users["opa"].id))
    for secret in api.secrets.values():
        for text in (caplog.text, out, err, trail, stored):
            assert secret not in text
            assert secret[12:] not in text


def test_tokens_page_shows_the_secret_once(site: Site) -> None:
    browser = site.signed_in("opa")
    assert browser.get("/account/tokens").status_code == 200
    made = browser.post("/account/tokens", {"name": "laptop", "scope": "operator"})
    assert made.status_code == 201
    secret = made.text.split('id="new-secret"')[1].split('value="')[1].split('"')[0]
    assert secret.startswith("ztix_")
    page = browser.get("/account/tokens")
    assert secret not in page.text and "laptop" in page.text
    client = falcon.testing.TestClient(create_app(site.core, site.ws, FAST_HASHER))
    me = client.simulate_get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json["data"]["user"]["username"] == "opa"
    refused = browser.post("/account/tokens", {"name": "root", "scope": "admin"})
    assert refused.status_code == 400 and "admin scope" in refused.text
    (token,) = ApiTokens(site.core.uow_factory, site.clock).list(CLI, site.users["opa"].id)
    other = site.signed_in("opb")
    other.get("/account/tokens")
    assert other.post(f"/account/tokens/{token.id}/revoke", {}).status_code == 404
    assert browser.post(f"/account/tokens/{token.id}/revoke", {}).status_code == 303
    again = client.simulate_get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401
