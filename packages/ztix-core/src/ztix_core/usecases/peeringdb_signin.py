"""Sign in with PeeringDB: what a verified PeeringDB identity means inside ztix.

The adapter (``ztix_adapters_peeringdb``) does the OpenID Connect part — PKCE, the token
exchange, the id_token's signature and claims, ``profile/v1`` — and hands this use case a
parsed :class:`PeeringDbProfile`. Here it becomes a ztix user and ASN links:

* the first sign-in creates the user (no password, username ``pdb-<id>``); later ones
  update the name, email and verification flags;
* an ASN is linked only when the profile grants a write bit (2, 4 or 8) in
  ``manage_peering_sessions``, and only for a ``verified_user`` with ``verified_email``;
  the other networks come back as :class:`IneligibleNetwork` with the reason;
* PeeringDB links that vanished from the profile are removed; admin-made local links are
  left alone, except that a network granted by PeeringDB takes over the local link of its
  ASN;
* every link, unlink and account change is an audit event (actor: the user), written in
  the same unit of work as the change.

The OAuth ``state`` (with the nonce and the PKCE verifier) is issued by :meth:`begin` and
consumed once by :meth:`take_state`; an unknown, expired or replayed state is refused and
audited. A failed sign-in (:meth:`record_failure`) writes one audit event and changes no
user.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection
from typing import Any

import attrs

from ztix_core.errors import InvalidValue, ZtixError
from ztix_core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, AsnLink, JsonDict, LinkSource, User, new_id
from ztix_core.usecases._common import audit
from ztix_core.values import Asn
from ztix_core.web_ports import OAuthState

PROVIDER = "peeringdb"
#: PeeringDB's permission bits: READ=1, UPDATE=2, CREATE=4, DELETE=8.
WRITE_BITS = 2 | 4 | 8
MAX_NAME = 200

SIGNED_IN = "auth.login"
FAILED = "auth.peeringdb_failed"
STATE_REFUSED = "auth.peeringdb_state_refused"

NOT_VERIFIED_USER = "PeeringDB has not verified your account yet"
NOT_VERIFIED_EMAIL = "your email address is not verified on PeeringDB"
READ_ONLY = (
    "you may only read this network on PeeringDB: linking needs the update, create or "
    "delete permission on its peering sessions (manage_peering_sessions)"
)


class SignInRefused(ZtixError):
    """A PeeringDB sign-in that may not go on; ``code`` is the short code shown to the
    user (``state_unknown``, ``account_disabled``, ...). Nothing was changed."""

    code = "signin_refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, reason=code)
        self.code = code


@attrs.frozen
class PeeringDbNetwork:
    """One entry of the profile's ``networks``."""

    asn: Asn
    name: str
    perms: int
    manage_peering_sessions: int

    @property
    def may_manage_sessions(self) -> bool:
        """PeeringDB grants a write bit on the network's peering sessions."""
        return bool(self.manage_peering_sessions & WRITE_BITS)


@attrs.frozen
class PeeringDbProfile:
    """What ``profile/v1`` says about the person (see :meth:`parse`)."""

    id: int
    name: str
    email: str | None
    verified_user: bool
    verified_email: bool
    networks: tuple[PeeringDbNetwork, ...] = ()
    given_name: str = ""
    family_name: str = ""

    @classmethod
    def parse(cls, raw: object) -> PeeringDbProfile:
        """Structure a ``profile/v1`` answer; InvalidValue naming the first bad key.

        A missing ``verified_user``/``verified_email`` is False, a missing ``networks`` is
        empty (the scope was not granted); a network whose ASN is not a valid AS number is
        refused rather than skipped, since PeeringDB never sends one."""
        if not isinstance(raw, dict):
            raise InvalidValue("profile", "is not a JSON object")
        pid = raw.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid < 1:
            raise InvalidValue("profile.id", "must be a positive integer")
        networks = raw.get("networks")
        networks = [] if networks is None else networks
        if not isinstance(networks, list):
            raise InvalidValue("profile.networks", "must be a list")
        parsed = []
        for i, net in enumerate(networks):
            if not isinstance(net, dict):
                raise InvalidValue(f"profile.networks[{i}]", "must be an object")
            perms = {k: net.get(k, 0) for k in ("perms", "manage_peering_sessions")}
            for key, value in perms.items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InvalidValue(f"profile.networks[{i}].{key}", "must be a bitmask")
            parsed.append(
                PeeringDbNetwork(
                    Asn.parse(net.get("asn")),
                    _text(net.get("name"))[:MAX_NAME],
                    perms["perms"],
                    perms["manage_peering_sessions"],
                )
            )
        email = raw.get("email")
        return cls(
            pid,
            _text(raw.get("name"))[:MAX_NAME],
            email.strip() if isinstance(email, str) and email.strip() else None,
            raw.get("verified_user") is True,
            raw.get("verified_email") is True,
            tuple(parsed),
            _text(raw.get("given_name"))[:MAX_NAME],
            _text(raw.get("family_name"))[:MAX_NAME],
        )


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


