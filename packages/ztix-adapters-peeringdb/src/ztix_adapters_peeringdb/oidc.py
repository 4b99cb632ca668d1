"""The OpenID Connect client of Sign in with PeeringDB.

Authlib builds the protocol messages (the authorization request with PKCE S256, the token
request); joserfc (Authlib's JOSE library) verifies the id_token: RS256 only, the key from
the provider's JWKS by ``kid`` (cached; an unknown ``kid`` fetches the JWKS once more, for
a provider that rotated its key), then ``iss``, ``aud`` (and ``azp`` when there are
several audiences), ``exp``/``iat`` against ztix's clock with a small skew, ``sub`` and the
``nonce`` of this sign-in. HTTP goes through httpx with one timeout per call.

Every failure is an :class:`UpstreamError` with a short code for the page and a detail
for the log that never holds a secret, a code, a token or a verifier.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs
import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet

from ztix_adapters_peeringdb.signin_settings import SCOPES, SignInSettings
from ztix_core.ports import Clock
from ztix_core.web_ports import OAuthState

ALGORITHMS = ["RS256"]


class UpstreamError(Exception):
    """The provider failed or sent something ztix may not accept. ``code`` is short and
    shown to the user; ``detail`` goes to the log and the audit trail (no secrets)."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail


@attrs.frozen
class Discovery:
    """The endpoints of the provider's discovery document ztix uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class PeeringDbOidc:
    """Discovery, the authorization URL, the token exchange, id_token verification and
    ``profile/v1``, against the provider at ``settings.base_url``. Thread-safe."""

    def __init__(
        self,
        settings: SignInSettings,
        client_secret: str,
        clock: Clock,
        http: httpx.Client | None = None,
    ) -> None:
        self.s = settings
        self._secret = client_secret
        self.clock = clock
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s), follow_redirects=False
        )
        self._lock = threading.Lock()
        self._discovery: tuple[float, Discovery] | None = None
        self._keys: tuple[float, KeySet] | None = None
        #: How often the JWKS was fetched (for tests and the benchmark).
        self.jwks_fetches = 0

    # ---------------------------------------------------------------- HTTP

    def _call(self, what: str, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kw)
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                "provider_timeout",
                "PeeringDB did not answer in time.",
                step=what,
                error=type(exc).__name__,
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                "provider_unreachable",
                "PeeringDB could not be reached.",
                step=what,
                error=type(exc).__name__,
            ) from None

    def _json(self, what: str, response: httpx.Response) -> Any:
        if response.status_code >= 500:
            raise UpstreamError(
                "provider_error",
                f"PeeringDB answered with an error ({response.status_code}).",
                step=what,
                status=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(
                "provider_bad_answer",
                "PeeringDB sent an answer ztix cannot read.",
                step=what,
                status=response.status_code,
            ) from None

    # ---------------------------------------------------------------- discovery and keys

    def discovery(self) -> Discovery:
        """The provider's endpoints (cached for ``cache_s``); its issuer must be ours."""
        now = time.monotonic()
        with self._lock:
            if self._discovery is not None and now - self._discovery[0] < self.s.cache_s:
                return self._discovery[1]
        url = self.s.issuer + "/.well-known/openid-configuration"
        doc = self._json("discovery", self._call("discovery", "GET", url))
        if not isinstance(doc, dict):
            raise UpstreamError("provider_bad_answer", "Bad discovery document.", step="discovery")
        if doc.get("issuer") != self.s.issuer:
            raise UpstreamError(
                "provider_bad_answer",
                "PeeringDB's discovery names another issuer.",
                step="discovery",
                issuer=str(doc.get("issuer"))[:200],
            )
        try:
            found = Discovery(
                doc["issuer"],
                *(str(doc[k]) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")),
            )
        except KeyError as exc:
            raise UpstreamError(
                "provider_bad_answer",
                "PeeringDB's discovery lacks an endpoint.",
                step="discovery",
                missing=str(exc),
            ) from None
        with self._lock:
            self._discovery = (now, found)
        return found

    def _keyset(self, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        with self._lock:
            cached = self._keys
        if not refresh and cached is not None and now - cached[0] < self.s.cache_s:
            return cached[1]
        doc = self._json("jwks", self._call("jwks", "GET", self.discovery().jwks_uri))
        try:
            keys = KeySet.import_key_set(doc)
        except (ValueError, TypeError, KeyError, jose_errors.JoseError) as exc:
            raise UpstreamError(
                "provider_bad_answer",
                "PeeringDB's signing keys cannot be read.",
                step="jwks",
                error=type(exc).__name__,
            ) from None
        with self._lock:
            self._keys = (now, keys)
            self.jwks_fetches += 1
        return keys

    # ---------------------------------------------------------------- the flow

    def authorization_url(self, item: OAuthState, redirect_uri: str) -> str:
        """Where to send the browser: code flow, PKCE S256, ``state`` and ``nonce``."""
        uri: str = prepare_grant_uri(
            self.discovery().authorization_endpoint,
            self.s.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=item.state,
            nonce=item.nonce,
            code_challenge=create_s256_code_challenge(item.code_verifier),
            code_challenge_method="S256",
        )
        return uri

    def exchange(self, code: str, item: OAuthState, redirect_uri: str) -> dict[str, str]:
        """Trade the code (with the PKCE verifier) for tokens; ``access_token`` and
        ``id_token`` are both required. The client authenticates with HTTP Basic."""
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=item.code_verifier,
        )
        response = self._call(
            "token",
            "POST",
            self.discovery().token_endpoint,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            auth=(self.s.client_id, self._secret),
        )
        answer = self._json("token", response)
        if response.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise UpstreamError(
                "token_refused",
                "PeeringDB refused to complete the sign-in.",
                step="token",
                status=response.status_code,
                error=str(error)[:100],
            )
        tokens = {k: answer.get(k) for k in ("access_token", "id_token")}
        if not all(isinstance(v, str) and v for v in tokens.values()):
            raise UpstreamError(
                "token_refused",
                "PeeringDB's answer lacks a token.",
                step="token",
                missing=[k for k, v in tokens.items() if not isinstance(v, str) or not v],
            )
        return {k: str(v) for k, v in tokens.items()}

    def verify_id_token(self, raw: str, nonce: str) -> dict[str, Any]:
        """The id_token's claims once signature, issuer, audience, times and nonce hold;
        UpstreamError(``id_token_invalid``) naming what failed otherwise."""
        try:
            try:
                token = jwt.decode(raw, self._keyset(), algorithms=ALGORITHMS)
            except jose_errors.InvalidKeyIdError:
                # The provider may have rotated its key since the JWKS was cached.
                token = jwt.decode(raw, self._keyset(refresh=True), algorithms=ALGORITHMS)
        except jose_errors.InvalidKeyIdError:
            raise self._bad("unknown_key") from None
        except jose_errors.BadSignatureError:
            raise self._bad("bad_signature") from None
        except (jose_errors.JoseError, ValueError) as exc:
            raise self._bad("malformed", error=type(exc).__name__) from None
        claims: dict[str, Any] = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(self.clock.now().timestamp()),
            leeway=self.s.clock_skew_s,
            iss={"essential": True, "value": self.s.issuer},
            aud={"essential": True, "value": self.s.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except jose_errors.ExpiredTokenError:
            raise self._bad("expired") from None
        except jose_errors.InvalidClaimError as exc:
            raise self._bad(f"claim_{exc.claim}") from None
        except jose_errors.MissingClaimError as exc:
            raise self._bad("missing_claim", claim=str(exc.description)[:100]) from None
        except jose_errors.JoseError as exc:
            raise self._bad("claims", error=type(exc).__name__) from None
        audience = claims.get("aud")
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != self.s.client_id
        ):
            raise self._bad("claim_azp")
        return claims

    @staticmethod
    def _bad(reason: str, **detail: Any) -> UpstreamError:
        return UpstreamError(
            "id_token_invalid",
            "PeeringDB's answer could not be verified.",
            step="id_token",
            reason=reason,
            **detail,
        )

    def profile(self, access_token: str) -> Any:
        """``profile/v1`` with the access token (the JSON, parsed by the core)."""
        response = self._call(
            "profile",
            "GET",
            self.s.base_url.rstrip("/") + "/profile/v1",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        answer = self._json("profile", response)
        if response.status_code != 200:
            raise UpstreamError(
                "profile_refused",
                "PeeringDB did not give ztix your profile.",
                step="profile",
                status=response.status_code,
            )
        return answer

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()
