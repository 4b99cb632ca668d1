"""The web storage contract: sessions, OAuth states and TOTP credentials, as every storage
backend keeps them.

Use it from an adapter's test module::

    from ztix_core.testing.web_storage_contract import *  # noqa: F403

with a ``uow_factory`` fixture over an EMPTY store, as for the repository contract.
"""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.testing import builders as b
from ztix_core.web_ports import OAuthState, RecoveryCode, TotpCredential, WebSession

__all__ = [
    "test_expired_oauth_state_is_refused_and_purged",
    "test_oauth_state_is_taken_once",
    "test_sessions_purge_and_sign_out",
    "test_totp_bad_input_is_refused",
    "test_totp_credential_lifecycle",
    "test_totp_recovery_codes_are_used_once",
    "test_totp_step_is_accepted_once",
    "test_web_session_bad_input_is_refused",
    "test_web_session_data_is_a_copy",
    "test_web_sessions",
]

T0 = b.T0
LATER = T0 + dt.timedelta(minutes=10)


def _state(key: str = "s1", expires: dt.datetime = LATER) -> OAuthState:
    return OAuthState(key, "peeringdb", "nonce-1", "verifier-1", T0, expires, "/dashboard")


def test_oauth_state_is_taken_once(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.oauth_states.put(_state())
        with pytest.raises(DuplicateRecord):
            uow.oauth_states.put(_state())
        uow.commit()
    with uow_factory() as uow:
        assert uow.oauth_states.get("s1") == _state()
        assert uow.oauth_states.take("s1", T0 + dt.timedelta(minutes=1)) == _state()
        assert uow.oauth_states.take("s1", T0 + dt.timedelta(minutes=1)) is None  # replay
        uow.commit()
    with uow_factory() as uow:
        assert uow.oauth_states.get("s1") is None


def test_expired_oauth_state_is_refused_and_purged(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.oauth_states.put(_state("old", expires=T0 + dt.timedelta(minutes=1)))
        uow.oauth_states.put(_state("older", expires=T0))
        uow.oauth_states.put(_state("fresh"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.oauth_states.take("old", T0 + dt.timedelta(minutes=2)) is None
        assert uow.oauth_states.purge_expired(T0 + dt.timedelta(minutes=2)) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.oauth_states.get("fresh") is not None
        with pytest.raises(InvalidValue):
            uow.oauth_states.put(_state(""))


def test_web_sessions(uow_factory: UnitOfWorkFactory) -> None:
    user = b.user()
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    anon = WebSession("h-anon", "csrf-a", T0, T0, LATER, data={"next": "/x"})
    signed = WebSession("h-user", "csrf-u", T0, T0, LATER, user_id=user.id)
    with uow_factory() as uow:
        uow.web_sessions.create(anon)
        uow.web_sessions.create(signed)
        with pytest.raises(DuplicateRecord):
            uow.web_sessions.create(anon)
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.get("h-anon", T0) == anon
        assert uow.web_sessions.get_with_user("h-anon", T0) == (anon, None)
        assert uow.web_sessions.get("h-anon", LATER) is None  # expired at LATER
        promoted = attrs.evolve(anon, user_id=user.id, csrf_token="csrf-b", data={"k": [1]})
        uow.web_sessions.save(promoted)
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.get("h-anon", T0) == promoted
        assert uow.web_sessions.get_with_user("h-anon", T0) == (promoted, user)
        assert uow.web_sessions.get_with_user("h-anon", LATER) is None
        assert uow.web_sessions.get_with_user("nope", T0) is None
        assert uow.web_sessions.delete_for_user(user.id) == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.get("h-user", T0) is None
        with pytest.raises(NotFound):
            uow.web_sessions.save(signed)


def test_web_session_bad_input_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.web_sessions.create(WebSession("h", "c", T0, T0, LATER, user_id=b.user().id))
        with pytest.raises(InvalidValue):
            uow.web_sessions.create(WebSession("", "c", T0, T0, LATER))
        with pytest.raises(InvalidValue):
            uow.web_sessions.create(WebSession("h", "c", T0, T0, LATER, data={"x": object()}))
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.get("h", T0) is None
        assert uow.web_sessions.purge_expired(LATER + dt.timedelta(days=1)) == 0


def test_web_session_data_is_a_copy(uow_factory: UnitOfWorkFactory) -> None:
    data: dict[str, object] = {"k": "v"}
    with uow_factory() as uow:
        uow.web_sessions.create(WebSession("h", "c", T0, T0, LATER, data=data))
        uow.commit()
    data["k"] = "changed"
    with uow_factory() as uow:
        stored = uow.web_sessions.get("h", T0)
        assert stored is not None and stored.data == {"k": "v"}


def test_sessions_purge_and_sign_out(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.web_sessions.create(WebSession("a", "c", T0, T0, T0 + dt.timedelta(seconds=1)))
        uow.web_sessions.create(WebSession("b", "c", T0, T0, LATER))
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.purge_expired(T0 + dt.timedelta(seconds=5)) == 1
        uow.web_sessions.delete("b")
        uow.web_sessions.delete("b")  # absent: fine
        uow.commit()
    with uow_factory() as uow:
        assert uow.web_sessions.get("b", T0) is None
        assert uow.web_sessions.get("a", T0) is None


def _totp_user(uow_factory: UnitOfWorkFactory) -> TotpCredential:
    user = b.user()
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    return TotpCredential(user.id, "JBSWY3DPEHPK3PXP", T0)


def test_totp_credential_lifecycle(uow_factory: UnitOfWorkFactory) -> None:
    pending = _totp_user(uow_factory)
    with uow_factory() as uow:
        assert uow.totp.get(pending.user_id) is None
        uow.totp.put(pending)
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.get(pending.user_id) == pending
        assert not pending.active
        confirmed = attrs.evolve(pending, confirmed_at=LATER, last_step=7)
        uow.totp.put(confirmed)  # replaces
        uow.totp.set_recovery_codes(pending.user_id, ["h0", "h1"])
        uow.commit()
    with uow_factory() as uow:
        found = uow.totp.get(pending.user_id)
        assert found == confirmed and found.active
        uow.totp.put(attrs.evolve(confirmed, last_step=8))
        assert len(uow.totp.recovery_codes(pending.user_id)) == 2  # put keeps the codes
        assert uow.totp.delete(pending.user_id) is True
        assert uow.totp.delete(pending.user_id) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.get(pending.user_id) is None
        assert uow.totp.recovery_codes(pending.user_id) == []


def test_totp_step_is_accepted_once(uow_factory: UnitOfWorkFactory) -> None:
    cred = _totp_user(uow_factory)
    with uow_factory() as uow:
        assert uow.totp.accept_step(cred.user_id, 100) is False  # no credential yet
        uow.totp.put(cred)
        assert uow.totp.accept_step(cred.user_id, 100) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.accept_step(cred.user_id, 100) is False  # replay
        assert uow.totp.accept_step(cred.user_id, 99) is False  # older
        found = uow.totp.get(cred.user_id)
        assert found is not None and found.last_step == 100
        assert uow.totp.accept_step(cred.user_id, 101) is True
        uow.commit()
    with uow_factory() as uow:
        found = uow.totp.get(cred.user_id)
        assert found is not None and found.last_step == 101


def test_totp_recovery_codes_are_used_once(uow_factory: UnitOfWorkFactory) -> None:
    cred = _totp_user(uow_factory)
    with uow_factory() as uow:
        uow.totp.put(cred)
        uow.totp.set_recovery_codes(cred.user_id, ["h0", "h1", "h2"])
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.use_recovery_code(cred.user_id, 1, LATER) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.use_recovery_code(cred.user_id, 1, LATER) is False
        assert uow.totp.use_recovery_code(cred.user_id, 9, LATER) is False
        assert uow.totp.recovery_codes(cred.user_id) == [
            RecoveryCode(cred.user_id, 0, "h0"),
            RecoveryCode(cred.user_id, 1, "h1", used_at=LATER),
            RecoveryCode(cred.user_id, 2, "h2"),
        ]
        uow.totp.set_recovery_codes(cred.user_id, ["n0"])  # a new set replaces the old
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.recovery_codes(cred.user_id) == [RecoveryCode(cred.user_id, 0, "n0")]


def test_totp_bad_input_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    cred = _totp_user(uow_factory)
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.totp.put(attrs.evolve(cred, user_id=b.user().id))
        with pytest.raises(InvalidValue):
            uow.totp.put(attrs.evolve(cred, secret=""))
        with pytest.raises(NotFound):
            uow.totp.set_recovery_codes(cred.user_id, ["h0"])  # no credential
        uow.totp.put(cred)
        with pytest.raises(InvalidValue):
            uow.totp.set_recovery_codes(cred.user_id, ["h0", ""])
        assert uow.totp.recovery_codes(cred.user_id) == []
        uow.commit()
    with uow_factory() as uow:
        assert uow.totp.get(cred.user_id) == cred
