"""The numeric key behind the lowest-free-address search (``ip_allocations.low64``):
migration 0013 keys the addresses already held, and a row written without a key (by a
release before 0013 while the upgrade ran) is keyed when the allocator meets it, never
handed out twice."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ztix_adapters_sql.mapping import low64
from ztix_adapters_sql.migrate import upgrade
from ztix_adapters_sql.testing import sqlite_url, temporary_postgres_database
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory, sql_uow_factory
from ztix_core.testing import builders as b

HELD = ["10.1.0.1", "10.1.0.2", "fd00:1::1", "fd00:1::a500:0:6939:1"]


def _seed(factory: SqlUnitOfWorkFactory) -> tuple[str, str]:
    user, network = b.user(), b.network()
    request = b.request(user.id, network.id)
    with factory() as uow:
        uow.users.add(user)
        uow.networks.add(network)
        uow.requests.add(request)
        uow.commit()
    return network.id.value, str(request.id)


def _insert_unkeyed(url: str, network: str, request: str, addresses: list[str]) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for address in addresses:
            conn.execute(
                text(
                    "INSERT INTO ip_allocations (network_id, address, version, request_id) "
                    "VALUES (:n, :a, :v, :r)"
                ),
                {
                    "n": network,
                    "a": address,
                    "v": ipaddress.ip_address(address).version,
                    "r": request
                    if engine.dialect.name == "postgresql"
                    else request.replace("-", ""),
                },
            )
    engine.dispose()


def _keys(url: str, column: str = "low64") -> dict[str, int | None]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT address, {column} FROM ip_allocations")).all()
    engine.dispose()
    return {a: k for a, k in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0013_keys_the_addresses_already_held(backend: str, tmp_path: Path) -> None:
    def check(url: str) -> None:
        assert upgrade(url, "0012") == (None, "0012")
        factory = sql_uow_factory(url)
        network, request = _seed(factory)
        factory.dispose()
        _insert_unkeyed(url, network, request, HELD)
        assert set(_keys(url, "version")) == set(HELD)
        upgrade(url)
        assert _keys(url) == {a: low64(ipaddress.ip_address(a)) for a in HELD}

    if backend == "sqlite":
        check(sqlite_url(tmp_path / "ztix.db"))
    else:
        with temporary_postgres_database(prefix="ztix_low64", migrate=False) as url:
            check(url)


def test_an_unkeyed_row_is_keyed_when_met_and_never_handed_out(
    sql_factory: SqlUnitOfWorkFactory,
) -> None:
    network_id, request = _seed(sql_factory)
    url = sql_factory.engine.url.render_as_string(hide_password=False)
    _insert_unkeyed(url, network_id, request, ["10.1.0.1", "10.1.0.2"])
    network = b.network()
    v4 = ipaddress.IPv4Address
    with sql_factory() as uow:
        found = uow.allocations.lowest_free(network.id, v4("10.1.0.1"), v4("10.1.0.254"))
        uow.commit()
    assert found == v4("10.1.0.3")
    assert _keys(url)["10.1.0.1"] == low64(v4("10.1.0.1"))
