"""A password hasher for tests only (not secure: never use it to store real passwords)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


class PlainTestHasher:
    """Salted SHA-256; fast, for tests. Production uses argon2id (ztix-web)."""

    def hash(self, password: str) -> str:
        salt = secrets.token_hex(8)
        return f"test${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            _, salt, digest = password_hash.split("$")
        except ValueError:
            return False
        expected = hashlib.sha256((salt + password).encode()).hexdigest()
        return hmac.compare_digest(digest, expected)

    def needs_rehash(self, password_hash: str) -> bool:
        return False
