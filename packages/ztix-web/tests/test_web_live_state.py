"""The live-state parts of the pages, from what the worker recorded: a request's BGP
sessions, the route servers' reachability and sessions, and the controller page."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from ztix_core.memory import InMemoryFleet, InMemoryProvider
from ztix_core.records import (
    Actor,
    AuditEvent,
    ControllerObservation,
    ObservedCheck,
    RouteServer,
    RouteServerObservation,
    SessionObservation,
    new_id,
)
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner
from ztix_core.values import Asn
from ztix_web.pages import observe_interval_s

from .conftest import Site, later, submit  # type: ignore[import-not-found]


def _active(site: Site, name: str = "opa", asn: int = 64500, node: str = "a1b2c3d4e5") -> str:
    """A request taken to active by the in-memory controller and route servers rs1, rs2."""
    request_id: str = submit(site, name, asn, node)
    admin = Actor("user", str(site.users["admin"].id), is_admin=True)
    site.core.workflow.approve(admin, uuid.UUID(request_id))
    provider = InMemoryProvider()
    provider.ensure_network(b.network(1))
    fleet = InMemoryFleet([RouteServer("rs1", Asn(64999)), RouteServer("rs2", Asn(64999))])
    provisioner = Provisioner(
        site.core.uow_factory, site.core.clock, provider, fleet, site.core.registry
    )
    assert provisioner.provision(uuid.UUID(request_id)) is RequestStatus.ACTIVE
    return request_id


def _observe(site: Site) -> dt.datetime:
    """rs1 up with AS64500 v4 established and v6 refused, AS64501 established; rs2 down."""
    at: dt.datetime = later(site, 10)
    sessions = [
        SessionObservation(
            "rs1", Asn(64500), "AS64500_v4", "Established", at, since="2026-03-01 12:00:05",
            info="Established", imported=7, filtered=2, exported=345,
        ),
        SessionObservation(
            "rs1", Asn(64500), "AS64500_v6", "Active", at, info="Active Socket: Connection refused",
            last_error="Socket: Connection refused",
        ),
        SessionObservation("rs1", Asn(64501), "AS64501_v4", "Established", at, info="Established"),
    ]  # fmt: skip
    with site.core.uow_factory() as uow:
        uow.observations.record_route_server(
            RouteServerObservation("rs1", True, at, sessions_total=3, sessions_established=2),
            sessions,
        )
        uow.observations.record_route_server(
            RouteServerObservation("rs2", False, at, message="ssh: connection refused"), []
        )
        uow.commit()
    return at


def _sessions_table(text: str) -> str:
    found = re.search(r'<div id="sessions".*?</table>', text, re.S)
    assert found, "no sessions table"
    return found.group(0)


def test_request_page_shows_sessions_per_server_and_family(site: Site) -> None:
    request_id = _active(site)
    op = site.signed_in("opa")
    before = op.get(f"/requests/{request_id}").text
    assert "BGP sessions" in before
    assert "No reading yet: the worker records session state every 30 s" in before
    _observe(site)
    page = op.get(f"/requests/{request_id}")
    assert page.status_code == 200
    table = _sessions_table(page.text)
    assert "IPv4" in table and "IPv6" in table and "Established" in table
    assert "Active — Socket: Connection refused" in table
    assert "7 / 2 / 345" in table and "2026-03-01 12:00:05" in table
    assert "unreachable: ssh: connection refused" in table
    assert "AS64501" not in table  # another member's session
    assert "As of <time" in page.text and "12:00:10 UTC" in page.text
    # active stands still: only the sessions ask for news, once per observation period
    assert 'hx-get="/requests/' + request_id + '/status?part=sessions"' in page.text
    assert 'hx-trigger="every 30s"' in page.text
    part = op.get(f"/requests/{request_id}/status?part=sessions")
    assert part.status_code == 200 and part.text.lstrip().startswith('<div id="sessions"')
    assert "Active — Socket: Connection refused" in part.text and "<h1" not in part.text
    admin_page = site.signed_in("admin").get(f"/admin/requests/{request_id}")
    assert "Active — Socket: Connection refused" in _sessions_table(admin_page.text)


def test_a_moving_request_refreshes_its_sessions_with_the_live_part(site: Site) -> None:
    request_id = _active(site)
    _observe(site)
    op = site.signed_in("opa")
    op.get(f"/requests/{request_id}")
    assert op.post(f"/requests/{request_id}/leave", {"confirm": "yes"}).status_code == 303
    page = op.get(f"/requests/{request_id}").text
    assert "deprovisioning" in page and 'hx-trigger="every 3s"' in page
    assert "status?part=sessions" not in page  # the #live poll carries them
    live = op.get(f"/requests/{request_id}/status").text
    assert "Active — Socket: Connection refused" in live


def test_a_pending_request_has_no_sessions_section(site: Site) -> None:
    request_id = submit(site, "opa", 64500)
    _observe(site)
    page = site.signed_in("opa").get(f"/requests/{request_id}").text
    assert "BGP sessions" not in page and "Connection refused" not in page


def test_operator_b_never_sees_the_sessions_of_a(site: Site) -> None:
    request_id = _active(site)
    _observe(site)
    opb = site.signed_in("opb")
    for url in (
        f"/requests/{request_id}",
        f"/requests/{request_id}/status",
        f"/requests/{request_id}/status?part=sessions",
    ):
        page = opb.get(url)
        assert page.status_code == 404 and "Connection refused" not in page.text
        assert "AS64500_v4" not in page.text


def test_route_servers_page_shows_reachability_sessions_and_last_apply(site: Site) -> None:
    _active(site)
    at = _observe(site)
    with site.core.uow_factory() as uow:
        uow.audit.append(
            AuditEvent(
                new_id(), at, "system:worker", "route_server.failed", "route_server", "rs2",
                {"generation": 2, "stage": "configure", "message": "bird: syntax error",
                 "duration_s": 1.5},
            )
        )  # fmt: skip
        uow.commit()
    page = site.signed_in("admin").get("/admin/route-servers")
    assert page.status_code == 200
    rows = re.findall(r"<tr>.*?</tr>", page.text, re.S)
    rs1 = next(r for r in rows if ">rs1<" in r)
    rs2 = next(r for r in rows if ">rs2<" in r)
    assert "in sync" in rs1 and "1 / 1" in rs1 and "applied" in rs1
    assert ">reachable<" in rs1 and "2 / 3" in rs1 and "(1 down)" in rs1
    assert "12:00:10 UTC" in rs1
    assert "unreachable" in rs2 and "ssh: connection refused" in rs2
    assert "failed" in rs2 and "stage configure: bird: syntax error" in rs2
    assert "took 1.50 s" in rs2


def test_route_servers_page_before_any_reading(site: Site) -> None:
    _active(site)
    page = site.signed_in("admin").get("/admin/route-servers").text
    assert page.count("no reading yet") == 2 and "every 30 s" in page


def _lifecycle(site: Site, action: str, **metadata: object) -> None:
    event = AuditEvent(
        new_id(), later(site, 1), "system:controller-lifecycle", action, "controller",
        "self_hosted_controller", dict(metadata),
    )  # fmt: skip
    with site.core.uow_factory() as uow:
        uow.audit.append(event)
        uow.commit()


def test_controller_page_empty_states(site: Site) -> None:
    page = site.signed_in("admin").get("/admin/controller")
    assert page.status_code == 200
    assert "No reading yet: the worker checks the controller" in page.text
    assert "No backup recorded yet" in page.text and "No drill recorded yet" in page.text
    assert b.network(1).id.value in page.text and b.network(2).id.value in page.text
    assert 'href="/admin/controller" aria-current="page"' in page.text


def test_controller_page_shows_checks_networks_backup_and_drill(site: Site) -> None:
    with site.core.uow_factory() as uow:
        uow.networks.add(b.network(3, name="old lan", retired=True))
        uow.observations.record_controller(
            ControllerObservation(
                later(site, 5),
                (
                    ObservedCheck("controller_reachable", True, "answers as a1b2c3d4e5"),
                    ObservedCheck(
                        "networks_present", False, "network a1b2c3d4e5000003 is missing",
                        "run `ztix controller reconcile`",
                    ),
                ),
            )
        )  # fmt: skip
        uow.commit()
    _lifecycle(site, "controller.backup_created", archive="ztix-zt-1.tar.gz", files=4, bytes=2048)
    _lifecycle(
        site, "controller.drill_failed", archive="ztix-zt-1.tar.gz", passed=False,
        summary="readiness: networks_present: missing", readiness={"ready": False},
        controller_kind="emulator",
    )  # fmt: skip
    page = site.signed_in("admin").get("/admin/controller")
    text = page.text
    assert page.status_code == 200
    assert "not ready" in text and "12:00:05 UTC" in text
    assert "controller_reachable" in text and "passed" in text
    assert "networks_present" in text and "run `ztix controller reconcile`" in text
    assert "old lan" in text and "retired (closed to new requests)" in text and "in use" in text
    assert "created" in text and "ztix-zt-1.tar.gz" in text and "2.0 kB (2048 bytes)" in text
    drill = text[text.index("Last restore drill") :]
    assert "failed" in drill and "readiness: networks_present: missing" in drill
    assert "emulator" in drill


def test_a_failed_backup_says_why_and_what_to_do(site: Site) -> None:
    _lifecycle(site, "controller.backup_created", archive="old.tar.gz", files=1, bytes=10)
    _lifecycle(
        site, "controller.backup_failed", kind="io", message="No space left on device",
        remediation="free space in ZT_CONTROLLER_BACKUP_DIR",
    )  # fmt: skip
    text = site.signed_in("admin").get("/admin/controller").text
    backup = text[text.index("Last backup") : text.index("Last restore drill")]
    assert "failed" in backup and "No space left on device" in backup
    assert "free space in ZT_CONTROLLER_BACKUP_DIR" in backup and "old.tar.gz" not in backup


def test_the_observation_interval_comes_from_the_worker_setting() -> None:
    settings = Settings(storage="memory", sections={"worker": {"observe_interval_s": 12}})
    assert observe_interval_s(settings, {}) == 12
    assert observe_interval_s(settings, {"ZTIX_WORKER_OBSERVE_INTERVAL_S": "7.5"}) == 7.5
    assert observe_interval_s(Settings(storage="memory"), {}) == 30
    assert observe_interval_s(settings, {"ZTIX_WORKER_OBSERVE_INTERVAL_S": "soon"}) == 30


def test_a_reading_older_than_three_periods_is_called_stale(site: Site) -> None:
    request_id = _active(site)
    _observe(site)
    with site.core.uow_factory() as uow:
        uow.observations.record_controller(ControllerObservation(site.clock.now(), ()))
        uow.commit()
    op, admin = site.signed_in("opa"), site.signed_in("admin")
    pages = (
        (op, f"/requests/{request_id}"),
        (admin, "/admin/route-servers"),
        (admin, "/admin/controller"),
    )
    later(site, 90)  # three periods of 30 s: not yet
    assert not any("stale" in who.get(url).text for who, url in pages)
    later(site, 1)
    for who, url in pages:
        text = who.get(url).text
        assert "(stale: is the worker running?)" in text


def test_the_dashboard_badge_poll_reads_the_status_alone(site: Site) -> None:
    request_id = _active(site)
    _observe(site)
    badge = site.signed_in("opa").get(f"/requests/{request_id}/status?part=badge")
    assert badge.status_code == 200 and "active" in badge.text
    assert "BGP sessions" not in badge.text and "Addresses" not in badge.text
