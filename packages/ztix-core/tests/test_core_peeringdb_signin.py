"""The PeeringDB sign-in use case on the in-memory storage: the profile's shape, who gets
which links, states used once, and nothing written on a refusal. (The whole flow against
a real OpenID provider is tested in ztix-adapters-peeringdb.)"""

from __future__ import annotations

from typing import Any

import pytest

from ztix_core.errors import InvalidValue
from ztix_core.memory import FixedClock, InMemoryStore, PlainTestHasher
from ztix_core.records import Actor
from ztix_core.usecases.accounts import Accounts
from ztix_core.usecases.peeringdb_signin import (
    NOT_VERIFIED_USER,
    READ_ONLY,
    PeeringDbProfile,
    PeeringDbSignIn,
    SignInRefused,
)
from ztix_core.values import Asn


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1234,
        "name": "Jane Doe",
        "verified_user": True,
        "email": "jane@example.net",
        "verified_email": True,
        "networks": [
            {
                "id": 20,
                "name": "Example Net",
                "asn": 64500,
                "perms": 15,
                "manage_peering_sessions": 15,
            },
            {"id": 21, "name": "Other Net", "asn": 64501, "perms": 1, "manage_peering_sessions": 1},
        ],
    }
    return base | changes


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def signin(store: InMemoryStore, clock: FixedClock) -> PeeringDbSignIn:
    return PeeringDbSignIn(store, clock, state_ttl_s=60)


def actions(store: InMemoryStore) -> list[str]:
    with store() as uow:
        return [e.action for e in reversed(uow.audit.recent(limit=100))]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "profile"),
        (body(id=True), "profile.id"),
        (body(id=0), "profile.id"),
        (body(networks={}), "profile.networks"),
        (body(networks=[1]), "profile.networks[0]"),
        (body(networks=[{"asn": 64500, "perms": -1}]), "profile.networks[0].perms"),
        (body(networks=[{"asn": "x", "perms": 1}]), "asn"),
    ],
)
def test_a_profile_of_the_wrong_shape_is_refused(raw: object, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        PeeringDbProfile.parse(raw)
    assert refused.value.field == field


def test_missing_scopes_read_as_unverified_and_no_networks() -> None:
    parsed = PeeringDbProfile.parse({"id": 7, "name": "  Jane   Doe "})
    assert (parsed.name, parsed.email, parsed.networks) == ("Jane Doe", None, ())
    assert not parsed.verified_user and not parsed.verified_email


def test_write_bits_decide_the_links(store: InMemoryStore, signin: PeeringDbSignIn) -> None:
    outcome = signin.sign_in(PeeringDbProfile.parse(body()), "192.0.2.1")
    assert outcome.created and outcome.linked == (Asn(64500),) and outcome.unlinked == ()
    assert [(n.asn.value, n.reason) for n in outcome.ineligible] == [(64501, READ_ONLY)]
    assert actions(store) == ["account.created", "account.asn_linked", "auth.login"]
    for bit in (2, 4, 8):
        nets = [{"asn": 64500, "name": "x", "perms": 1, "manage_peering_sessions": bit | 1}]
        again = signin.sign_in(PeeringDbProfile.parse(body(networks=nets)), "192.0.2.1")
        assert not again.created and again.ineligible == ()
        with store() as uow:
            assert [lk.asn.value for lk in uow.asn_links.list_for_user(again.user.id)] == [64500]


def test_an_unverified_user_loses_every_peeringdb_link(
    store: InMemoryStore, signin: PeeringDbSignIn
) -> None:
    first = signin.sign_in(PeeringDbProfile.parse(body()), "c")
    later = signin.sign_in(PeeringDbProfile.parse(body(verified_user=False)), "c")
    assert later.unlinked == (Asn(64500),)
    assert {n.reason for n in later.ineligible} == {NOT_VERIFIED_USER}
    with store() as uow:
        assert uow.asn_links.list_for_user(first.user.id) == []
        user = uow.users.get(first.user.id)
    assert user is not None and not user.verified_user


def test_a_state_is_used_once_and_expires(
    store: InMemoryStore, clock: FixedClock, signin: PeeringDbSignIn
) -> None:
    item = signin.begin("/onboarding")
    assert len(item.code_verifier) >= 43 and item.nonce and item.state != item.nonce
    assert signin.take_state(item.state, "c", started=[item.state]) == item
    with pytest.raises(SignInRefused) as replayed:
        signin.take_state(item.state, "c", started=[item.state])
    assert replayed.value.code == "state_unknown"
    old = signin.begin()
    clock.advance(seconds=61)
    with pytest.raises(SignInRefused):
        signin.take_state(old.state, "c", started=[old.state])
    other = signin.begin()
    with pytest.raises(SignInRefused):
        signin.take_state(other.state, "c", started=["another-state"])
    assert actions(store) == ["auth.peeringdb_state_refused"] * 3
    with store() as uow:
        assert uow.users.list() == []


def test_local_accounts_may_not_take_a_peeringdb_name(store: InMemoryStore) -> None:
    accounts = Accounts(store, FixedClock(), PlainTestHasher())
    with pytest.raises(InvalidValue, match="kept for PeeringDB"):
        accounts.create(Actor.system("cli"), "PDB-1234", "a long enough password")
    with store() as uow:
        assert uow.users.list() == []


def test_a_taken_username_refuses_the_first_sign_in(
    store: InMemoryStore, clock: FixedClock, signin: PeeringDbSignIn
) -> None:
    from ztix_core.records import User, new_id

    with store() as uow:
        uow.users.add(User(new_id(), "pdb-1234", "squatter"))
        uow.commit()
    with pytest.raises(SignInRefused) as refused:
        signin.sign_in(PeeringDbProfile.parse(body()), "c")
    assert refused.value.code == "username_taken"
    with store() as uow:
        assert [u.display_name for u in uow.users.list()] == ["squatter"]
    assert actions(store) == []