@attrs.frozen
class IneligibleNetwork:
    """A network of the profile that was not linked, and why."""

    asn: Asn
    name: str
    reason: str


@attrs.frozen
class SignInOutcome:
    """A PeeringDB sign-in that went through: the user, what changed and what did not
    qualify (for the onboarding page)."""

    user: User
    created: bool
    linked: tuple[Asn, ...]
    unlinked: tuple[Asn, ...]
    ineligible: tuple[IneligibleNetwork, ...]


def ineligible_reason(profile: PeeringDbProfile, network: PeeringDbNetwork) -> str | None:
    """Why ``network`` may not be linked for this profile, or None when it may."""
    if not profile.verified_user:
        return NOT_VERIFIED_USER
    if not profile.verified_email:
        return NOT_VERIFIED_EMAIL
    if not network.may_manage_sessions:
        return READ_ONLY
    return None


class PeeringDbSignIn:
    """The PeeringDB sign-in's use cases: issue and consume OAuth states, turn a verified
    profile into a user and links, record failures."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, state_ttl_s: int = 600
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.state_ttl = dt.timedelta(seconds=state_ttl_s)

    # ---------------------------------------------------------------- state

    def begin(self, redirect_to: str = "") -> OAuthState:
        """A fresh state with its nonce and PKCE verifier (RFC 7636: 43-128 characters),
        stored until it expires or is used."""
        now = self.clock.now()
        item = OAuthState(
            secrets.token_urlsafe(32),
            PROVIDER,
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(64),
            now,
            now + self.state_ttl,
            redirect_to,
        )
        with self.uow_factory() as uow:
            uow.oauth_states.purge_expired(now)
            uow.oauth_states.put(item)
            uow.commit()
        return item

    def take_state(self, state: str, client: str, *, started: Collection[str] = ()) -> OAuthState:
        """Consume ``state``: the stored sign-in in flight, used up now. An unknown,
        expired or already used state — or one that another browser session started
        (``started``: the states this browser session started) — is
        refused with SignInRefused(``state_unknown``) and audited; nothing else changes."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            found = uow.oauth_states.take(state, now) if 0 < len(state) <= 200 else None
            mismatch = found is not None and (found.provider != PROVIDER or state not in started)
            if found is None or mismatch:
                reason = "not started in this browser" if found is not None else "unknown"
                audit(
                    uow,
                    now,
                    f"client:{client}",
                    STATE_REFUSED,
                    "login",
                    PROVIDER,
                    {"reason": reason, "state_prefix": state[:6]},
                )
                uow.commit()
                raise SignInRefused(
                    "state_unknown",
                    "This sign-in link is unknown, expired or was already used. "
                    "Start again from the sign-in page.",
                )
            uow.commit()
            return found

    def record_failure(self, code: str, client: str, detail: JsonDict | None = None) -> None:
        """Audit a sign-in that failed upstream or in verification (no user changes)."""
        with self.uow_factory() as uow:
            audit(
                uow,
                self.clock.now(),
                f"client:{client}",
                FAILED,
                "login",
                PROVIDER,
                {"code": code, **(detail or {})},
            )
            uow.commit()

    # ---------------------------------------------------------------- sign-in

    def sign_in(self, profile: PeeringDbProfile, client: str) -> SignInOutcome:
        """Create or update the user behind ``profile``, bring its PeeringDB links in
        line with the profile, and audit all of it with the sign-in itself. A disabled
        account is refused (SignInRefused ``account_disabled``, audited) and not changed."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            user = uow.users.get_by_peeringdb_id(profile.id)
            if user is not None and user.disabled:
                audit(
                    uow,
                    now,
                    f"client:{client}",
                    FAILED,
                    "user",
                    str(user.id),
                    {"code": "account_disabled", "peeringdb_id": profile.id},
                )
                uow.commit()
                raise SignInRefused(
                    "account_disabled", "This account is disabled. Ask the exchange admins."
                )
            user, created = self._upsert(uow, user, profile, now)
            actor = Actor.user(user)
            linked, unlinked, ineligible = self._links(uow, user, actor, profile, now)
            audit(
                uow,
                now,
                actor,
                SIGNED_IN,
                "user",
                str(user.id),
                {
                    "client": client,
                    "method": PROVIDER,
                    "peeringdb_id": profile.id,
                    "ineligible": [n.asn.value for n in ineligible],
                },
            )
            uow.commit()
        return SignInOutcome(user, created, linked, unlinked, ineligible)

    def _upsert(
        self, uow: UnitOfWork, user: User | None, profile: PeeringDbProfile, now: dt.datetime
    ) -> tuple[User, bool]:
        shown = profile.name or f"PeeringDB user {profile.id}"
        facts: dict[str, Any] = {
            "display_name": shown,
            "email": profile.email,
            "email_verified": profile.verified_email,
            "verified_user": profile.verified_user,
        }
        if user is None:
            username = f"pdb-{profile.id}"
            if uow.users.get_by_username(username) is not None:
                raise SignInRefused(
                    "username_taken",
                    f"The account name {username} is taken by a local account. "
                    "Ask the exchange admins.",
                )
            user = User(new_id(), username, peeringdb_id=profile.id, created_at=now, **facts)
            uow.users.add(user)
            data: JsonDict = {"username": username, "peeringdb_id": profile.id, **facts}
            audit(uow, now, Actor.user(user), "account.created", "user", str(user.id), data)
            return user, True
        updated = attrs.evolve(user, **facts)
        if updated != user:
            uow.users.update(updated)
            diff = {k: v for k, v in facts.items() if getattr(user, k) != v}
            meta: JsonDict = {"username": user.username, "source": PROVIDER, "changes": diff}
            audit(uow, now, Actor.user(updated), "account.updated", "user", str(user.id), meta)
        return updated, False

    def _links(
        self,
        uow: UnitOfWork,
        user: User,
        actor: Actor,
        profile: PeeringDbProfile,
        now: dt.datetime,
    ) -> tuple[tuple[Asn, ...], tuple[Asn, ...], tuple[IneligibleNetwork, ...]]:
        current = {lk.asn: lk for lk in uow.asn_links.list_for_user(user.id)}
        wanted: dict[Asn, PeeringDbNetwork] = {}
        ineligible = []
        for net in profile.networks:
            reason = ineligible_reason(profile, net)
            if reason is None:
                wanted[net.asn] = net
            elif net.asn not in wanted:
                ineligible.append(IneligibleNetwork(net.asn, net.name, reason))
        ineligible = [n for n in ineligible if n.asn not in wanted]
        linked, unlinked = [], []
        for asn, net in sorted(wanted.items()):
            have = current.get(asn)
            link = AsnLink(
                user.id,
                asn,
                LinkSource.PEERINGDB,
                can_manage_sessions=True,
                network_name=net.name or None,
                created_at=have.created_at if have and have.source is LinkSource.PEERINGDB else now,
            )
            if have == link:
                continue
            uow.asn_links.add(link)
            meta: JsonDict = {"username": user.username, "asn": asn.value, "source": PROVIDER}
            if have is not None and have.source is not LinkSource.PEERINGDB:
                meta["replaced"] = have.source.value
            if have is None or have.source is not LinkSource.PEERINGDB:
                linked.append(asn)
                audit(uow, now, actor, "account.asn_linked", "user", str(user.id), meta)
            else:
                meta["network_name"] = net.name
                audit(uow, now, actor, "account.asn_link_updated", "user", str(user.id), meta)
        for asn, have in sorted(current.items()):
            if have.source is LinkSource.PEERINGDB and asn not in wanted:
                uow.asn_links.remove(user.id, asn)
                unlinked.append(asn)
                reason = next(
                    (n.reason for n in ineligible if n.asn == asn), "no longer in the profile"
                )
                meta = {
                    "username": user.username,
                    "asn": asn.value,
                    "source": PROVIDER,
                    "reason": reason,
                }
                audit(uow, now, actor, "account.asn_unlinked", "user", str(user.id), meta)
        return tuple(linked), tuple(unlinked), tuple(ineligible)
