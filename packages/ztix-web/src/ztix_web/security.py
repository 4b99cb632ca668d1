"""Small security primitives: tokens, their stored form, the ``next`` rule, headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse

#: Every response carries these. No inline script or style anywhere: HTMX and the CSS
#: come from /static; HTMX's own inline indicator style is switched off (see base.html).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Nothing leaves for other sites; not "no-referrer": with it browsers send
    # "Origin: null" on this site's own form posts, and the Origin check refuses them.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

DEFAULT_NEXT = "/dashboard"


def new_token() -> str:
    """A fresh opaque random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    """What storage keys a session by: a SHA-256 of the cookie's token, so a leaked
    database row cannot be replayed as a cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False when ``given`` is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def safe_next(raw: str | None) -> str:
    """``raw`` when it is a local path on this site, else the dashboard.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers read ``/\\``
    as ``//``), control characters and anything that parses with a scheme or a host."""
    if not raw or not raw.startswith("/") or raw.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return DEFAULT_NEXT
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    return raw
