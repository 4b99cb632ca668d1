"""The provider's own parts: PeeringDB's claims and ``/profile/v1``, and the faults a test
switches on through ``control.json`` (an answer of 500, a hang, a bad id_token).

Profiles live in ``profiles.json`` (username → PeeringDB's ``profile/v1`` shape, minus
``id``, which is the Django user's primary key and the id_token's ``sub``), so a test can
change a user's networks between two sign-ins.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views.generic import ScopedProtectedResourceView

DIR = Path(settings.DIR)


def _read(name: str, default: Any) -> Any:
    try:
        return json.loads((DIR / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def control() -> dict[str, Any]:
    """The faults switched on now (``control.json``)."""
    found: dict[str, Any] = _read("control.json", {})
    return found


def profile_of(user: Any) -> dict[str, Any]:
    """PeeringDB's profile of a Django user, every scope's keys included."""
    stored: dict[str, Any] = _read("profiles.json", {}).get(user.username, {})
    return {"id": user.pk, **stored}


class FaultMiddleware:
    """Answers 500 or hangs for the paths ``control.json`` names (``faults``: a list of
    ``{"prefix": "/oauth2/token/", "status": 500}`` or ``{"prefix": …, "hang_s": 30}``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for fault in control().get("faults", []):
            if not request.path.startswith(fault["prefix"]):
                continue
            if "hang_s" in fault:
                end = time.monotonic() + float(fault["hang_s"])
                # A hang ends early when the test switches the fault off.
                while time.monotonic() < end and fault in control().get("faults", []):
                    time.sleep(0.05)
            return HttpResponse("<h1>Server Error (500)</h1>", status=int(fault.get("status", 500)))
        return self.get_response(request)


class PeeringDbValidator(OAuth2Validator):
    """PeeringDB's id_token claims: name, given/family name, email and ``email_verified``
    (the scope each needs as in OIDC). ``control.json``'s ``id_token`` spoils the token on
    purpose: ``expired`` (``exp`` in the past), ``rogue_key`` (signed by a key the JWKS does
    not hold, under that key's own ``kid``), ``forged`` (signed by another key under the
    real ``kid``)."""

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        """Standard claims from the user's PeeringDB profile."""
        p = profile_of(request.user)
        return {
            "name": p.get("name", ""),
            "given_name": p.get("given_name", ""),
            "family_name": p.get("family_name", ""),
            "email": p.get("email", ""),
            "email_verified": bool(p.get("verified_email", False)),
        }

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], dt.datetime]:
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        if control().get("id_token") == "expired":
            claims["exp"] = int(time.time()) - 600
        return claims, expiration

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> Any:
        mode = control().get("id_token")
        if mode not in ("rogue_key", "forged"):
            return super().finalize_id_token(id_token, token, token_handler, request)
        claims, expiration = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        rogue = jwk.JWK.from_pem((DIR / "rogue-key.pem").read_bytes())
        kid = rogue.thumbprint() if mode == "rogue_key" else request.client.jwk_key.thumbprint()
        signed = jwt.JWT(
            header=json.dumps({"typ": "JWT", "alg": "RS256", "kid": kid}),
            claims=json.dumps(id_token, default=str),
        )
        signed.make_signed_token(rogue)
        saved = self._save_id_token(id_token["jti"], request, expiration)
        request.access_token = saved
        request.id_token = saved
        return signed.serialize()


class ProfileView(ScopedProtectedResourceView):
    """``/profile/v1``: a Bearer token with scope ``profile``; ``email``/``verified_email``
    only with ``email``, ``networks`` only with ``networks``, ``amr`` only with ``amr``."""

    required_scopes = ["profile"]

    def get(self, request: Any) -> JsonResponse:
        _, oauth_request = self.verify_request(request)
        scopes = set(oauth_request.access_token.scope.split())
        p = profile_of(request.resource_owner)
        out: dict[str, Any] = {
            k: p[k] for k in ("id", "name", "given_name", "family_name", "verified_user") if k in p
        }
        if "email" in scopes:
            out |= {k: p[k] for k in ("email", "verified_email") if k in p}
        if "networks" in scopes:
            out["networks"] = p.get("networks", [])
        if "amr" in scopes:
            out["amr"] = p.get("amr", ["pwd"])
        return JsonResponse(out)


def ready(request: HttpRequest) -> HttpResponse:
    """What the harness waits on: the app is loaded and its database answers."""
    from django.contrib.auth.models import User

    return HttpResponse(f"ready {User.objects.count()}", content_type="text/plain")
