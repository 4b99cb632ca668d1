"""The emulator's node identity, stored like zerotier-one's ``identity.secret`` / ``.public``.

The format is the real one (``address:0:public-hex[:private-hex]``, 64-byte keys), and any
well-formed identity is accepted, including a real zerotier-one's: its public part and
``identity.public`` must agree, but the address is *not* re-derived from the key.
ZeroTier derives it with a memory-hard hash (2 MiB of Salsa20 output per check, see
``node/Identity.cpp``), far too slow to reproduce in pure Python; a real controller binary
checks it (``zerotier-one -i validate``, run by the restore drill when one is configured).

Identities the emulator generates itself have random keys (not Curve25519/Ed25519) and
an address taken from SHA-512 of the public key.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

import attrs

IDENTITY_SECRET = "identity.secret"
IDENTITY_PUBLIC = "identity.public"

_KEY_HEX = 128  # 64 bytes, like a real C25519 + Ed25519 key pair
_SECRET_RE = re.compile(r"([0-9a-f]{10}):0:([0-9a-f]{128}):([0-9a-f]{128})")
_PUBLIC_RE = re.compile(r"([0-9a-f]{10}):0:([0-9a-f]{128})")


class IdentityError(ValueError):
    """The identity files are missing, malformed or do not agree with each other."""


def derive_address(public_key_hex: str) -> str:
    """The address the emulator gives an identity it generates (SHA-512 of the public key,
    first 5 bytes). Not ZeroTier's rule, so never used to check an identity."""
    return hashlib.sha512(bytes.fromhex(public_key_hex)).hexdigest()[:10]


def _address_usable(address: str) -> bool:
    return address != "0" * 10 and not address.startswith("ff")


@attrs.frozen
class Identity:
    """A node identity: address, public key and (for a secret identity) private key."""

    address: str
    public_key: str
    private_key: str = ""

    @property
    def public(self) -> str:
        """The ``identity.public`` text."""
        return f"{self.address}:0:{self.public_key}"

    @property
    def secret(self) -> str:
        """The ``identity.secret`` text."""
        return f"{self.address}:0:{self.public_key}:{self.private_key}"

    @classmethod
    def generate(cls) -> Identity:
        """A fresh identity whose address is usable (not zero, not ``ff…``)."""
        while True:
            public_key = secrets.token_hex(_KEY_HEX // 2)
            address = derive_address(public_key)
            if _address_usable(address):
                return cls(address, public_key, secrets.token_hex(_KEY_HEX // 2))

    @classmethod
    def parse_secret(cls, text: str) -> Identity:
        """Parse ``identity.secret`` text; IdentityError when malformed or the address is
        reserved (zero or ``ff…``)."""
        match = _SECRET_RE.fullmatch(text.strip())
        if match is None:
            raise IdentityError("identity.secret is not address:0:public:private")
        address, public_key, private_key = match.groups()
        if not _address_usable(address):
            raise IdentityError(f"identity.secret: {address} is a reserved address")
        return cls(address, public_key, private_key)

    @classmethod
    def parse_public(cls, text: str) -> Identity:
        """Parse ``identity.public`` text; IdentityError when malformed or the address is
        reserved."""
        match = _PUBLIC_RE.fullmatch(text.strip())
        if match is None:
            raise IdentityError("identity.public is not address:0:public")
        address, public_key = match.groups()
        if not _address_usable(address):
            raise IdentityError(f"identity.public: {address} is a reserved address")
        return cls(address, public_key)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_identity(home: Path) -> Identity:
    """The identity stored in ``home``; IdentityError when missing or the two files differ."""
    secret_path = home / IDENTITY_SECRET
    if not secret_path.is_file():
        raise IdentityError(f"{secret_path} is missing")
    ident = Identity.parse_secret(secret_path.read_text())
    public_path = home / IDENTITY_PUBLIC
    if public_path.is_file():
        public = Identity.parse_public(public_path.read_text())
        if public.public != ident.public:
            raise IdentityError("identity.public does not match the public part of identity.secret")
    return ident


def load_or_create_identity(home: Path) -> Identity:
    """Read the identity from ``home``, creating both files when there is none yet.

    Like zerotier-one, a missing ``identity.public`` is rewritten from the secret.
    """
    home.mkdir(parents=True, exist_ok=True)
    secret_path = home / IDENTITY_SECRET
    if secret_path.exists():
        ident = read_identity(home)
    else:
        ident = Identity.generate()
        _write_private(secret_path, ident.secret)
    public_path = home / IDENTITY_PUBLIC
    if not public_path.exists():
        public_path.write_text(ident.public)
    return ident
