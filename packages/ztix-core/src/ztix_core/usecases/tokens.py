"""API tokens: create (the secret shown once), list, revoke, and the bearer check.

A token's secret is 32 random bytes (256 bits) from :mod:`secrets`; storage keeps only
its SHA-256. A slow password hash (argon2) protects *guessable* secrets against an attacker
holding the table; a 256-bit random secret cannot be guessed whatever the hash, and a fast
hash lets every API call look its token up by an index instead of verifying candidates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import attrs

from ztix_core.api_ports import ApiToken, TokenScope
from ztix_core.errors import InvalidValue, NotFound, PermissionDenied, ZtixError
from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.records import Actor, User, new_id
from ztix_core.usecases._common import audit

#: Every secret starts with this, so a leaked one is recognisable (secret scanners).
SECRET_PREFIX = "ztix_"
#: How much of the secret lists show, to tell tokens apart.
SHOWN_CHARS = len(SECRET_PREFIX) + 6
MAX_NAME = 100
#: Uses closer together than this do not write ``last_used_at`` again (one write a
#: minute per token, not one per call).
TOUCH_EVERY = dt.timedelta(seconds=60)


class TokenRefused(ZtixError):
    """A bearer token that is unknown, revoked, expired or whose account is disabled.
    The message says which, never the secret."""

    code = "token_refused"


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@attrs.frozen
class NewToken:
    """A token just made, with its secret: the only time the secret exists outside the
    caller's hands."""

    token: ApiToken
    secret: str


@attrs.frozen
class Bearer:
    """Who an accepted token speaks for: the account, the token, and the actor the use
    cases see (an admin only for an admin-scoped token of an admin)."""

    user: User
    token: ApiToken
    actor: Actor


def parse_scope(raw: object) -> TokenScope:
    """``operator`` or ``admin``; InvalidValue naming ``scope`` otherwise."""
    try:
        return TokenScope(raw)
    except ValueError:
        raise InvalidValue("scope", "must be 'operator' or 'admin'") from None


class ApiTokens:
    """Tokens for scripts. A user manages their own; an admin (or the CLI) anyone's."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    @staticmethod
    def _may_manage(actor: Actor, user_id: uuid.UUID) -> None:
        if not actor.is_admin and actor.id != str(user_id):
            raise PermissionDenied("you may manage only your own API tokens")

    def create(
        self,
        actor: Actor,
        user_id: uuid.UUID,
        name: str,
        scope: TokenScope | str = TokenScope.OPERATOR,
        expires_at: dt.datetime | None = None,
    ) -> NewToken:
        """Make a token for ``user_id``; the secret is returned once and stored hashed.

        ``admin`` scope only for an admin's account, made by an actor with admin rights
        (not by an admin's session that acts as an operator, such as one that still owes
        its TOTP code); ``expires_at`` must be in the future;
        ``name`` 1-100 characters. Audited as ``token.created`` (the prefix, never the
        secret)."""
        self._may_manage(actor, user_id)
        scope = scope if isinstance(scope, TokenScope) else parse_scope(scope)
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidValue("name", f"1 to {MAX_NAME} characters")
        now = self.clock.now()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidValue("expires_at", "must carry a time zone")
            if expires_at <= now:
                raise InvalidValue("expires_at", "must be in the future")
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            if user.disabled:
                raise PermissionDenied("a disabled account cannot hold API tokens")
            if scope is TokenScope.ADMIN and not user.is_admin:
                raise InvalidValue("scope", "admin scope needs an admin account")
            if scope is TokenScope.ADMIN and not actor.is_admin:
                raise PermissionDenied("admin scope needs an actor with admin rights")
            secret = SECRET_PREFIX + secrets.token_urlsafe(32)
            token = ApiToken(
                new_id(),
                user.id,
                name,
                scope,
                hash_secret(secret),
                secret[:SHOWN_CHARS],
                now,
                expires_at=expires_at,
            )
            uow.api_tokens.add(token)
            audit(
                uow,
                now,
                actor,
                "token.created",
                "api_token",
                str(token.id),
                {
                    "user_id": str(user.id),
                    "name": name,
                    "scope": scope.value,
                    "prefix": token.prefix,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
            uow.commit()
            return NewToken(token, secret)

    def list(self, actor: Actor, user_id: uuid.UUID) -> list[ApiToken]:
        """The user's tokens, newest first (revoked ones too)."""
        self._may_manage(actor, user_id)
        with self.uow_factory() as uow:
            return uow.api_tokens.list_for_user(user_id)

    def revoke(self, actor: Actor, token_id: uuid.UUID) -> ApiToken:
        """Revoke at once: the next call with it is refused. The owner or an admin; another
        user's token is NotFound, as is an unknown one. Revoking twice is fine."""
        with self.uow_factory() as uow:
            token = uow.api_tokens.get(token_id)
            if token is None or (not actor.is_admin and actor.id != str(token.user_id)):
                raise NotFound(f"API token {token_id} not found")
            if token.revoked_at is not None:
                return token
            now = self.clock.now()
            uow.api_tokens.revoke(token.id, now)
            audit(
                uow,
                now,
                actor,
                "token.revoked",
                "api_token",
                str(token.id),
                {"user_id": str(token.user_id), "prefix": token.prefix},
            )
            uow.commit()
            return attrs.evolve(token, revoked_at=now)

    def authenticate(self, secret: str) -> Bearer:
        """The account behind a bearer secret, or TokenRefused saying why (unknown,
        revoked, expired, account disabled). Records the use (at most once a minute)."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            raise TokenRefused("not a ztix API token")
        now = self.clock.now()
        with self.uow_factory() as uow:
            token = uow.api_tokens.get_by_hash(hash_secret(secret))
            if token is None:
                raise TokenRefused("unknown API token")
            if token.revoked_at is not None:
                raise TokenRefused("this API token was revoked")
            if token.expires_at is not None and token.expires_at <= now:
                raise TokenRefused("this API token has expired")
            user = uow.users.get(token.user_id)
            if user is None or user.disabled:
                raise TokenRefused("the account of this API token is disabled")
            if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
                uow.api_tokens.touch(token.id, now)
                uow.commit()
                token = attrs.evolve(token, last_used_at=now)
        admin = user.is_admin and token.scope is TokenScope.ADMIN
        return Bearer(user, token, Actor("user", str(user.id), is_admin=admin))
