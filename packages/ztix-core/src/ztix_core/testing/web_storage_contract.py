"""The web storage contract: sessions and OAuth states, as every storage backend keeps them.

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
from ztix_core.web_ports import OAuthState, WebSession

__all__ = [
    "test_expired_oauth_state_is_refused_and_purged",
    "test_oauth_state_is_taken_once",
    "test_sessions_purge_and_sign_out",
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
