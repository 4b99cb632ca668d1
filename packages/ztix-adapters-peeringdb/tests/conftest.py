"""Sign in with PeeringDB against a real OpenID Connect provider.

``idp``: django-oauth-toolkit configured like auth.peeringdb.com (see
``ztix_adapters_peeringdb.testing_idp``), one gunicorn subprocess for the whole run with
its own SQLite database; faults are switched off after every test. ``exchange``: ztix-web
on a copy of a migrated SQLite template with the sign-in configured against it; ``driver``
one browser over HTTP (``ztix_adapters_peeringdb.testing_idp.signin``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ztix_adapters_peeringdb.testing_idp.harness import LocalIdp
from ztix_adapters_peeringdb.testing_idp.signin import (
    CALLBACK,
    Exchange,
    SignInDriver,
    make_exchange,
)


@pytest.fixture(scope="session")
def idp() -> Iterator[LocalIdp]:
    with LocalIdp([CALLBACK]) as provider:
        yield provider


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "idp" in request.fixturenames:
        request.getfixturevalue("idp").set_control({})


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ztix_adapters_sql.testing import migrated_sqlite_url

    directory = tmp_path_factory.mktemp("template")
    migrated_sqlite_url(directory)
    return directory / "ztix.db"


@pytest.fixture
def exchange_factory(
    idp: LocalIdp, sqlite_template: Path, tmp_path: Path
) -> Iterator[Callable[..., Exchange]]:
    from ztix_adapters_sql.testing import copy_sqlite

    made: list[Exchange] = []

    def make(**kw: Any) -> Exchange:
        url = copy_sqlite(sqlite_template, tmp_path / f"ztix{len(made)}.db")
        made.append(make_exchange(idp, url, **kw))
        return made[-1]

    yield make
    for ex in made:
        ex.close()


@pytest.fixture
def exchange(exchange_factory: Callable[..., Exchange]) -> Exchange:
    return exchange_factory()


@pytest.fixture
def driver(exchange: Exchange) -> Iterator[SignInDriver]:
    d = SignInDriver(exchange)
    yield d
    d.close()
