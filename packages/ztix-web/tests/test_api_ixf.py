"""The IX-F member export: valid against the Euro-IX schema (tests/data, copied from
Euro-IX), active members only, the exchange's identity from ``[exchange]``, and served from
a cache with ETag / Last-Modified until the membership changes."""

from __future__ import annotations

import gzip
import ipaddress
import json
from pathlib import Path
from typing import Any

import attrs
import falcon.testing
import jsonschema
import pytest

from ztix_core.memory import InMemoryFleet, InMemoryProvider, InMemoryRegistry
from ztix_core.ports import NetworkFacts
from ztix_core.records import Actor, RouteServer
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases.provisioning import Provisioner
from ztix_core.values import Asn
from ztix_web.app import create_app

from .conftest import FAST_HASHER, Site, submit  # type: ignore[import-not-found]

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "ixp-member-list-1.0.schema.json").read_text()
)
EXCHANGE = {
    "shortname": "ZTIX-LAB",
    "name": "ztix lab exchange",
    "ixf_id": 999,
    "country": "DE",
    "url": "https://ix.example.net/",
    "support_email": "noc@example.net",
}


@attrs.define
class Exchange:
    site: Site
    client: falcon.testing.TestClient
    registry: InMemoryRegistry
    provisioner: Provisioner
    app: Any

    def activate(self, name: str, asn: int, node: str) -> str:
        rid: str = submit(self.site, name, asn, node)
        self.site.core.workflow.approve(Actor.system("admin"), _uuid(rid))
        assert self.provisioner.provision(_uuid(rid)) is RequestStatus.ACTIVE
        return rid


def _uuid(raw: str) -> Any:
    import uuid

    return uuid.UUID(raw)


@pytest.fixture
def exchange(site: Site) -> Exchange:
    settings = attrs.evolve(site.core.settings, sections={"exchange": EXCHANGE})
    registry = site.core.registry  # the workflow caches its facts at submission
    assert isinstance(registry, InMemoryRegistry)
    core = attrs.evolve(site.core, settings=settings)
    site.core = core
    provider = InMemoryProvider()
    for n in (1, 2):
        provider.ensure_network(b.network(n))
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999), ipaddress.IPv4Address("10.1.0.1"), None)])
    provisioner = Provisioner(core.uow_factory, site.clock, provider, fleet, registry)
    app = create_app(core, site.ws, FAST_HASHER)
    return Exchange(site, falcon.testing.TestClient(app), registry, provisioner, app)


def _validate(doc: Any) -> None:
    jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    ).validate(doc)


def test_export_is_valid_and_lists_active_members_only(exchange: Exchange) -> None:
    exchange.registry.put(NetworkFacts(Asn(64500), "A Net", "AS-ANET", 120, 30))
    exchange.activate("opa", 64500, "a1b2c3d4e5")
    exchange.activate("opb", 64501, "a1b2c3d4e6")
    submit(exchange.site, "opa", 64500, "a1b2c3d4e7", network=2)  # pending: not listed
    result = exchange.client.simulate_get("/participants.json")
    assert result.status_code == 200
    doc = result.json
    _validate(doc)
    assert doc == exchange.client.simulate_get("/api/v1/ixf").json
    (ixp,) = doc["ixp_list"]
    assert (ixp["shortname"], ixp["ixf_id"], ixp["country"]) == ("ZTIX-LAB", 999, "DE")
    assert [v["id"] for v in ixp["vlan"]] == [1, 2]
    members = {m["asnum"]: m for m in doc["member_list"]}
    assert set(members) == {64500, 64501}
    (conn,) = members[64500]["connection_list"]
    (vlan,) = conn["vlan_list"]
    assert vlan["vlan_id"] == 1
    assert ipaddress.ip_address(vlan["ipv4"]["address"]) in b.network(1).ipv4_prefix
    assert vlan["ipv4"]["routeserver"] is True
    assert (vlan["ipv4"]["max_prefix"], vlan["ipv6"]["max_prefix"]) == (120, 30)
    assert vlan["ipv4"]["as_macro"] == "AS-ANET"
    other = members[64501]["connection_list"][0]["vlan_list"][0]
    assert "as_macro" not in other["ipv4"]  # unknown to PeeringDB: no as-set claimed
    assert members[64501]["name"] == "AS64501"


def test_export_is_cached_until_the_membership_changes(exchange: Exchange) -> None:
    exchange.activate("opa", 64500, "a1b2c3d4e5")
    first = exchange.client.simulate_get("/participants.json")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"].startswith("public")
    cache = _cache(exchange)
    cache.check_every_s = 0.0  # ask the database on every call: a change shows at once
    builds = cache.builds
    again = exchange.client.simulate_get("/participants.json")
    assert again.headers["ETag"] == etag and again.content == first.content
    assert cache.builds == builds  # served from the cache
    not_modified = exchange.client.simulate_get(
        "/participants.json", headers={"If-None-Match": etag}
    )
    assert not_modified.status_code == 304 and not_modified.content == b""
    since = exchange.client.simulate_get(
        "/participants.json", headers={"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    exchange.site.clock.advance(seconds=5)
    exchange.activate("opb", 64501, "a1b2c3d4e6")
    changed = exchange.client.simulate_get("/participants.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert cache.builds == builds + 1
    assert {m["asnum"] for m in changed.json["member_list"]} == {64500, 64501}
    zipped = exchange.client.simulate_get(
        "/participants.json", headers={"Accept-Encoding": "gzip, deflate"}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["ETag"] != changed.headers["ETag"]
    assert gzip.decompress(zipped.content) == changed.content
    assert cache.builds == builds + 1


def _cache(exchange: Exchange) -> Any:
    # The app's API wiring keeps the cache; find it through the registered route.
    resource, _, _, _ = exchange.app._router.find("/participants.json")
    return resource.api.operations[-2].handler.__self__


def test_bad_exchange_settings_are_named(site: Site) -> None:
    from ztix_core.errors import SettingsError

    settings = attrs.evolve(site.core.settings, sections={"exchange": {"country": "Germany"}})
    with pytest.raises(SettingsError, match=r"exchange\.country"):
        create_app(attrs.evolve(site.core, settings=settings), site.ws, FAST_HASHER)
