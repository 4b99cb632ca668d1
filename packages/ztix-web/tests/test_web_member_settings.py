"""The admin's request page: optional fixed addresses on the approve form, and the member
settings form (display name, max-prefix). Every refusal is the page again with the
reason, and nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_core.bootstrap import bootstrap
from ztix_core.memory import FixedClock
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import Settings
from ztix_core.testing import builders as b
from ztix_web.config import WebSettings

from .conftest import Site, seed, submit  # type: ignore[import-not-found]


@pytest.fixture(params=["memory", "sqlite"])
def msite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The usual site with the in-memory route servers (rs1) instead of BIRD's."""
    if request.param == "memory":
        settings = Settings(
            storage="memory", route_server_fleet="memory", allow_documentation_asns=True
        )
    else:
        from ztix_adapters_sql.testing import copy_sqlite

        template: Path = request.getfixturevalue("sqlite_template")
        url = copy_sqlite(template, tmp_path / "ztix.db")
        settings = Settings(
            storage="sql",
            database_url=url,
            route_server_fleet="memory",
            allow_documentation_asns=True,
        )
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


def test_approve_with_fixed_addresses(msite: Site) -> None:
    request_id = submit(msite, "opa", 64500)
    admin = msite.signed_in("admin")
    page = admin.get(f"/admin/requests/{request_id}")
    assert 'name="ipv4"' in page.text and 'name="ipv6"' in page.text
    result = admin.post(
        f"/admin/requests/{request_id}/approve", {"ipv4": "10.1.0.40", "ipv6": " fd00:1::40 "}
    )
    assert result.status_code == 303
    page = admin.get(f"/admin/requests/{request_id}")
    assert "10.1.0.40" in page.text and "fd00:1::40" in page.text
    facts = msite.core.members.get(uuid.UUID(request_id))
    assert (str(facts.ipv4), str(facts.ipv6)) == ("10.1.0.40", "fd00:1::40")


@pytest.mark.parametrize(
    ("fields", "status", "text"),
    [
        ({"ipv4": "10.9.0.1"}, 400, "is outside network"),
        ({"ipv4": "10.1.0.0"}, 400, "is the network address"),
        ({"ipv6": "10.1.0.5"}, 400, "an IPv6 address is needed"),
        ({"ipv4": "10.1.0.40"}, 409, "already held by another member"),
    ],
)
def test_approve_refuses_a_bad_address(
    msite: Site, fields: dict[str, str], status: int, text: str
) -> None:
    first = submit(msite, "opa", 64500)
    second = submit(msite, "opb", 64501, node="a1b2c3d4e6")
    admin = msite.signed_in("admin")
    admin.get(f"/admin/requests/{first}")
    assert admin.post(f"/admin/requests/{first}/approve", {"ipv4": "10.1.0.40"}).status_code == 303
    admin.get(f"/admin/requests/{second}")
    before = msite.counts()
    result = admin.post(f"/admin/requests/{second}/approve", fields)
    assert result.status_code == status and 'role="alert"' in result.text
    assert text in result.text
    assert msite.counts() == before
    assert "pending" in admin.get(f"/admin/requests/{second}").text


def test_member_settings_form(msite: Site) -> None:
    request_id = submit(msite, "opa", 64500)
    admin = msite.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    form = {"display_name": "A Net <Edge>", "max_prefix_v4": "5000", "max_prefix_v6": ""}
    assert admin.post(f"/admin/requests/{request_id}/member", form).status_code == 303
    page = admin.get(f"/admin/requests/{request_id}")
    assert 'value="A Net &lt;Edge&gt;"' in page.text and 'value="5000"' in page.text
    assert "IPv4 5000 (member), IPv6 50 (default)" in page.text  # what the routers get
    assert "by user:" in page.text
    facts = msite.core.members.get(uuid.UUID(request_id))
    assert (facts.display_name, facts.max_prefix_v4, facts.max_prefix_v6) == (
        "A Net <Edge>",
        5000,
        None,
    )
    # an operator cannot
    operator = msite.signed_in("opa")
    operator.get(f"/requests/{request_id}")
    assert operator.post(f"/admin/requests/{request_id}/member", form).status_code in (403, 404)


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"max_prefix_v4": "0"}, "must be 1-10000000, got 0"),
        ({"max_prefix_v6": "-1"}, "must be 1-10000000, got -1"),
        ({"max_prefix_v4": "10000001"}, "must be 1-10000000"),
        ({"max_prefix_v4": "many"}, "is not a whole number"),
        ({"display_name": "line\nbreak"}, "control characters"),
        ({"display_name": "x" * 121}, "at most 120 characters"),
    ],
)
def test_member_settings_refuse_bad_values(msite: Site, fields: dict[str, str], text: str) -> None:
    request_id = submit(msite, "opa", 64500)
    admin = msite.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    good = {"display_name": "Before", "max_prefix_v4": "9", "max_prefix_v6": ""}
    assert admin.post(f"/admin/requests/{request_id}/member", good).status_code == 303
    admin.get(f"/admin/requests/{request_id}")
    before = msite.counts()
    result = admin.post(f"/admin/requests/{request_id}/member", {**good, **fields})
    assert result.status_code == 400 and 'role="alert"' in result.text
    assert text in result.text
    assert msite.counts() == before
    facts = msite.core.members.get(uuid.UUID(request_id))
    assert (facts.display_name, facts.max_prefix_v4) == ("Before", 9)
