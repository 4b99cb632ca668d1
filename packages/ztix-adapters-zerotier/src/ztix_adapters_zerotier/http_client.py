"""The HTTP client both providers share: one httpx.Client, bounded retries with
exponential backoff for transient failures, 429 handling (``Retry-After`` /
``X-Ratelimit-Reset``) and the mapping of every failure to a ProviderError an admin can
act on. Secrets never appear in what it logs or raises."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_core.errors import ProviderError

log = logging.getLogger(__name__)

_SNIPPET = 160


class RetryableError(ProviderError):
    """A transient ProviderError that may say how long to wait (429 / 503 headers)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        remediation: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, kind=kind, transient=True, remediation=remediation, status=status)
        self.retry_after = retry_after


def _snippet(text: str, secrets: list[str]) -> str:
    """A short, single-line, secret-free excerpt of a response body."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a 429/503 response asks us to wait, or None when it does not say.

    ``Retry-After`` is seconds or an HTTP date; ``X-Ratelimit-Reset`` is a Unix time (or,
    when small, seconds from now).
    """
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            value = float(reset.strip())
        except ValueError:
            return None
        # Small values are a delay, big ones an epoch timestamp.
        return max(0.0, value - now) if value > 1_000_000_000 else max(0.0, value)
    return None


class ApiClient:
    """JSON over HTTP to one ZeroTier API.

    ``auth_headers`` is called for every request, so a reloaded token takes effect at once.
    ``what`` names the service in messages ("controller", "ZeroTier Central");
    ``auth_remediation`` tells the admin which setting holds the token.
    """

    def __init__(
        self,
        base_url: str,
        auth_headers: Callable[[], dict[str, str]],
        *,
        what: str,
        auth_remediation: str,
        url_setting: str,
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth_headers = auth_headers
        self.what = what
        self.auth_remediation = auth_remediation
        self.url_setting = url_setting
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._now = now
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "ztix"},
        )

    def __repr__(self) -> str:
        return f"ApiClient({self.what!r}, {self.base_url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        missing_ok: bool = False,
        attempts: int | None = None,
    ) -> Any:
        """Send one request and return its parsed JSON body.

        With ``missing_ok`` a 404 returns None instead of raising. Transient failures
        (connection refused, timeouts, 5xx, 429) are retried per the retry policy
        (``attempts`` overrides the count); the last one is raised with
        ``transient=True``.
        """
        tries = attempts if attempts is not None else self.retry.attempts
        last: ProviderError | None = None
        for attempt in range(max(1, tries)):
            if attempt and last is not None:
                wait = last.retry_after if isinstance(last, RetryableError) else None
                delay = (
                    min(float(wait), self.retry.max_retry_wait_s)
                    if wait is not None
                    else self.retry.delay(attempt - 1)
                )
                log.info(
                    "%s %s %s: %s; retry %d/%d in %.2fs",
                    self.what,
                    method,
                    path,
                    last.kind,
                    attempt,
                    tries - 1,
                    delay,
                )
                self._sleep(delay)
            try:
                return self._once(method, path, body, missing_ok)
            except ProviderError as exc:
                if not exc.transient:
                    raise
                last = exc
        assert last is not None
        raise last

    def _once(self, method: str, path: str, body: Any, missing_ok: bool) -> Any:
        headers = self._auth_headers()
        # the header values and, for "scheme value" forms, the bare value
        secrets = [v for h in headers.values() for v in (h, h.split(" ", 1)[-1])]
        try:
            if body is None:
                response = self._http.request(method, path, headers=headers)
            else:
                response = self._http.request(
                    method,
                    path,
                    headers={**headers, "Content-Type": "application/json"},
                    content=json.dumps(body).encode(),
                )
        except httpx.TimeoutException:
            raise RetryableError(
                f"{self.what} did not answer {method} {path} in time",
                kind="timeout",
                remediation=f"check that the {self.what} at {self.url_setting} is up and "
                "not overloaded",
            ) from None
        except httpx.TransportError as exc:
            raise RetryableError(
                f"cannot reach the {self.what} at {self.base_url}: {type(exc).__name__}",
                kind="unreachable",
                remediation=f"start the {self.what} or fix {self.url_setting}",
            ) from None
        log.debug("%s %s %s -> %d", self.what, method, path, response.status_code)
        return self._result(method, path, response, missing_ok, secrets)

    def _result(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        missing_ok: bool,
        secrets: list[str],
    ) -> Any:
        status = response.status_code
        where = f"{method} {path}"
        if 200 <= status < 300:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ProviderError(
                    f"{self.what} answered {where} with a body that is not JSON",
                    kind="bad_response",
                    transient=False,
                    status=status,
                    remediation=f"check that {self.url_setting} points at a ZeroTier {self.what}",
                ) from None
        if status == 401:
            raise ProviderError(
                f"the {self.what} refused the token (401) on {where}",
                kind="auth",
                transient=False,
                status=status,
                remediation=self.auth_remediation,
            )
        if status == 403:
            raise ProviderError(
                f"the {self.what} forbids {where} (403)",
                kind="forbidden",
                transient=False,
                status=status,
                remediation=f"give the token access to this network; {self.auth_remediation}",
            )
        if status == 404:
            if missing_ok:
                return None
            raise ProviderError(
                f"{self.what}: not found: {where}",
                kind="not_found",
                transient=False,
                status=status,
                remediation="check the network and member ids; run `ztix controller "
                "reconcile` to create missing networks",
            )
        if status == 429 or status >= 500:
            raise RetryableError(
                f"{self.what} answered {where} with {status}"
                + (f": {_snippet(response.text, secrets)}" if response.content else ""),
                kind="rate_limited" if status == 429 else "server_error",
                status=status,
                remediation="retry later"
                if status == 429
                else f"check the {self.what}'s logs; the request is retried with backoff",
                retry_after=parse_retry_after(response.headers, self._now()),
            )
        raise ProviderError(
            f"{self.what} refused {where} with {status}"
            + (f": {_snippet(response.text, secrets)}" if response.content else ""),
            kind="rejected",
            transient=False,
            status=status,
            remediation="this request cannot succeed as sent; check ztix's logs and the "
            f"{self.what}'s version",
        )
