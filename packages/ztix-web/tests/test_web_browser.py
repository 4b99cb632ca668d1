"""The journey in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium).

An admin account made with the ``ztix user`` command; the operator signs in, onboards and
submits; the admin approves in a second browser context; the test then plays the worker
(in-memory controller and route servers over the same database) and the operator's page
turns ``active`` by itself. Every page is checked with axe-core (no serious or critical
violation) and photographed at 375 and 1280 px wide into ``artifacts/screenshots``
(``ZTIX_SCREENSHOT_DIR`` overrides). Without chromium these tests fail; they never skip.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ztix_core.bootstrap import App, bootstrap
from ztix_core.looking_glass import FilteredRoute
from ztix_core.memory import InMemoryFleet, InMemoryProvider
from ztix_core.plugins import Plugins, build_plugin_manager
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
from ztix_core.usecases import LookingGlass, Provisioner
from ztix_core.values import Asn
from ztix_web.app import create_app
from ztix_web.config import WebSettings
from ztix_web.testing import PageCheck, follow, launch_chromium, screenshot_dir
from ztix_web.testing import sign_in as _sign_in

ROOT = Path(__file__).resolve().parents[3]
check_page = PageCheck(
    Path(__file__).parent / "browser" / "axe.min.js",
    screenshot_dir(ROOT / "artifacts" / "screenshots"),
)
PASSWORD = "a long enough passphrase"


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _ztix(env: dict[str, str], *argv: str, stdin: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


class Exchange:
    """The app on SQLite, served on 127.0.0.1, and a worker stand-in."""

    def __init__(self, tmp: Path) -> None:
        db = tmp / "ztix.db"
        env = {k: v for k, v in os.environ.items() if k != "ZTIX_CONFIG"}
        env |= {"DATABASE_URL": f"sqlite:///{db}", "ZTIX_STORAGE": "sql"}
        _ztix(env, "db", "upgrade")
        for name, extra in (("admin", ["--admin"]), ("alice", [])):
            _ztix(env, "user", "create", name, *extra, "--password-stdin", stdin=PASSWORD)
        _ztix(env, "user", "link-asn", "alice", "64500", "--network-name", "Alice Networks")
        _ztix(env, "user", "link-asn", "alice", "64512")
        settings = Settings(
            storage="sql",
            database_url=f"sqlite:///{db}",
            allow_documentation_asns=True,
            # the sessions table asks for news once per observation period
            sections={"worker": {"observe_interval_s": 4}},
        )
        self.core: App = bootstrap(
            settings, Plugins(build_plugin_manager()), with_provisioning=False
        )
        network = b.network(1)
        with self.core.uow_factory() as uow:
            uow.networks.add(network)
            uow.commit()
        provider = InMemoryProvider()
        provider.ensure_network(network)
        fleet = InMemoryFleet([RouteServer("rs1", Asn(64999)), RouteServer("rs2", Asn(64999))])
        self.fleet = fleet
        self.provisioner = Provisioner(
            self.core.uow_factory, self.core.clock, provider, fleet, self.core.registry
        )
        app = create_app(self.core, WebSettings(dev=True, poll_interval_s=1))
        self.server = make_server("127.0.0.1", 0, app, _Threaded, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def work(self, request_id: str) -> RequestStatus | None:
        """What the worker does for an approved request."""
        return self.provisioner.provision(uuid.UUID(request_id))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        dispose = getattr(self.core.uow_factory, "dispose", None)
        if dispose is not None:
            dispose()


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    ex = Exchange(tmp_path)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser


def sign_in(context: BrowserContext, url: str, username: str) -> Page:
    return _sign_in(context, url, username, PASSWORD, check_page)


def test_operator_and_admin_journey(exchange: Exchange, chromium: Browser) -> None:
    url = exchange.url
    visitor = chromium.new_context()
    landing = visitor.new_page()
    landing.goto(url)
    check_page(landing, "landing")
    visitor.close()

    operator = chromium.new_context()
    page = sign_in(operator, url, "alice")
    check_page(page, "dashboard-empty")
    follow(page, "Join the exchange", "/onboarding")
    expect(page.get_by_text("RFC 6996 private use")).to_be_visible()
    node = page.get_by_label("ZeroTier node id")
    node.fill("12")
    expect(page.locator("#node_id-check")).to_contain_text("Not valid")
    check_page(page, "onboarding")
    node.fill("A1B2C3D4E5")
    expect(page.locator("#node_id-check")).to_contain_text("Looks right")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#live")).to_contain_text("pending")
    request_id = page.url.rsplit("/", 1)[1]
    check_page(page, "request-pending")

    admin_context = chromium.new_context()
    admin = sign_in(admin_context, url, "admin")
    follow(admin, "Admin queue", "/admin/requests")
    check_page(admin, "admin-queue")
    admin.get_by_role("link", name=request_id[:8]).click()
    expect(admin).to_have_url(re.compile(f"/admin/requests/{request_id}$"))
    check_page(admin, "admin-request")
    admin.get_by_role("button", name="Approve").click()
    expect(admin.locator("#live")).to_contain_text("approved")

    expect(page.locator("#live")).to_contain_text("approved")  # by itself, polling
    assert exchange.work(request_id) is RequestStatus.ACTIVE
    expect(page.locator("#live")).to_contain_text("active")
    expect(page.locator("#live")).to_contain_text("10.1.0.")  # its IPv4 address
    expect(page.locator("#live")).to_contain_text("applied")
    expect(page.locator("#live")).not_to_have_attribute("hx-trigger", re.compile("every"))
    check_page(page, "request-active")
    follow(page, "Dashboard", "/dashboard")
    check_page(page, "dashboard")
    follow(admin, "Audit log", "/admin/audit")
    check_page(admin, "audit")
    follow(admin, "Route servers", "/admin/route-servers")
    check_page(admin, "route-servers")
    operator.close()
    admin_context.close()


def test_reject_with_a_reason_the_operator_sees(exchange: Exchange, chromium: Browser) -> None:
    url = exchange.url
    operator = chromium.new_context()
    page = sign_in(operator, url, "alice")
    page.goto(f"{url}/onboarding")
    page.get_by_label("ZeroTier node id").fill("b1b2c3d4e5")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#live")).to_contain_text("pending")
    request_id = page.url.rsplit("/", 1)[1]
    admin_context = chromium.new_context()
    admin = sign_in(admin_context, url, "admin")
    admin.goto(f"{url}/admin/requests/{request_id}")
    admin.get_by_label("Reason for rejecting").fill("No PeeringDB record for AS64500")
    admin.get_by_role("button", name="Reject").click()
    expect(admin.locator("#live")).to_contain_text("rejected")
    expect(page.locator("#live")).to_contain_text("No PeeringDB record")  # by itself
    check_page(page, "request-rejected")
    page.goto(f"{url}/admin/requests")
    check_page(page, "error-403")
    operator.close()
    admin_context.close()


def _sessions(exchange: Exchange, v6: str, v6_error: str) -> None:
    """What the worker would record: AS64500 up on rs1 over IPv4, ``v6`` over IPv6; rs2
    unreachable."""
    at = dt.datetime.now(dt.UTC)
    with exchange.core.uow_factory() as uow:
        uow.observations.record_route_server(
            RouteServerObservation("rs1", True, at, sessions_total=2, sessions_established=1),
            [
                SessionObservation(
                    "rs1", Asn(64500), "AS64500_v4", "Established", at, since="12:00:05",
                    info="Established", imported=7, filtered=1, exported=345,
                ),
                SessionObservation(
                    "rs1", Asn(64500), "AS64500_v6", v6, at, info=v6, last_error=v6_error,
                ),
            ],
        )  # fmt: skip
        uow.observations.record_route_server(
            RouteServerObservation("rs2", False, at, message="ssh: connection refused"), []
        )
        uow.commit()


def test_live_state_pages(exchange: Exchange, chromium: Browser) -> None:
    url = exchange.url
    with exchange.core.uow_factory() as uow:
        alice = uow.users.get_by_username("alice")
        admin_user = uow.users.get_by_username("admin")
    assert alice is not None and admin_user is not None
    request = exchange.core.workflow.submit(alice.id, 64500, b.network(1).id, "c1b2c3d4e5")
    exchange.core.workflow.approve(Actor.user(admin_user), request.id)
    assert exchange.work(str(request.id)) is RequestStatus.ACTIVE

    operator = chromium.new_context()
    page = sign_in(operator, url, "alice")
    page.goto(f"{url}/requests/{request.id}")
    expect(page.locator("#sessions")).to_contain_text("No reading yet")
    _sessions(exchange, "Active", "Socket: Connection refused")
    # the sessions table refreshes by itself (once per observation period), the page stays
    sessions = page.locator("#sessions")
    expect(sessions).to_contain_text("Active — Socket: Connection refused", timeout=20_000)
    expect(page.locator("#sessions")).to_contain_text("unreachable: ssh: connection refused")
    page.locator("#sessions .table-wrap").focus()  # scrollable, so reachable by keyboard
    check_page(page, "request-sessions")
    _sessions(exchange, "Established", "")
    expect(sessions).not_to_contain_text("Connection refused", timeout=20_000)

    at = dt.datetime.now(dt.UTC)
    with exchange.core.uow_factory() as uow:
        uow.observations.record_controller(
            ControllerObservation(
                at,
                (
                    ObservedCheck("controller_reachable", True, "answers as a1b2c3d4e5"),
                    ObservedCheck(
                        "networks_present", False, "network a1b2c3d4e5000001 is missing",
                        "run `ztix controller reconcile`",
                    ),
                ),
            )
        )  # fmt: skip
        for action, meta in (
            ("controller.backup_created", {"archive": "zt-1.tar.gz", "files": 4, "bytes": 2048}),
            ("controller.drill_passed", {"archive": "zt-1.tar.gz", "summary": "passed",
                                         "readiness": {"ready": True}, "reconcile": {"ok": True},
                                         "controller_kind": "emulator"}),
        ):  # fmt: skip
            event = AuditEvent(
                new_id(), at, "system:controller-lifecycle", action, "controller",
                "self_hosted_controller", meta,
            )  # fmt: skip
            uow.audit.append(event)
        uow.commit()
    admin_context = chromium.new_context()
    admin = sign_in(admin_context, url, "admin")
    follow(admin, "Controller", "/admin/controller")
    expect(admin.get_by_role("heading", name="Controller", level=1)).to_be_visible()
    expect(admin.locator("main")).to_contain_text("not ready")
    expect(admin.locator("main")).to_contain_text("run `ztix controller reconcile`")
    check_page(admin, "controller")
    _sessions(exchange, "Established", "")  # a fresh reading (an old one is called stale)
    follow(admin, "Route servers", "/admin/route-servers")
    expect(admin.locator("main")).to_contain_text("unreachable")
    expect(admin.locator("main")).not_to_contain_text("stale")
    check_page(admin, "route-servers-live")
    admin.goto(f"{url}/admin/requests/{request.id}")
    expect(admin.locator("#sessions")).to_contain_text("Established")
    check_page(admin, "admin-request-sessions")
    operator.close()
    admin_context.close()


def test_looking_glass_refresh_polls_until_the_reading_lands(
    exchange: Exchange, chromium: Browser
) -> None:
    url = exchange.url
    with exchange.core.uow_factory() as uow:
        alice = uow.users.get_by_username("alice")
        admin_user = uow.users.get_by_username("admin")
    assert alice is not None and admin_user is not None
    request = exchange.core.workflow.submit(alice.id, 64500, b.network(1).id, "c1b2c3d4e5")
    exchange.core.workflow.approve(Actor.user(admin_user), request.id)
    assert exchange.work(str(request.id)) is RequestStatus.ACTIVE

    context = chromium.new_context()
    page = sign_in(context, url, "alice")
    page.goto(f"{url}/requests/{request.id}/looking-glass")
    glass = page.locator("#looking-glass")
    expect(glass).to_contain_text("No reading yet")
    check_page(page, "looking-glass-empty")
    page.get_by_role("button", name="Refresh").click()  # HTMX, with the CSRF header
    expect(glass).to_contain_text("Reading the route servers")
    expect(page.get_by_role("button", name="Refresh")).to_be_disabled()
    exchange.fleet.filtered[64500] = (
        FilteredRoute("45.66.0.0/24", "AS64500_v4", ("RPKI invalid",), (13,), "invalid", "64500"),
        FilteredRoute("10.10.0.0/16", "AS64500_v4", ("bogon prefix",), (3,), "", "64500"),
    )
    # the worker's part: the reading lands, and the page picks it up by itself
    LookingGlass(exchange.core.uow_factory, exchange.core.clock, exchange.fleet).run(Asn(64500))
    expect(glass).to_contain_text("RPKI invalid", timeout=20_000)
    expect(glass).to_contain_text("bogon prefix")
    expect(glass).to_contain_text("As of")
    expect(page.get_by_role("button", name="Refresh")).to_be_enabled()
    check_page(page, "looking-glass")
    context.close()
