"""The API storage contract: tokens and idempotency keys, as every storage backend keeps
them, and ``JoinRequestRepository.last_change`` which the IX-F export's cache relies on.

Use it from an adapter's test module::

    from ztix_core.testing.api_storage_contract import *  # noqa: F403

with a ``uow_factory`` fixture over an EMPTY store, as for the repository contract.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest

from ztix_core.api_ports import ApiToken, IdempotencyEntry, TokenScope
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b

__all__ = [
    "test_api_token_bad_input_is_refused",
    "test_api_tokens",
    "test_idempotency_entries",
    "test_request_last_change",
]

T0 = b.T0
LATER = T0 + dt.timedelta(minutes=10)


def _token(user_id: uuid.UUID, secret_hash: str = "ab" * 32, **kw: object) -> ApiToken:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "name": "ci",
        "scope": TokenScope.OPERATOR,
        "secret_hash": secret_hash,
        "prefix": "ztix_abcd",
        "created_at": T0,
    }
    values.update(kw)
    return ApiToken(**values)  # type: ignore[arg-type]


def test_api_tokens(uow_factory: UnitOfWorkFactory) -> None:
    user = b.user()
    older = _token(user.id, "11" * 32, expires_at=LATER)
    newer = _token(user.id, "22" * 32, scope=TokenScope.ADMIN, created_at=LATER)
    with uow_factory() as uow:
        uow.users.add(user)
        uow.api_tokens.add(older)
        uow.api_tokens.add(newer)
        uow.commit()
    with uow_factory() as uow:
        assert uow.api_tokens.get(older.id) == older
        assert uow.api_tokens.get_by_hash("22" * 32) == newer
        assert uow.api_tokens.get_by_hash("33" * 32) is None
        assert uow.api_tokens.list_for_user(user.id) == [newer, older]
        assert uow.api_tokens.list_for_user(uuid.uuid4()) == []
        uow.api_tokens.touch(older.id, LATER)
        uow.api_tokens.revoke(newer.id, LATER)
        uow.api_tokens.revoke(newer.id, LATER + dt.timedelta(hours=1))  # first time stays
        uow.api_tokens.touch(uuid.uuid4(), LATER)  # absent is fine
        uow.commit()
    with uow_factory() as uow:
        assert uow.api_tokens.get(older.id) == attrs.evolve(older, last_used_at=LATER)
        revoked = uow.api_tokens.get(newer.id)
        assert revoked is not None and revoked.revoked_at == LATER
        assert not revoked.usable_at(T0)
        assert older.usable_at(T0) and not older.usable_at(LATER)


def test_api_token_bad_input_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    user = b.user()
    token = _token(user.id)
    with uow_factory() as uow:
        uow.users.add(user)
        uow.api_tokens.add(token)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            uow.api_tokens.add(_token(user.id))  # same hash
        with pytest.raises(NotFound):
            uow.api_tokens.add(_token(uuid.uuid4(), "44" * 32))
        with pytest.raises(InvalidValue):
            uow.api_tokens.add(_token(user.id, "55" * 32, name=" "))
        with pytest.raises(NotFound):
            uow.api_tokens.revoke(uuid.uuid4(), T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.api_tokens.list_for_user(user.id) == [token]


def test_idempotency_entries(uow_factory: UnitOfWorkFactory) -> None:
    user = b.user()
    net = b.network()
    request = b.request(user.id, network_id=net.id)
    entry = IdempotencyEntry(user.id, "key-1", "f" * 64, request.id, T0)
    with uow_factory() as uow:
        uow.users.add(user)
        uow.networks.add(net)
        uow.requests.add(request)
        uow.idempotency.put(entry)
        uow.commit()
    with uow_factory() as uow:
        assert uow.idempotency.get(user.id, "key-1") == entry
        assert uow.idempotency.get(user.id, "key-2") is None
        assert uow.idempotency.get(uuid.uuid4(), "key-1") is None
        with pytest.raises(DuplicateRecord):
            uow.idempotency.put(attrs.evolve(entry, fingerprint="0" * 64))
        with pytest.raises(InvalidValue):
            uow.idempotency.put(attrs.evolve(entry, key=""))
        with pytest.raises(NotFound):
            uow.idempotency.put(attrs.evolve(entry, key="k", request_id=uuid.uuid4()))
        uow.idempotency.put(attrs.evolve(entry, key="key-2", created_at=LATER))
        uow.commit()
    with uow_factory() as uow:
        assert uow.idempotency.purge_before(LATER) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.idempotency.get(user.id, "key-1") is None
        assert uow.idempotency.get(user.id, "key-2") is not None


def test_request_last_change(uow_factory: UnitOfWorkFactory) -> None:
    user = b.user()
    net = b.network()
    with uow_factory() as uow:
        assert uow.requests.last_change() is None
        uow.users.add(user)
        uow.networks.add(net)
        request = b.request(user.id, network_id=net.id)
        uow.requests.add(request)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.last_change() == request.updated_at
        moved = attrs.evolve(request, status=RequestStatus.APPROVED, updated_at=LATER)
        uow.requests.update(moved, expected_status=RequestStatus.PENDING)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.last_change() == LATER
