"""Bad input gets a typed error and changes nothing; the rules hold in the database itself,
even for writes that bypass the repositories."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ztix_adapters_sql.mapping import network_values, request_values, user_values
from ztix_adapters_sql.models import AuditEventRow, JoinRequestRow, NetworkRow, UserRow
from ztix_adapters_sql.testing import row_counts
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.errors import DuplicateRecord, InvalidValue, NotFound
from ztix_core.memory import FixedClock, InMemoryRegistry
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import IpAllocation, JoinRequest, User, ZtNetwork
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import RequestWorkflow
from ztix_core.values import NetworkId, NodeId


def _forged(kind: type[Any], raw: str) -> Any:
    """A value object holding ``raw`` without validation (as a buggy caller might)."""
    value = object.__new__(kind)
    object.__setattr__(value, "value", raw)
    return value


def _seed(factory: SqlUnitOfWorkFactory) -> tuple[User, ZtNetwork, JoinRequest]:
    user, network = b.user(), b.network()
    request = b.request(user.id, network.id)
    with factory() as uow:
        uow.users.add(user)
        uow.networks.add(network)
        uow.asn_links.add(b.link(user.id, 64500))
        uow.asn_links.add(b.link(user.id, 64501))
        uow.requests.add(request)
        uow.commit()
    return user, network, request


@pytest.mark.parametrize(
    "raw", ["a1b2c3d4e5f6", "a1b2c3d4e5f60708aa", "A1B2C3D4E5F60708", "zz" * 8]
)
def test_malformed_network_id_is_refused_by_the_database(
    sql_factory: SqlUnitOfWorkFactory, raw: str
) -> None:
    before = row_counts(sql_factory.engine)
    bad = attrs.evolve(b.network(), name="bad")
    object.__setattr__(bad, "id", _forged(NetworkId, raw))
    with sql_factory() as uow, pytest.raises(InvalidValue) as info:
        uow.networks.add(bad)
    assert info.value.field == "network_id"
    assert row_counts(sql_factory.engine) == before


@pytest.mark.parametrize("raw", ["abcdef000", "abcdef00011", "ABCDEF0001", "abcdefg001"])
def test_malformed_node_id_is_refused_by_the_database(
    sql_factory: SqlUnitOfWorkFactory, raw: str
) -> None:
    user, network, _ = _seed(sql_factory)
    before = row_counts(sql_factory.engine)
    bad = b.request(user.id, network.id, asn=64501)
    object.__setattr__(bad, "node_id", _forged(NodeId, raw))
    with sql_factory() as uow:
        with pytest.raises(InvalidValue) as info:
            uow.requests.add(bad)
        assert info.value.field == "node_id"
        uow.commit()  # the unit stays usable; nothing was written
    assert row_counts(sql_factory.engine) == before


def test_wrong_length_ids_through_the_use_case_change_nothing(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    user, network, _ = _seed(sql_factory)
    workflow = RequestWorkflow(
        sql_factory,
        FixedClock(),
        ManualAdminPolicy(),
        InMemoryRegistry(),
        allow_documentation_asns=True,
    )
    before = row_counts(sql_factory.engine)
    with pytest.raises(InvalidValue, match="node_id"):
        workflow.submit(user.id, 64501, network.id, "abc")
    with pytest.raises(InvalidValue, match="network_id"):
        workflow.submit(user.id, 64501, "a1b2c3", "abcdef0009")
    assert row_counts(sql_factory.engine) == before


def test_unknown_foreign_keys_are_not_found_and_change_nothing(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    user, network, request = _seed(sql_factory)
    before = row_counts(sql_factory.engine)
    ghost = uuid.uuid4()
    with sql_factory() as uow:
        with pytest.raises(NotFound):
            uow.requests.add(b.request(ghost, network.id, asn=64501))
        with pytest.raises(NotFound):
            uow.requests.add(b.request(user.id, b.network(9).id, asn=64501))
        with pytest.raises(NotFound):
            uow.memberships.add(b.membership(b.request(user.id, network.id, asn=64501)))
        with pytest.raises(NotFound):
            uow.allocations.reserve(
                IpAllocation(network.id, b.membership(request).ipv4, uuid.uuid4())
            )
        with pytest.raises(NotFound):
            uow.credentials.set(ghost, "hash")
        with pytest.raises(NotFound):
            uow.asn_links.add(b.link(ghost))
        uow.commit()
    assert row_counts(sql_factory.engine) == before


def test_foreign_keys_hold_in_the_database(sql_factory: SqlUnitOfWorkFactory) -> None:
    """Even a raw insert cannot point at a missing user (SQLite: foreign_keys is on)."""
    _, network, _ = _seed(sql_factory)
    orphan = b.request(uuid.uuid4(), network.id, asn=64501)
    with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
        conn.execute(insert(JoinRequestRow).values(**request_values(orphan)))


def test_duplicate_usernames_are_refused_and_change_nothing(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    _seed(sql_factory)
    before = row_counts(sql_factory.engine)
    with sql_factory() as uow:
        for name in ("alice", "ALICE", "Alice"):
            with pytest.raises(DuplicateRecord, match="taken"):
                uow.users.add(b.user(name))
        other = b.user("bob")
        uow.users.add(other)
        with pytest.raises(DuplicateRecord):  # renaming onto a taken name
            uow.users.update(attrs.evolve(other, username="aLiCe"))
        uow.rollback()
    assert row_counts(sql_factory.engine) == before
    # The database itself keeps lowercase usernames unique.
    with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
        conn.execute(insert(UserRow).values(**user_values(b.user("Alice"))))
    with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
        forged = user_values(b.user("Carol")) | {"username_key": "Carol"}
        conn.execute(insert(UserRow).values(**forged))


def test_one_live_request_holds_in_the_database(sql_factory: SqlUnitOfWorkFactory) -> None:
    user, network, _ = _seed(sql_factory)
    with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
        second = b.request(user.id, network.id, node="abcdef0002", status=RequestStatus.APPROVED)
        conn.execute(insert(JoinRequestRow).values(**request_values(second)))
    with sql_factory.engine.begin() as conn:  # dead requests do not count
        for status in (RequestStatus.REJECTED, RequestStatus.REMOVED, RequestStatus.FAILED):
            dead = b.request(user.id, network.id, node="abcdef0003", status=status)
            conn.execute(insert(JoinRequestRow).values(**request_values(dead)))


def test_check_constraints_hold_in_the_database(sql_factory: SqlUnitOfWorkFactory) -> None:
    for values in (
        network_values(b.network()) | {"id": "a1b2c3"},
        network_values(b.network()) | {"id": "A1B2C3D4E5F60708"},
    ):
        with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
            conn.execute(insert(NetworkRow).values(**values))
    user, network, _ = _seed(sql_factory)
    for change in ({"node_id": "abcdef001"}, {"asn": 0}, {"status": "limbo"}):
        values = request_values(b.request(user.id, network.id, asn=64501)) | change
        with pytest.raises(IntegrityError), sql_factory.engine.begin() as conn:
            conn.execute(insert(JoinRequestRow).values(**values))


def test_audit_events_are_append_only_in_the_database(sql_factory: SqlUnitOfWorkFactory) -> None:
    event = b.audit_event("r1", "request.submitted", b.T0)
    with sql_factory() as uow:
        uow.audit.append(event)
        uow.commit()
    assert not hasattr(sql_factory().audit, "update")
    assert not hasattr(sql_factory().audit, "delete")
    statements = [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
    ]
    if sql_factory.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), sql_factory.engine.begin() as conn:
            conn.execute(text(statement))
    with sql_factory() as uow:
        assert uow.audit.for_target("request", "r1") == [event]
    with sql_factory.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1
    assert AuditEventRow.__tablename__ == "audit_events"


def test_timestamps_come_back_in_utc(sql_factory: SqlUnitOfWorkFactory) -> None:
    user, network, _ = _seed(sql_factory)
    plus2 = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2026, 3, 1, 14, 0, 0, 123456, tzinfo=plus2)
    request = b.request(user.id, network.id, asn=64501, node="abcdef0005", at=at)
    with sql_factory() as uow:
        uow.requests.add(request)
        uow.commit()
    with sql_factory() as uow:
        got = uow.requests.get(request.id)
    assert got is not None and got.requested_at == at and got.requested_at.tzinfo == dt.UTC


def test_non_json_metadata_is_refused_and_changes_nothing(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    before = row_counts(sql_factory.engine)
    with sql_factory() as uow:
        with pytest.raises(InvalidValue) as info:
            uow.audit.append(b.audit_event("r1", "x", b.T0, when=b.T0))
        assert info.value.field == "metadata"
        with pytest.raises(InvalidValue) as info:
            uow.outbox.add(attrs.evolve(b.outbox(at=b.T0), payload={"id": uuid.uuid4()}))
        assert info.value.field == "payload"
        uow.commit()
    assert row_counts(sql_factory.engine) == before


def test_nested_units_on_sqlite_are_refused_at_once(
    sqlite_factory: SqlUnitOfWorkFactory,
) -> None:
    with sqlite_factory() as outer:
        outer.users.add(b.user())
        with pytest.raises(RuntimeError, match="cannot be nested"), sqlite_factory():
            pass
        outer.commit()
    with sqlite_factory() as uow:  # the refusal left no trace behind
        assert len(uow.users.list()) == 1


def test_nested_units_on_postgres_see_only_committed_data(
    pg_factory: SqlUnitOfWorkFactory,
) -> None:
    with pg_factory() as outer:
        outer.users.add(b.user())
        with pg_factory() as inner:
            assert inner.users.list() == []
        outer.commit()
