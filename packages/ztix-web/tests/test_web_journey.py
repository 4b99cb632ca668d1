"""The pages an operator and an admin go through, on both storage backends."""

from __future__ import annotations

from ztix_core.testing import builders as b

from .conftest import Site, submit  # type: ignore[import-not-found]


def test_operator_submits_and_admin_approves(site: Site) -> None:
    op = site.signed_in("opa")
    page = op.get("/onboarding")
    assert page.status_code == 200
    assert "AS64500" in page.text and "AS64512" in page.text and "private" in page.text
    result = op.post(
        "/onboarding",
        {"asn": "64500", "network_id": b.network(1).id.value, "node_id": "A1B2C3D4E5"},
    )
    assert result.status_code == 303, result.text
    location = result.headers["location"]
    detail = op.get(location)
    assert detail.status_code == 200 and "pending" in detail.text
    assert 'hx-trigger="every 3s"' in detail.text
    dash = op.get("/dashboard")
    assert "AS64500" in dash.text and "pending" in dash.text
    admin = site.signed_in("admin")
    queue = admin.get("/admin/requests")
    assert queue.status_code == 200 and "AS64500" in queue.text
    request_id = location.rsplit("/", 1)[1]
    admin.get(f"/admin/requests/{request_id}")
    result = admin.post(f"/admin/requests/{request_id}/approve")
    assert result.status_code == 303, result.text
    status = op.get(f"/requests/{request_id}/status")
    assert "approved" in status.text


def test_reject_needs_a_reason_and_the_operator_sees_it(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    admin = site.signed_in("admin")
    admin.get(f"/admin/requests/{request_id}")
    before = site.counts()
    result = admin.post(f"/admin/requests/{request_id}/reject", {"reason": "  "})
    assert result.status_code == 400 and "a reason is required" in result.text
    assert site.counts() == before
    result = admin.post(f"/admin/requests/{request_id}/reject", {"reason": "No PeeringDB entry"})
    assert result.status_code == 303
    page = site.signed_in("opa").get(f"/requests/{request_id}")
    assert "rejected" in page.text and "No PeeringDB entry" in page.text
    assert "hx-trigger" not in page.text  # terminal: no polling


def test_the_timeline_names_users(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    page = site.signed_in("opa").get(f"/requests/{request_id}")
    assert "by opa" in page.text and f"user:{site.users['opa'].id}" not in page.text


def test_onboarding_lists_ineligible_asns_even_when_none_may_join(site: Site) -> None:
    from ztix_core.records import Actor
    from ztix_core.usecases.accounts import Accounts

    from .conftest import FAST_HASHER

    accounts = Accounts(site.core.uow_factory, site.clock, FAST_HASHER)
    accounts.unlink_asn(Actor.system("t"), "opa", 64500)
    page = site.signed_in("opa").get("/onboarding").text
    assert "No AS number linked to your account may join yet" in page
    assert "AS64512" in page and "private" in page


def test_the_request_pages_show_the_peeringdb_facts_their_fetch_time_and_max_prefix(
    site: Site,
) -> None:
    from ztix_core.memory import InMemoryRegistry
    from ztix_core.ports import NetworkFacts
    from ztix_core.values import Asn

    registry = site.core.registry
    assert isinstance(registry, InMemoryRegistry)
    registry.put(
        NetworkFacts(
            Asn(64500),
            "Example Net",
            irr_as_set="AS-EXAMPLE",
            max_prefix_v4=1250,
            never_via_route_servers=True,
        )
    )
    request_id = submit(site, "opa", 64500)
    fetched = f'<time datetime="{site.clock.now().isoformat()}">'
    for page in (
        site.signed_in("opa").get(f"/requests/{request_id}").text,
        site.signed_in("admin").get(f"/admin/requests/{request_id}").text,
    ):
        assert "Example Net (Open, " in page and "AS-EXAMPLE" in page
        assert "never via route servers" in page
        assert f"fetched {fetched}" in page
        assert "IPv4 1250 (peeringdb), IPv6 50 (default)" in page
    registry.unreachable[Asn(64501)] = "PeeringDB timed out"
    other = submit(site, "opb", 64501, node="b1b2c3d4e5")
    page = site.signed_in("opb").get(f"/requests/{other}").text
    assert "unknown: PeeringDB has not answered (last ask failed: PeeringDB timed out)" in page
    assert "IPv4 100 (default)" in page
