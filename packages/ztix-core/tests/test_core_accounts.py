"""Local accounts: every change audited, every bad input refused with nothing written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from ztix_core.errors import (
    DuplicateRecord,
    InvalidValue,
    NotFound,
    PermissionDenied,
    ZtixError,
)
from ztix_core.memory import FixedClock, InMemoryStore, PlainTestHasher
from ztix_core.records import Actor, User
from ztix_core.testing import builders as b
from ztix_core.usecases.accounts import Accounts
from ztix_core.values import Asn
from ztix_core.web_ports import WebSession

ADMIN = Actor.system("cli")
PASSWORD = "correct horse battery"


class CountingHasher(PlainTestHasher):
    """Counts verifications (to prove unknown users cost one) and can ask for a rehash."""

    def __init__(self) -> None:
        self.verifications = 0
        self.outdated: set[str] = set()

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return password_hash in self.outdated


@pytest.fixture
def store() -> InMemoryStore:
    s = InMemoryStore()
    with s() as uow:
        uow.networks.add(b.network(1))
        uow.commit()
    return s


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def accounts(store: InMemoryStore, hasher: CountingHasher) -> Accounts:
    return Accounts(store, FixedClock(b.T0), hasher)


def snapshot(store: InMemoryStore) -> dict[str, Any]:
    """Everything stored, to show that a refusal wrote nothing."""
    t = store.tables
    return {f.name: _freeze(getattr(t, f.name)) for f in attrs.fields(type(t))}


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    return list(value)


def refused(
    store: InMemoryStore, error: type[ZtixError], match: str, call: Callable[[], object]
) -> ZtixError:
    before = snapshot(store)
    with pytest.raises(error, match=match) as info:
        call()
    assert snapshot(store) == before
    return info.value


def actions(store: InMemoryStore) -> list[str]:
    return [e.action for e in store.tables.audit]


def test_create_stores_the_hash_and_audits(accounts: Accounts, store: InMemoryStore) -> None:
    user = accounts.create(ADMIN, "Alice", PASSWORD, email="a@example.net", is_admin=True)
    assert user.username == "Alice" and user.display_name == "Alice" and user.is_admin
    stored = store.tables.credentials[user.id]
    assert PASSWORD not in stored and PlainTestHasher().verify(stored, PASSWORD)
    event = store.tables.audit[-1]
    assert (event.action, event.actor, event.target_id) == (
        "account.created",
        "system:cli",
        str(user.id),
    )
    assert PASSWORD not in repr(store.tables.audit)


def test_duplicate_username_is_a_conflict_with_nothing_written(
    accounts: Accounts, store: InMemoryStore
) -> None:
    accounts.create(ADMIN, "alice", PASSWORD)
    refused(store, DuplicateRecord, "taken", lambda: accounts.create(ADMIN, "ALICE", PASSWORD))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": " "}, "username"),
        ({"username": "-dash"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 1025}, "password"),
        ({"display_name": "  "}, "display_name"),
        ({"display_name": "bell\a"}, "display_name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
    ],
)
def test_create_refuses_bad_input(
    accounts: Accounts, store: InMemoryStore, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"username": "bob", "password": PASSWORD} | kwargs
    username, password = args.pop("username"), args.pop("password")
    error = refused(
        store, InvalidValue, field, lambda: accounts.create(ADMIN, username, password, **args)
    )
    assert isinstance(error, InvalidValue) and error.field == field


def test_only_admins_manage_accounts(accounts: Accounts, store: InMemoryStore) -> None:
    user = accounts.create(ADMIN, "op", PASSWORD)
    operator = Actor.user(user)
    calls: list[Callable[[], object]] = [
        lambda: accounts.create(operator, "other", PASSWORD),
        lambda: accounts.update(operator, "op", is_admin=True),
        lambda: accounts.disable(operator, "op"),
        lambda: accounts.enable(operator, "op"),
        lambda: accounts.list(operator),
        lambda: accounts.link_asn(operator, "op", 64500),
        lambda: accounts.unlink_asn(operator, "op", 64500),
        lambda: accounts.grant_network(operator, "op", b.network(1).id),
        lambda: accounts.revoke_network(operator, "op", b.network(1).id),
    ]
    for call in calls:
        refused(store, PermissionDenied, "admin|own account", call)


def test_unknown_account_is_not_found(accounts: Accounts, store: InMemoryStore) -> None:
    calls: list[Callable[[], object]] = [
        lambda: accounts.update(ADMIN, "ghost", display_name="G"),
        lambda: accounts.disable(ADMIN, "ghost"),
        lambda: accounts.enable(ADMIN, "ghost"),
        lambda: accounts.link_asn(ADMIN, "ghost", 64500),
        lambda: accounts.unlink_asn(ADMIN, "ghost", 64500),
        lambda: accounts.grant_network(ADMIN, "ghost", b.network(1).id),
        lambda: accounts.revoke_network(ADMIN, "ghost", b.network(1).id),
        lambda: accounts.set_password(ADMIN, "ghost", PASSWORD),
    ]
    for call in calls:
        refused(store, NotFound, "ghost", call)


def test_update_changes_and_audits_only_what_differs(
    accounts: Accounts, store: InMemoryStore
) -> None:
    accounts.create(ADMIN, "bob", PASSWORD)
    user = accounts.update(ADMIN, "bob", display_name="Bob B", email="b@example.net")
    assert (user.display_name, user.email) == ("Bob B", "b@example.net")
    assert store.tables.audit[-1].metadata["changes"] == {
        "display_name": "Bob B",
        "email": "b@example.net",
    }
    count = len(store.tables.audit)
    accounts.update(ADMIN, "bob", display_name="Bob B")  # no change, no event
    assert len(store.tables.audit) == count
    assert accounts.update(ADMIN, "bob", email="").email is None
    refused(store, InvalidValue, "email", lambda: accounts.update(ADMIN, "bob", email="x"))


def test_admin_cannot_demote_or_disable_themselves(
    accounts: Accounts, store: InMemoryStore
) -> None:
    admin = accounts.create(ADMIN, "root", PASSWORD, is_admin=True)
    me = Actor.user(admin)
    refused(store, PermissionDenied, "own", lambda: accounts.update(me, "root", is_admin=False))
    refused(store, PermissionDenied, "own", lambda: accounts.disable(me, "root"))


def test_disable_and_enable(accounts: Accounts, store: InMemoryStore) -> None:
    user = accounts.create(ADMIN, "carol", PASSWORD)
    with store() as uow:
        uow.web_sessions.create(
            WebSession("h", "c", b.T0, b.T0, b.T0 + dt.timedelta(hours=1), user_id=user.id)
        )
        uow.commit()
    assert accounts.disable(ADMIN, "carol").disabled
    assert store.tables.web_sessions == {}
    assert store.tables.audit[-1].metadata["sessions_ended"] == 1
    assert accounts.authenticate("carol", PASSWORD) is None
    assert not accounts.enable(ADMIN, "carol").disabled
    assert accounts.authenticate("carol", PASSWORD) is not None
    assert actions(store)[-2:] == ["account.disabled", "account.enabled"]


def test_asn_links(accounts: Accounts, store: InMemoryStore) -> None:
    user = accounts.create(ADMIN, "dave", PASSWORD)
    accounts.link_asn(ADMIN, "dave", "AS64500", network_name="Dave Net")
    accounts.link_asn(ADMIN, "dave", 64501)
    [summary] = accounts.list(ADMIN)
    assert summary.user == user and summary.asns == (Asn(64500), Asn(64501))
    accounts.unlink_asn(ADMIN, "dave", 64501)
    assert accounts.list(ADMIN)[0].asns == (Asn(64500),)
    assert actions(store)[-3:] == [
        "account.asn_linked",
        "account.asn_linked",
        "account.asn_unlinked",
    ]
    refused(store, NotFound, "not linked", lambda: accounts.unlink_asn(ADMIN, "dave", 64501))
    refused(store, InvalidValue, "asn", lambda: accounts.link_asn(ADMIN, "dave", "AS0"))
    refused(store, InvalidValue, "asn", lambda: accounts.link_asn(ADMIN, "dave", "sixty"))


def test_network_grants(accounts: Accounts, store: InMemoryStore) -> None:
    accounts.create(ADMIN, "erin", PASSWORD)
    net = b.network(1).id
    accounts.grant_network(ADMIN, "erin", net.value)
    assert accounts.list(ADMIN)[0].networks == (net,)
    accounts.revoke_network(ADMIN, "erin", net)
    assert accounts.list(ADMIN)[0].networks == ()
    assert actions(store)[-2:] == ["account.network_granted", "account.network_revoked"]
    refused(store, NotFound, "no grant", lambda: accounts.revoke_network(ADMIN, "erin", net))
    unknown = b.network(2).id
    refused(
        store,
        NotFound,
        "not an exchange network",
        lambda: accounts.grant_network(ADMIN, "erin", unknown),
    )
    refused(store, InvalidValue, "network_id", lambda: accounts.grant_network(ADMIN, "erin", "xyz"))


def test_set_password(accounts: Accounts, store: InMemoryStore) -> None:
    user = accounts.create(ADMIN, "frank", PASSWORD)
    accounts.set_password(ADMIN, "frank", "a brand new passphrase")
    assert accounts.authenticate("frank", PASSWORD) is None
    assert accounts.authenticate("frank", "a brand new passphrase") == user
    accounts.set_password(Actor.user(user), "frank", "owner changes it again")
    assert actions(store)[-1] == "account.password_set"
    refused(store, InvalidValue, "password", lambda: accounts.set_password(ADMIN, "frank", "x"))
    other = accounts.create(ADMIN, "grace", PASSWORD)
    refused(
        store,
        PermissionDenied,
        "owner",
        lambda: accounts.set_password(Actor.user(other), "frank", "not hers to change"),
    )


def test_authenticate_costs_one_verification_for_unknown_users(
    accounts: Accounts, hasher: CountingHasher
) -> None:
    accounts.create(ADMIN, "heidi", PASSWORD)
    for username in ("heidi", "nobody", "bad name!"):
        hasher.verifications = 0
        assert accounts.authenticate(username, "wrong password!") is None
        assert hasher.verifications == 1, username
    hasher.verifications = 0
    assert accounts.authenticate("heidi", "x" * 5000) is None
    assert hasher.verifications == 1


def test_authenticate_rehashes_outdated_hashes(
    accounts: Accounts, store: InMemoryStore, hasher: CountingHasher
) -> None:
    user = accounts.create(ADMIN, "ivan", PASSWORD)
    old = store.tables.credentials[user.id]
    hasher.outdated.add(old)
    assert accounts.authenticate("IVAN", PASSWORD) == user
    new = store.tables.credentials[user.id]
    assert new != old and hasher.verify(new, PASSWORD)
    assert actions(store)[-1] == "account.password_rehashed"
    count = len(store.tables.audit)
    assert accounts.authenticate("ivan", PASSWORD) == user  # current hash: left alone
    assert store.tables.credentials[user.id] == new and len(store.tables.audit) == count


def test_get(accounts: Accounts) -> None:
    user = accounts.create(ADMIN, "judy", PASSWORD)
    assert accounts.get(user.id) == user
    assert accounts.get(b.user().id) is None
    assert isinstance(user, User)
