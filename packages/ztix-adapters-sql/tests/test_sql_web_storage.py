"""OAuth transient state and server-side web sessions."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from ztix_adapters_sql.testing import row_counts
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_adapters_sql.web_records import OAuthState, WebSession
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.testing import builders as b

T0 = b.T0
LATER = T0 + dt.timedelta(minutes=10)


def _state(key: str = "s1", expires: dt.datetime = LATER) -> OAuthState:
    return OAuthState(key, "peeringdb", "nonce-1", "verifier-1", T0, expires, "/dashboard")


def test_oauth_state_is_taken_once(sql_factory: SqlUnitOfWorkFactory) -> None:
    with sql_factory() as uow:
        uow.oauth_states.put(_state())
        with pytest.raises(DuplicateRecord):
            uow.oauth_states.put(_state())
        uow.commit()
    with sql_factory() as uow:
        assert uow.oauth_states.get("s1") == _state()
        assert uow.oauth_states.take("s1", T0 + dt.timedelta(minutes=1)) == _state()
        assert uow.oauth_states.take("s1", T0 + dt.timedelta(minutes=1)) is None  # replay
        uow.commit()
    with sql_factory() as uow:
        assert uow.oauth_states.get("s1") is None


def test_expired_oauth_state_is_refused_and_purged(sql_factory: SqlUnitOfWorkFactory) -> None:
    with sql_factory() as uow:
        uow.oauth_states.put(_state("old", expires=T0 + dt.timedelta(minutes=1)))
        uow.oauth_states.put(_state("older", expires=T0))
        uow.oauth_states.put(_state("fresh"))
        uow.commit()
    with sql_factory() as uow:
        assert uow.oauth_states.take("old", T0 + dt.timedelta(minutes=2)) is None
        assert uow.oauth_states.purge_expired(T0 + dt.timedelta(minutes=2)) == 1
        uow.commit()
    with sql_factory() as uow:
        assert uow.oauth_states.get("fresh") is not None
        with pytest.raises(InvalidValue):
            uow.oauth_states.put(_state(""))


def test_web_sessions(sql_factory: SqlUnitOfWorkFactory) -> None:
    user = b.user()
    with sql_factory() as uow:
        uow.users.add(user)
        uow.commit()
    anon = WebSession("h-anon", "csrf-a", T0, T0, LATER, data={"next": "/x"})
    signed = WebSession("h-user", "csrf-u", T0, T0, LATER, user_id=user.id)
    with sql_factory() as uow:
        uow.web_sessions.create(anon)
        uow.web_sessions.create(signed)
        with pytest.raises(DuplicateRecord):
            uow.web_sessions.create(anon)
        uow.commit()
    with sql_factory() as uow:
        assert uow.web_sessions.get("h-anon", T0) == anon
        assert uow.web_sessions.get("h-anon", LATER) is None  # expired at LATER
        promoted = attrs.evolve(anon, user_id=user.id, csrf_token="csrf-b", data={"k": [1]})
        uow.web_sessions.save(promoted)
        uow.commit()
    with sql_factory() as uow:
        assert uow.web_sessions.get("h-anon", T0) == promoted
        assert uow.web_sessions.delete_for_user(user.id) == 2
        uow.commit()
    with sql_factory() as uow:
        assert uow.web_sessions.get("h-user", T0) is None
        with pytest.raises(NotFound):
            uow.web_sessions.save(signed)


def test_web_session_bad_input_changes_nothing(sql_factory: SqlUnitOfWorkFactory) -> None:
    before = row_counts(sql_factory.engine)
    with sql_factory() as uow:
        with pytest.raises(NotFound):
            uow.web_sessions.create(WebSession("h", "c", T0, T0, LATER, user_id=b.user().id))
        with pytest.raises(InvalidValue):
            uow.web_sessions.create(WebSession("", "c", T0, T0, LATER))
        uow.commit()
    assert row_counts(sql_factory.engine) == before


def test_sessions_purge_and_sign_out(sql_factory: SqlUnitOfWorkFactory) -> None:
    with sql_factory() as uow:
        uow.web_sessions.create(WebSession("a", "c", T0, T0, T0 + dt.timedelta(seconds=1)))
        uow.web_sessions.create(WebSession("b", "c", T0, T0, LATER))
        uow.commit()
    with sql_factory() as uow:
        assert uow.web_sessions.purge_expired(T0 + dt.timedelta(seconds=5)) == 1
        uow.web_sessions.delete("b")
        uow.web_sessions.delete("b")  # absent: fine
        uow.commit()
    assert row_counts(sql_factory.engine)["web_sessions"] == 0
