"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), the otpauth URI and
recovery codes.

Written on the standard library (``hmac``, ``hashlib``, ``base64``) rather than pyotp: the
core may import nothing but attrs, cattrs and pluggy, and the algorithm is a few lines.
The RFC's own test vectors are in the core's tests.

ztix issues what every authenticator app reads: a 160-bit secret, SHA-1, 6 digits, a
30-second step. A code is accepted in the step of ``at`` and one step either side (clocks
drift); the caller remembers the step it accepted last and refuses it and anything older,
so a code works once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import struct
import urllib.parse

from ztix_core.errors import InvalidValue

STEP_S = 30
DIGITS = 6
#: Steps either side of now that still count (RFC 6238 §5.2 recommends at most one).
WINDOW = 1
SECRET_BYTES = 20
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
RECOVERY_LENGTH = 10
_CODE = re.compile(r"[0-9]{6}")
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def new_secret() -> str:
    """A fresh random secret: 160 bits, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def secret_bytes(secret: str) -> bytes:
    """The key behind a base32 ``secret`` (case and spaces ignored); InvalidValue if it
    is not base32."""
    text = secret.replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        raise InvalidValue("secret", "is not base32") from None


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: the HMAC of the 8-byte counter, dynamically truncated to ``digits``."""
    mac = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[digest]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_step(at: dt.datetime, step_s: int = STEP_S) -> int:
    """The RFC 6238 counter for ``at``: whole steps since the Unix epoch."""
    return int(at.timestamp()) // step_s


def totp(secret: str, at: dt.datetime, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The code for ``at`` (what an authenticator app shows then)."""
    return hotp(secret_bytes(secret), time_step(at), digits, digest)


def matching_step(secret: str, code: str, at: dt.datetime, window: int = WINDOW) -> int | None:
    """The time step within ``window`` steps of ``at`` whose code is ``code``, or None.
    Every candidate is compared in constant time; the newest match wins."""
    given = code.replace(" ", "")
    if not _CODE.fullmatch(given):
        return None
    key = secret_bytes(secret)
    now = time_step(at)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, step), given):
            found = step
    return found


def looks_like_code(text: str) -> bool:
    """True for six digits (spaces ignored): a TOTP code rather than a recovery code."""
    return bool(_CODE.fullmatch(text.replace(" ", "")))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/…`` URI of Google Authenticator's Key Uri Format: the label
    ``issuer:account`` (each part percent-encoded), the secret, and the issuer again as a
    parameter; the algorithm, digits and period are stated although they are the
    defaults."""
    label = f"{urllib.parse.quote(issuer, safe='')}:{urllib.parse.quote(account, safe='')}"
    query = urllib.parse.urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_S,
        },
        quote_via=urllib.parse.quote,
    )
    return f"otpauth://totp/{label}?{query}"


def new_recovery_code() -> str:
    """A recovery code: 10 characters (about 50 bits) shown as ``xxxxx-xxxxx``."""
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normal_recovery_code(text: str) -> str:
    """A recovery code as stored: lower case, without spaces and dashes."""
    return re.sub(r"[\s-]", "", text).lower()
