"""A local sign-in: throttling per account and per client address, then the password, and
for an account with TOTP a second step (a code or a recovery code).

Failures of either step are audit events (``auth.login_failed``, actor ``client:<address>``, target
``login:<username>``), so the throttle holds across processes and restarts and an admin
can read it. An attempt past a limit is refused before any password check, audited as
``auth.login_throttled``, and told when to try again; both are counted for ``/metrics``.
The answer for a wrong password and for an unknown username is the same and costs the
same (see ``Accounts.authenticate``). A wrong code counts as a failed sign-in of its
account and address, so the same limits stop anyone from guessing codes; ``auth.login``
is written only when every step passed.
"""

from __future__ import annotations

import datetime as dt
import math

import attrs

from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.records import Actor, AuditEvent, JsonDict, User, new_id
from ztix_core.usecases.accounts import Accounts, SecondFactor
from ztix_web.config import WebSettings
from ztix_web.metrics import LOGIN_FAILURES, LOGIN_THROTTLED

FAILED = "auth.login_failed"
THROTTLED = "auth.login_throttled"
SIGNED_IN = "auth.login"
SIGNED_OUT = "auth.logout"
BAD_CREDENTIALS = "Wrong username or password."
BAD_CODE = "That code is wrong or was used already. Wait for the next one and try again."


@attrs.frozen
class PasswordPassed:
    """The password was right; ``needs_code`` when the account has TOTP, so the sign-in
    is not complete until :meth:`LoginGate.second_step` passes."""

    user: User
    needs_code: bool


@attrs.frozen
class LoginRefused(Exception):
    """The sign-in failed; ``message`` is safe to show, ``retry_after`` set when throttled."""

    message: str
    retry_after: int | None = None


def _key(username: str) -> str:
    return username.strip().lower()[:150]


class LoginGate:
    """Checks the throttle, then the password, and writes the audit trail of sign-ins."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, accounts: Accounts, ws: WebSettings
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.accounts = accounts
        self.ws = ws
        self.window = dt.timedelta(seconds=ws.throttle_window_s)

    def _audit(self, actor: str, action: str, target: tuple[str, str], meta: JsonDict) -> None:
        with self.uow_factory() as uow:
            uow.audit.append(AuditEvent(new_id(), self.clock.now(), actor, action, *target, meta))
            uow.commit()

    def wait_seconds(self, username: str, client: str) -> int | None:
        """Seconds until this account or address may try again, or None when it may now."""
        now = self.clock.now()
        since = now - self.window
        with self.uow_factory() as uow:
            per_account = [
                e.at
                for e in uow.audit.for_target("login", _key(username))
                if e.action == FAILED and e.at > since
            ]
            per_address = uow.audit.count_since(FAILED, f"client:{client}", since)
        waits = []
        if len(per_account) >= self.ws.max_failures_per_account:
            oldest = sorted(per_account)[-self.ws.max_failures_per_account]
            waits.append((oldest + self.window - now).total_seconds())
        if per_address >= self.ws.max_failures_per_address:
            # The address's oldest failure in the window is not at hand: the whole window
            # is an upper bound that is never too short.
            waits.append(self.window.total_seconds())
        return max(1, math.ceil(max(waits))) if waits else None

    def _throttle(self, username: str, client: str) -> None:
        wait = self.wait_seconds(username, client)
        if wait is not None:
            target = ("login", _key(username))
            self._audit(f"client:{client}", THROTTLED, target, {"retry_after_s": wait})
            LOGIN_THROTTLED.inc()
            raise LoginRefused(
                f"Too many failed sign-ins. Try again in {wait} s.", retry_after=wait
            )

    def attempt(self, username: str, password: str, client: str) -> PasswordPassed:
        """The user behind correct, enabled credentials, and whether a code must follow;
        LoginRefused otherwise. Without TOTP the sign-in is complete (audited)."""
        self._throttle(username, client)
        user = self.accounts.authenticate(username, password)
        if user is None:
            self._audit(f"client:{client}", FAILED, ("login", _key(username)), {})
            LOGIN_FAILURES.inc()
            raise LoginRefused(BAD_CREDENTIALS)
        if self.accounts.totp_status(user.id).active:
            return PasswordPassed(user, needs_code=True)
        self._audit(str(Actor.user(user)), SIGNED_IN, ("user", str(user.id)), {"client": client})
        return PasswordPassed(user, needs_code=False)

    def second_step(self, user: User, code: str, client: str) -> SecondFactor:
        """The second step for ``user`` (whose password passed): how it passed, after
        which the sign-in is complete (audited with the method); LoginRefused when the
        code is wrong or replayed (a failed sign-in of the account) or when throttled."""
        username = user.username or str(user.id)
        self._throttle(username, client)
        passed = self.accounts.verify_second_factor(user.id, code)
        if passed is None:
            meta: JsonDict = {"step": "second_factor"}
            self._audit(f"client:{client}", FAILED, ("login", _key(username)), meta)
            LOGIN_FAILURES.inc()
            raise LoginRefused(BAD_CODE)
        self._audit(
            str(Actor.user(user)),
            SIGNED_IN,
            ("user", str(user.id)),
            {"client": client, "second_factor": passed.value},
        )
        return passed

    def signed_out(self, user: User, client: str) -> None:
        """Audit a sign-out."""
        self._audit(str(Actor.user(user)), SIGNED_OUT, ("user", str(user.id)), {"client": client})
