"""Local accounts: create, update, disable/enable, ASN links, network access, passwords,
the password check behind a local sign-in, and its second factor (TOTP).

Every change is one unit of work with its audit event (``account.*``, target ``user``);
every refusal raises a typed error before anything is written. Passwords and recovery
codes go through the :class:`~ztix_core.ports.PasswordHasher` port and never reach the
audit trail; neither do TOTP secrets or codes.
"""

from __future__ import annotations

import builtins
import enum
import re
import uuid
from typing import Any

import attrs

from ztix_core import totp
from ztix_core.errors import Conflict, DuplicateRecord, InvalidValue, NotFound, PermissionDenied
from ztix_core.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, AsnLink, JsonDict, LinkSource, NetworkAccess, User, new_id
from ztix_core.usecases._common import audit
from ztix_core.values import Asn, NetworkId
from ztix_core.web_ports import TotpCredential

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")
MIN_PASSWORD = 12
#: Long enough for any passphrase, short enough that hashing cannot be used to stall us.
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 200
MAX_EMAIL = 320
#: Accounts made by Sign in with PeeringDB are named ``pdb-<PeeringDB id>``; local accounts
#: may not take such a name.
PEERINGDB_PREFIX = "pdb-"
#: Hashed once per process and verified for unknown usernames, so that answering "no such
#: user" costs as much as answering "wrong password".
_DUMMY_PASSWORD = "ztix-dummy-password-for-unknown-users"
#: Recovery codes made when TOTP is confirmed; each works once.
RECOVERY_CODES = 10
#: The name authenticator apps show next to the account (``otpauth`` issuer).
TOTP_ISSUER = "ztix"
#: The longest second-factor answer read (a code or a recovery code, with separators).
MAX_CODE = 64


class SecondFactor(enum.Enum):
    """How a sign-in's second step was passed."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@attrs.frozen
class TotpStatus:
    """A user's two-factor state: ``active`` (sign-in asks for a code), ``pending`` (a
    secret waits for its first code), and how many recovery codes are left unused."""

    active: bool
    pending: bool
    recovery_codes_left: int


@attrs.frozen
class TotpEnrolment:
    """A secret waiting for its first code: the base32 ``secret`` (to type in) and its
    ``otpauth://`` ``uri`` (for the QR code)."""

    secret: str
    uri: str = attrs.field(repr=False)


@attrs.frozen
class AccountSummary:
    """A user with the ASNs linked to them and the networks they are restricted to (empty:
    every network) — one row of ``ztix user list``."""

    user: User
    asns: tuple[Asn, ...]
    networks: tuple[NetworkId, ...]


def check_username(raw: object) -> str:
    """A valid login name (letters, digits and ``._@-``, 1–150 characters), stripped."""
    if not isinstance(raw, str) or not USERNAME.fullmatch(raw.strip()):
        raise InvalidValue(
            "username",
            "1-150 characters: letters, digits and . _ @ -, starting with a letter or digit",
        )
    return raw.strip()


