"""The shared HTTP client: error mapping, bounded retries with backoff, 429 handling, and
no secret in errors or logs. Driven by httpx.MockTransport (exact responses) and by a
closed port / a hanging emulator (real sockets)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator.testing import free_port, running_emulator
from ztix_adapters_zerotier.http_client import ApiClient, parse_retry_after
from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_core.errors import ProviderError

TOKEN = "s3cr3ttokenvalue0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def client(
    handler: Handler | None = None,
    *,
    url: str = "http://controller.test",
    attempts: int = 3,
    sleeps: list[float] | None = None,
    timeout_s: float = 2.0,
    now: float = 1_700_000_000.0,
) -> ApiClient:
    record = sleeps if sleeps is not None else []
    return ApiClient(
        url,
        lambda: {"X-ZT1-Auth": TOKEN},
        what="controller",
        auth_remediation="set ZT_CONTROLLER_AUTH_TOKEN or ZT_CONTROLLER_AUTH_TOKEN_FILE",
        url_setting="ZT_CONTROLLER_BASE_URL",
        retry=RetryPolicy(
            attempts=attempts, backoff_s=0.1, backoff_max_s=0.3, max_retry_wait_s=5.0
        ),
        timeout_s=timeout_s,
        transport=httpx.MockTransport(handler) if handler else None,
        sleep=record.append,
        now=lambda: now,
    )


def counting(responses: list[httpx.Response]) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


def test_sends_the_token_header_and_parses_json() -> None:
    handler, seen = counting([httpx.Response(200, json={"address": "0123456789"})])
    assert client(handler).request("GET", "/status") == {"address": "0123456789"}
    assert seen[0].headers["X-ZT1-Auth"] == TOKEN
    assert "auth=" not in str(seen[0].url)


def test_401_empty_object_is_a_permanent_auth_error_naming_the_settings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handler, seen = counting([httpx.Response(401, content=b"{}")])
    with pytest.raises(ProviderError) as info:
        client(handler).request("GET", "/controller/network")
    err = info.value
    assert (err.kind, err.transient, err.status) == ("auth", False, 401)
    assert "ZT_CONTROLLER_AUTH_TOKEN" in err.remediation
    assert "ZT_CONTROLLER_AUTH_TOKEN_FILE" in err.remediation
    assert len(seen) == 1  # never retried
    for text in (str(err), repr(err), err.remediation, repr(err.details), caplog.text):
        assert TOKEN not in text


def test_404_with_empty_body_is_not_found_or_none_when_allowed() -> None:
    handler, _ = counting([httpx.Response(404, content=b"")])
    with pytest.raises(ProviderError) as info:
        client(handler).request("GET", "/controller/network/0123456789abcdef")
    assert (info.value.kind, info.value.transient, info.value.status) == ("not_found", False, 404)
    assert client(handler).request("GET", "/x", missing_ok=True) is None


def test_5xx_with_invalid_json_body_is_retried_with_exponential_backoff() -> None:
    body = b'{"error": 500, "description": "bad "quoted" thing"}'
    handler, seen = counting([httpx.Response(500, content=body)])
    sleeps: list[float] = []
    with pytest.raises(ProviderError) as info:
        client(handler, attempts=4, sleeps=sleeps).request("POST", "/controller/network/x", body={})
    assert (info.value.kind, info.value.transient, info.value.status) == ("server_error", True, 500)
    assert len(seen) == 4
    assert sleeps == [0.1, 0.2, 0.3]  # doubled each time, capped at backoff_max_s


def test_a_transient_failure_then_success_returns_the_result() -> None:
    handler, seen = counting(
        [httpx.Response(503, content=b"oops"), httpx.Response(200, json=["a"])]
    )
    assert client(handler).request("GET", "/controller/network") == ["a"]
    assert len(seen) == 2


def test_other_4xx_is_permanent_and_the_body_snippet_is_redacted() -> None:
    handler, seen = counting([httpx.Response(400, content=f"bad token {TOKEN}".encode())])
    with pytest.raises(ProviderError) as info:
        client(handler).request("POST", "/x", body={})
    assert (info.value.kind, info.value.transient) == ("rejected", False)
    assert TOKEN not in str(info.value)
    assert "***" in str(info.value)
    assert len(seen) == 1


def test_200_that_is_not_json_is_a_bad_response() -> None:
    handler, _ = counting([httpx.Response(200, content=b"<html>")])
    with pytest.raises(ProviderError) as info:
        client(handler).request("GET", "/status")
    assert info.value.kind == "bad_response"


def test_429_honours_retry_after_seconds() -> None:
    handler, seen = counting(
        [
            httpx.Response(429, headers={"Retry-After": "2"}, json={"message": "slow"}),
            httpx.Response(200, json={}),
        ]
    )
    sleeps: list[float] = []
    assert client(handler, sleeps=sleeps).request("GET", "/network/x") == {}
    assert sleeps == [2.0]
    assert len(seen) == 2


def test_429_honours_x_ratelimit_reset_epoch_and_caps_the_wait() -> None:
    now = 1_700_000_000.0
    handler, _ = counting(
        [
            httpx.Response(429, headers={"X-Ratelimit-Reset": str(int(now) + 1)}),
            httpx.Response(429, headers={"X-Ratelimit-Reset": str(int(now) + 3600)}),
            httpx.Response(200, json={}),
        ]
    )
    sleeps: list[float] = []
    client(handler, sleeps=sleeps, now=now).request("GET", "/network/x")
    assert sleeps == [1.0, 5.0]  # the second is capped at max_retry_wait_s


def test_429_exhausting_attempts_is_transient_rate_limited() -> None:
    handler, seen = counting([httpx.Response(429)])
    with pytest.raises(ProviderError) as info:
        client(handler, attempts=2).request("GET", "/network/x")
    assert (info.value.kind, info.value.transient, info.value.status) == ("rate_limited", True, 429)
    assert len(seen) == 2


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "3"}, now) == 3.0
    assert parse_retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}, now) == 10.0
    assert parse_retry_after({"x-ratelimit-reset": "4"}, now) == 4.0
    assert parse_retry_after({"x-ratelimit-reset": str(now - 5)}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


def test_connection_refused_is_transient_and_retried() -> None:
    sleeps: list[float] = []
    api = client(url=f"http://127.0.0.1:{free_port()}", sleeps=sleeps)
    with pytest.raises(ProviderError) as info:
        api.request("GET", "/status")
    assert (info.value.kind, info.value.transient) == ("unreachable", True)
    assert "ZT_CONTROLLER_BASE_URL" in info.value.remediation
    assert len(sleeps) == 2


def test_timeout_is_transient(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "home") as zt:
        zt.go_away("hang")
        api = client(url=zt.url, attempts=2, timeout_s=0.2)
        with pytest.raises(ProviderError) as info:
            api.request("GET", "/status")
        zt.clear_faults()
    assert (info.value.kind, info.value.transient) == ("timeout", True)


def test_retry_policy_is_validated() -> None:
    from ztix_core.errors import SettingsError

    with pytest.raises(SettingsError) as info:
        RetryPolicy(attempts=0)
    assert info.value.setting == "zerotier.retry_attempts"
    with pytest.raises(SettingsError):
        RetryPolicy(backoff_s=-1)
