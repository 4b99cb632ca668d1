"""The web app on the in-memory storage and on SQLite (through the SQL plugin), with a
clock the tests move and a fast argon2id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from ztix_core.bootstrap import App, bootstrap
from ztix_core.memory import FixedClock
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import Actor, User
from ztix_core.settings import Settings
from ztix_core.testing import builders as b
from ztix_web.app import create_app
from ztix_web.config import WebSettings
from ztix_web.passwords import Argon2Hasher
from ztix_web.testing import Browser

PASSWORD = "a long enough passphrase"
FAST_HASHER = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


@attrs.define
class Site:
    """One app under test and the accounts seeded in it."""

    core: App
    clock: FixedClock
    ws: WebSettings
    users: dict[str, User] = attrs.Factory(dict)

    def browser(self) -> Browser:
        return Browser(create_app(self.core, self.ws, FAST_HASHER))

    def signed_in(self, name: str) -> Browser:
        browser = self.browser()
        result = browser.login(name, PASSWORD)
        assert result.status_code == 303, result.text
        return browser

    def counts(self) -> dict[str, int]:
        """Rows per table, whatever the backend (to show a refusal wrote nothing)."""
        factory: Any = self.core.uow_factory
        if hasattr(factory, "engine"):
            from ztix_adapters_sql.testing import row_counts

            return row_counts(factory.engine)
        tables = factory.tables
        return {f.name: len(getattr(tables, f.name)) for f in attrs.fields(type(tables))}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ztix_adapters_sql.testing import migrated_sqlite_url

    directory = tmp_path_factory.mktemp("template")
    migrated_sqlite_url(directory)
    return directory / "ztix.db"


@pytest.fixture(params=["memory", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "memory":
        settings = Settings(storage="memory", allow_documentation_asns=True)
    else:
        from ztix_adapters_sql.testing import copy_sqlite

        template: Path = request.getfixturevalue("sqlite_template")
        url = copy_sqlite(template, tmp_path / "ztix.db")
        settings = Settings(storage="sql", database_url=url, allow_documentation_asns=True)
    clock = FixedClock(b.T0)
    core = bootstrap(
        settings, Plugins(build_plugin_manager()), clock=clock, with_provisioning=False
    )
    site = Site(core, clock, WebSettings())
    seed(site)
    yield site
    dispose = getattr(core.uow_factory, "dispose", None)
    if dispose is not None:
        dispose()


def seed(site: Site) -> None:
    """An admin, operators A and B (A with AS64500 and a documentation-range ASN, B with
    AS64501), a disabled operator, and two exchange networks."""
    from ztix_core.usecases.accounts import Accounts

    with site.core.uow_factory() as uow:
        uow.networks.add(b.network(1))
        uow.networks.add(b.network(2))
        uow.commit()
    accounts = Accounts(site.core.uow_factory, site.clock, FAST_HASHER)
    cli = Actor.system("test")
    site.users["admin"] = accounts.create(cli, "admin", PASSWORD, is_admin=True)
    site.users["opa"] = accounts.create(cli, "opa", PASSWORD, display_name="Operator A")
    site.users["opb"] = accounts.create(cli, "opb", PASSWORD, display_name="Operator B")
    site.users["gone"] = accounts.create(cli, "gone", PASSWORD)
    accounts.link_asn(cli, "opa", 64500, "A Net")
    accounts.link_asn(cli, "opa", 64512)  # private: shown as ineligible
    accounts.link_asn(cli, "opb", 64501)
    accounts.link_asn(cli, "gone", 64502)


def submit(site: Site, name: str, asn: int, node: str = "a1b2c3d4e5", network: int = 1) -> str:
    """A request filed through the core; its id."""
    request = site.core.workflow.submit(site.users[name].id, asn, b.network(network).id, node)
    return str(request.id)


def later(site: Site, seconds: float) -> dt.datetime:
    """Move the site's clock on."""
    return site.clock.advance(seconds=seconds)
