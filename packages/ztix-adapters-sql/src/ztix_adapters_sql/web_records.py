"""Records of the web layer's storage: OAuth sign-ins in flight and server-side sessions.

They live here, not in the core, because only the web layer uses them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs


@attrs.frozen
class OAuthState:
    """One OAuth/OIDC sign-in in flight: ``state`` (the key), the OIDC ``nonce`` and the PKCE
    ``code_verifier``, valid until ``expires_at`` and usable once."""

    state: str
    provider: str
    nonce: str
    code_verifier: str
    created_at: dt.datetime
    expires_at: dt.datetime
    redirect_to: str = ""


@attrs.frozen
class WebSession:
    """A server-side session. ``id`` is what the web layer chooses to key it by (store a
    hash of the cookie token, not the token); ``user_id`` is None before sign-in."""

    id: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_id: uuid.UUID | None = None
    data: dict[str, Any] = attrs.field(factory=dict)