def check_password(raw: object) -> str:
    """A password ztix accepts: ``MIN_PASSWORD`` to ``MAX_PASSWORD`` characters."""
    if not isinstance(raw, str) or not MIN_PASSWORD <= len(raw) <= MAX_PASSWORD:
        raise InvalidValue("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return raw


def _check_display_name(raw: str) -> str:
    text = raw.strip()
    if not text or len(text) > MAX_DISPLAY_NAME or not text.isprintable():
        raise InvalidValue("display_name", f"1-{MAX_DISPLAY_NAME} printable characters required")
    return text


def _check_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or len(text) > MAX_EMAIL or " " in text:
        raise InvalidValue("email", f"{raw!r} is not an email address")
    return text


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only an admin may manage accounts")


def _load(uow: UnitOfWork, username: str) -> User:
    user = uow.users.get_by_username(username)
    if user is None:
        raise NotFound(f"no account named {username!r}", username=username)
    return user


class Accounts:
    """Account management (admin only) and the password check of a local sign-in."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.hasher = hasher
        self._dummy_hash: str | None = None

    # ---------------------------------------------------------------- helpers

    def _audit(self, uow: UnitOfWork, actor: Actor, action: str, user: User, **meta: Any) -> None:
        data: JsonDict = {"username": user.username, **meta}
        audit(uow, self.clock.now(), actor, f"account.{action}", "user", str(user.id), data)

    def _change(
        self, actor: Actor, username: str, action: str, *, sign_out: bool = False, **changes: Any
    ) -> User:
        _require_admin(actor)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            updated = attrs.evolve(user, **changes)
            if updated == user:
                return user
            uow.users.update(updated)
            diff = {k: v for k, v in changes.items() if getattr(user, k) != v}
            meta: dict[str, Any] = {"changes": diff}
            if sign_out:
                meta["sessions_ended"] = uow.web_sessions.delete_for_user(user.id)
            self._audit(uow, actor, action, updated, **meta)
            uow.commit()
            return updated

    # ---------------------------------------------------------------- accounts

    def create(
        self,
        actor: Actor,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """A new local account with its password; DuplicateRecord when the username is
        taken (compared case-insensitively), nothing written."""
        _require_admin(actor)
        name = check_username(username)
        if name.lower().startswith(PEERINGDB_PREFIX):
            raise InvalidValue(
                "username",
                f"names starting with {PEERINGDB_PREFIX} are kept for PeeringDB sign-ins",
            )
        password = check_password(password)
        shown = _check_display_name(display_name if display_name is not None else name)
        mail = _check_email(email)
        password_hash = self.hasher.hash(password)
        with self.uow_factory() as uow:
            if uow.users.get_by_username(name) is not None:
                raise DuplicateRecord(f"username {name!r} is taken", field="username")
            user = User(
                new_id(),
                name,
                shown,
                email=mail,
                is_admin=is_admin,
                created_at=self.clock.now(),
            )
            uow.users.add(user)
            uow.credentials.set(user.id, password_hash)
            self._audit(uow, actor, "created", user, is_admin=is_admin)
            uow.commit()
            return user

    def update(
        self,
        actor: Actor,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
    ) -> User:
        """Change the display name, email or admin flag (None: leave as is; an empty email
        clears it). An admin may not take away their own admin flag."""
        changes: dict[str, Any] = {}
        if display_name is not None:
            changes["display_name"] = _check_display_name(display_name)
        if email is not None:
            changes["email"] = _check_email(email)
        if is_admin is not None:
            changes["is_admin"] = is_admin
        if is_admin is False:
            self._refuse_self(actor, username, "remove your own admin rights")
        return self._change(actor, username, "updated", **changes)

    def _refuse_self(self, actor: Actor, username: str, what: str) -> None:
        with self.uow_factory() as uow:
            user = uow.users.get_by_username(username)
        if user is not None and actor.kind == "user" and actor.id == str(user.id):
            raise PermissionDenied(f"you may not {what}")

    def disable(self, actor: Actor, username: str) -> User:
        """Switch the account off: its web sessions end and it can no longer sign in (its
        requests and history stay)."""
        self._refuse_self(actor, username, "disable your own account")
        return self._change(actor, username, "disabled", sign_out=True, disabled=True)

    def enable(self, actor: Actor, username: str) -> User:
        """Switch a disabled account back on."""
        return self._change(actor, username, "enabled", disabled=False)

    def list(self, actor: Actor) -> builtins.list[AccountSummary]:
        """Every account with its ASNs and network restrictions, by username."""
        _require_admin(actor)
        with self.uow_factory() as uow:
            return [
                AccountSummary(
                    user,
                    tuple(lk.asn for lk in uow.asn_links.list_for_user(user.id)),
                    tuple(a.network_id for a in uow.network_access.list_for_user(user.id)),
                )
                for user in uow.users.list()
            ]

    def get(self, user_id: uuid.UUID) -> User | None:
        """The account with this id, or None (the web's session lookup)."""
        with self.uow_factory() as uow:
            return uow.users.get(user_id)

    # ---------------------------------------------------------------- ASNs and networks

    def link_asn(
        self, actor: Actor, username: str, asn: object, network_name: str | None = None
    ) -> AsnLink:
        """Let the account request for ``asn`` (a local link; replaces an existing one)."""
        _require_admin(actor)
        parsed = Asn.parse(asn)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            link = AsnLink(
                user.id,
                parsed,
                LinkSource.LOCAL,
                network_name=(network_name or "").strip() or None,
                created_at=self.clock.now(),
            )
            uow.asn_links.add(link)
            self._audit(uow, actor, "asn_linked", user, asn=parsed.value)
            uow.commit()
            return link

    def unlink_asn(self, actor: Actor, username: str, asn: object) -> None:
        """Take ``asn`` away from the account; NotFound when it was not linked."""
        _require_admin(actor)
        parsed = Asn.parse(asn)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            if parsed not in {lk.asn for lk in uow.asn_links.list_for_user(user.id)}:
                raise NotFound(f"{parsed} is not linked to {username!r}")
            uow.asn_links.remove(user.id, parsed)
            self._audit(uow, actor, "asn_unlinked", user, asn=parsed.value)
            uow.commit()

    def grant_network(self, actor: Actor, username: str, network_id: object) -> None:
        """Restrict the account to (also) this network; NotFound for an unknown network.

        An account without any grant may use every network; the first grant restricts it.
        """
        _require_admin(actor)
        net = network_id if isinstance(network_id, NetworkId) else NetworkId(network_id)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            if uow.networks.get(net) is None:
                raise NotFound(f"network {net} is not an exchange network")
            uow.network_access.grant(NetworkAccess(user.id, net))
            self._audit(uow, actor, "network_granted", user, network_id=net.value)
            uow.commit()

    def revoke_network(self, actor: Actor, username: str, network_id: object) -> None:
        """Remove a network grant; NotFound when the account had none for it."""
        _require_admin(actor)
        net = network_id if isinstance(network_id, NetworkId) else NetworkId(network_id)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            access = NetworkAccess(user.id, net)
            if access not in uow.network_access.list_for_user(user.id):
                raise NotFound(f"{username!r} has no grant for network {net}")
            uow.network_access.revoke(access)
            self._audit(uow, actor, "network_revoked", user, network_id=net.value)
            uow.commit()

    # ---------------------------------------------------------------- passwords

    def set_password(self, actor: Actor, username: str, password: str) -> None:
        """Replace the password (an admin, or the account's owner). Other sessions of the
        account are not ended here: the web layer, which knows the current one, does it."""
        password = check_password(password)
        password_hash = self.hasher.hash(password)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            if not actor.is_admin and actor.id != str(user.id):
                raise PermissionDenied("only an admin or the owner may set this password")
            uow.credentials.set(user.id, password_hash)
            self._audit(uow, actor, "password_set", user)
            uow.commit()

    def authenticate(self, username: str, password: str) -> User | None:
        """The account when ``password`` is right and the account is enabled, else None.

        An unknown username (or one without a password) still costs one verification, so
        the answer's timing does not say whether the account exists. A hash made with old
        parameters is replaced by a fresh one on success (audited)."""
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            self._verify_dummy(password if isinstance(password, str) else "")
            return None
        with self.uow_factory() as uow:
            user = uow.users.get_by_username(username) if USERNAME.fullmatch(username) else None
            stored = uow.credentials.get(user.id) if user is not None else None
            if user is None or stored is None:
                self._verify_dummy(password)
                return None
            if not self.hasher.verify(stored, password) or user.disabled:
                return None
            if self.hasher.needs_rehash(stored):
                uow.credentials.set(user.id, self.hasher.hash(password))
                self._audit(uow, Actor.user(user), "password_rehashed", user)
                uow.commit()
            return user

    # ---------------------------------------------------------------- second factor

    def _owner(self, actor: Actor, user_id: uuid.UUID) -> None:
        if actor.kind != "user" or actor.id != str(user_id):
            raise PermissionDenied("only the account's owner may set up its two-factor sign-in")

    def totp_status(self, user_id: uuid.UUID) -> TotpStatus:
        """The user's two-factor state (the sign-in form and the enrolment page ask)."""
        with self.uow_factory() as uow:
            found = uow.totp.get(user_id)
            if found is None:
                return TotpStatus(active=False, pending=False, recovery_codes_left=0)
            left = sum(1 for c in uow.totp.recovery_codes(user_id) if c.used_at is None)
            return TotpStatus(found.active, not found.active, left)

    def start_totp(
        self, actor: Actor, user_id: uuid.UUID, issuer: str = TOTP_ISSUER
    ) -> TotpEnrolment:
        """A secret for the owner's authenticator app, pending until :meth:`confirm_totp`.

        A pending secret is returned again (a reloaded page shows the same QR code).
        Conflict when TOTP is already active (an admin resets it first), NotFound for an
        unknown user, PermissionDenied for anyone but the owner. A pending secret does not
        guard sign-in, so nothing is audited until the confirmation."""
        self._owner(actor, user_id)
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            found = uow.totp.get(user_id)
            if found is not None and found.active:
                raise Conflict("two-factor sign-in is already on for this account")
            if found is None:
                found = TotpCredential(user_id, totp.new_secret(), self.clock.now())
                uow.totp.put(found)
                uow.commit()
            account = user.username or user.display_name
            return TotpEnrolment(found.secret, totp.provisioning_uri(found.secret, account, issuer))

    def confirm_totp(self, actor: Actor, user_id: uuid.UUID, code: str) -> builtins.list[str]:
        """Turn the pending secret on with a first valid code (this step or one either
        side); the ten recovery codes, in clear, which are shown once and stored hashed.

        InvalidValue (field ``code``) for a wrong code and Conflict when no secret is
        pending; both change nothing. The accepted step is remembered, so the same code
        cannot then sign in. Audited as ``account.totp_enabled``."""
        self._owner(actor, user_id)
        text = code.strip() if isinstance(code, str) else ""
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            found = uow.totp.get(user_id)
            if user is None or found is None or found.active:
                raise Conflict("no two-factor set-up is waiting for a code: start again")
            step = totp.matching_step(found.secret, text[:MAX_CODE], self.clock.now())
            if step is None:
                raise InvalidValue("code", "is not the code your app shows now: try the next one")
            codes = [totp.new_recovery_code() for _ in range(RECOVERY_CODES)]
            hashes = [self.hasher.hash(totp.normal_recovery_code(c)) for c in codes]
            uow.totp.put(attrs.evolve(found, confirmed_at=self.clock.now(), last_step=step))
            uow.totp.set_recovery_codes(user_id, hashes)
            self._audit(uow, actor, "totp_enabled", user, recovery_codes=len(codes))
            uow.commit()
            return codes

    def verify_second_factor(self, user_id: uuid.UUID, code: str) -> SecondFactor | None:
        """The sign-in's second step: how ``code`` passed, or None when it did not.

        Six digits are a TOTP code: valid in this step or one either side, and newer than
        the last one accepted (a replayed code is refused even within its 90 seconds).
        Anything else is tried as a recovery code; a matching one is used up at once
        (audited as ``account.totp_recovery_code_used`` with the number left). A user
        without active TOTP never passes. Throttling is the caller's: this only answers."""
        if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
            return None
        text = code.strip()
        now = self.clock.now()
        with self.uow_factory() as uow:
            found = uow.totp.get(user_id)
            user = uow.users.get(user_id)
            if found is None or not found.active or user is None:
                return None
            if totp.looks_like_code(text):
                step = totp.matching_step(found.secret, text, now)
                if step is None or not uow.totp.accept_step(user_id, step):
                    return None
                uow.commit()
                return SecondFactor.TOTP
            given = totp.normal_recovery_code(text)
            unused = [c for c in uow.totp.recovery_codes(user_id) if c.used_at is None]
            for candidate in unused:
                if self.hasher.verify(candidate.code_hash, given):
                    if not uow.totp.use_recovery_code(user_id, candidate.index, now):
                        return None
                    self._audit(
                        uow,
                        Actor.user(user),
                        "totp_recovery_code_used",
                        user,
                        recovery_codes_left=len(unused) - 1,
                    )
                    uow.commit()
                    return SecondFactor.RECOVERY_CODE
            return None

    def reset_totp(self, actor: Actor, username: str) -> None:
        """Switch the account's two-factor sign-in off (an admin or ops, for a lost
        device): the secret and recovery codes are deleted and the account's web sessions
        end. The user signs in with the password alone and may enrol again. NotFound when
        the account is unknown or has no TOTP; audited as ``account.totp_reset``."""
        _require_admin(actor)
        with self.uow_factory() as uow:
            user = _load(uow, username)
            found = uow.totp.get(user.id)
            if found is None:
                raise NotFound(f"{username!r} has no two-factor sign-in to reset")
            uow.totp.delete(user.id)
            ended = uow.web_sessions.delete_for_user(user.id)
            self._audit(
                uow, actor, "totp_reset", user, was_active=found.active, sessions_ended=ended
            )
            uow.commit()

    def _verify_dummy(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(_DUMMY_PASSWORD)
        self.hasher.verify(self._dummy_hash, password[:MAX_PASSWORD])
