"""End to end in a real browser: Playwright driving Debian's chromium against the whole
exchange — the lab's PostgreSQL, Redis, ZeroTier controller emulator, two BIRD 2 route
servers over sshd and ``ztix worker`` — with the web served as production serves it
(``ztix web``: gunicorn in its own process, the lab's settings, ``[web] dev = true`` for
plain-http cookies).

Accounts are made with the ``ztix user`` command. The operator signs in, onboards and
submits; the admin decides in a second browser context; the operator's page moves by
itself (HTMX polling — the test never reloads it) and BIRD is asked what it really runs.
Every page is checked with axe-core (no serious or critical violation) and photographed at
375 and 1280 px into ``artifacts/screenshots/e2e`` (``$ZTIX_SCREENSHOT_DIR/e2e`` when set).
Without chromium or a lab service these tests fail; they never skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import attrs
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from ztix_core.records import Membership
from ztix_core.status import RequestStatus as S
from ztix_core.values import NodeId
from ztix_web.testing import PageCheck, follow, launch_chromium, screenshot_dir, sign_in
from ztix_worker.lab import ExchangeLab
from ztix_worker.testing import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
check = PageCheck(
    ROOT / "packages" / "ztix-web" / "tests" / "browser" / "axe.min.js",
    screenshot_dir(ROOT / "artifacts" / "screenshots", "e2e"),
)
PASSWORD = "a long enough passphrase"
#: One operator per test, each with an ASN of its own (none a bogon: the lab's BIRD policy
#: refuses documentation and private ASNs) and a node of its own, so that the tests share
#: one exchange without seeing each other's requests.
OPERATORS = {
    "alice": (21000, "c1d2e3f4a5"),
    "bob": (21001, "c1d2e3f4b6"),
    "carol": (21002, "c1d2e3f4c7"),
}
#: How long a page may take to show what the worker did (ms): generous, CI machines are
#: loaded; the waits end as soon as the page shows it.
WORKER_MS = 120_000
#: How long a page may take to show what a click did (ms): the web, the database and the
#: browser share a loaded machine with the lab (Playwright's 5 s default was seen to run out
#: there).
PAGE_MS = 30_000
WEB_TABLE = "\n[web]\ndev = true\npoll_interval_s = 1\n"


def ztix(env: Mapping[str, str], *commands: tuple[Sequence[str], str]) -> None:
    """Run ``ztix`` commands, each ``(argv, stdin)``, side by side as an admin would type
    them in several shells; AssertionError naming the first that failed."""
    running = [
        (
            argv,
            stdin,
            subprocess.Popen(
                [sys.executable, "-m", "ztix_core.cli", *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **env},
            ),
        )
        for argv, stdin in commands
    ]
    for argv, stdin, proc in running:
        _, err = proc.communicate(stdin, timeout=120)
        assert proc.returncode == 0, f"ztix {' '.join(argv)}: {err}"


class Web:
    """``ztix web --bind 127.0.0.1:PORT`` (gunicorn, its default workers and threads) on the
    lab's settings, in its own process group; its output goes to ``web.log`` in the lab's
    work directory."""

    def __init__(self, lab: ExchangeLab) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = lab.workdir / "web.log"
        self._log: TextIO = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ztix_core.cli", "web", "--bind", f"127.0.0.1:{port}"],
            env={**os.environ, **lab.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Until the sign-in page answers 200 (AssertionError when the server exits)."""
        wait_for(self._answers, timeout=90, interval=0.1, what=f"ztix web on {self.url}")

    def _answers(self) -> bool:
        code = self.proc.poll()
        assert code is None, f"ztix web exited ({code}): {self.log_path.read_text()}"
        try:
            with urllib.request.urlopen(f"{self.url}/login", timeout=5) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


@attrs.frozen
class Exchange:
    """The shared exchange: the lab and the web's address."""

    lab: ExchangeLab
    url: str


@pytest.fixture(scope="module")
def exchange() -> Iterator[Exchange]:
    """The lab with an admin and the operators of :data:`OPERATORS` made with ``ztix
    user``, one ``ztix worker`` and ``ztix web``; shared by this module's tests.

    The reconciler's passes are an hour apart (the first an hour after start): the failure test
    needs a failed request to stay failed until the admin's Retry (see there); the other
    tests do not need the reconciler, which only recovers what fell through the cracks.
    """
    # observations (BGP sessions, controller readiness) every 2 s instead of 30 s, so the
    # pages show them soon
    settings = {"reconcile_interval_s": 3600.0, "observe_interval_s": 2.0}
    with ExchangeLab(worker_settings=settings) as lab:
        with lab.config.open("a") as config:
            config.write(WEB_TABLE)
        web = Web(lab)  # starts while the accounts are made
        try:
            ztix(
                lab.env,
                (["user", "create", "admin", "--admin", "--password-stdin"], PASSWORD),
                *((["user", "create", name, "--password-stdin"], PASSWORD) for name in OPERATORS),
            )
            ztix(
                lab.env,
                *(
                    (["user", "link-asn", name, str(asn), "--network-name", f"{name} net"], "")
                    for name, (asn, _) in OPERATORS.items()
                ),
            )
            lab.worker()
            web.wait_ready()
            yield Exchange(lab, web.url)
        finally:
            web.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """The browser; meanwhile every ``expect`` waits up to :data:`PAGE_MS` by default."""
    expect.set_options(timeout=PAGE_MS)
    try:
        with launch_chromium() as browser:
            yield browser
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default


def status(page: Page) -> Locator:
    """The request's status badge (in the part of the page that refreshes itself)."""
    return page.locator("#live-h .status")


def server_row(page: Page, server: str) -> Locator:
    """The row of ``server`` in the request's route-server table (the one that says what
    each server applied for this member)."""
    table = page.locator("#live table", has=page.get_by_role("columnheader", name="This member"))
    return table.locator("tr", has=page.get_by_text(server, exact=True))


def mark_document(page: Page) -> None:
    """Tag the loaded document, so :func:`same_document` can prove no reload happened."""
    page.evaluate("window.ztixNotReloaded = true")


def same_document(page: Page) -> bool:
    return bool(page.evaluate("window.ztixNotReloaded === true"))


def submit(page: Page, url: str, node_id: str) -> uuid.UUID:
    """The operator onboards (checking the onboarding page) and submits; the request id."""
    page.goto(f"{url}/dashboard")
    follow(page, "Join the exchange", "/onboarding")
    node = page.get_by_label("ZeroTier node id")
    node.fill("12")
    expect(page.locator("#node_id-check")).to_contain_text("Not valid")
    node.fill(node_id)
    expect(page.locator("#node_id-check")).to_contain_text("Looks right")
    check(page, "onboarding")
    page.get_by_role("button", name="Send the request").click()
    expect(status(page)).to_have_text("pending")
    return uuid.UUID(page.url.rsplit("/", 1)[1])


def open_as_admin(context: BrowserContext, url: str, request_id: uuid.UUID) -> Page:
    """The admin signs in, opens the queue and the request from it."""
    admin = sign_in(context, url, "admin", PASSWORD, check)
    follow(admin, "Admin queue", "/admin/requests")
    check(admin, "admin-queue")
    admin.get_by_role("link", name=str(request_id)[:8]).click()
    expect(admin).to_have_url(re.compile(f"/admin/requests/{request_id}$"))
    expect(status(admin)).to_have_text("pending")
    return admin


def membership(lab: ExchangeLab, request_id: uuid.UUID) -> Membership:
    with lab.app.uow_factory() as uow:
        found = uow.memberships.get_for_request(request_id)
    assert found is not None
    return found


def test_journey_to_active_on_bird_then_leave(exchange: Exchange, chromium: Browser) -> None:
    lab, url = exchange.lab, exchange.url
    asn, node_id = OPERATORS["alice"]
    visitor = chromium.new_context()
    landing = visitor.new_page()
    landing.goto(url)
    check(landing, "landing")
    visitor.close()

    operator = chromium.new_context()
    page = sign_in(operator, url, "alice", PASSWORD, check)
    check(page, "dashboard-empty")
    request_id = submit(page, url, node_id)
    check(page, "request-pending")
    mark_document(page)

    admin_context = chromium.new_context()
    admin = open_as_admin(admin_context, url, request_id)
    check(admin, "admin-request-pending")
    admin.get_by_role("button", name="Approve").click()
    # the worker may have moved it on already
    expect(status(admin)).to_have_text(re.compile(r"^(approved|provisioning|active)$"))

    # The operator's page turns active by itself, with what the worker really did.
    expect(status(page)).to_have_text("active", timeout=WORKER_MS)
    assert same_document(page), "the page was reloaded"
    held = membership(lab, request_id)
    live = page.locator("#live")
    expect(live).to_contain_text(f"IPv4: {held.ipv4}")
    expect(live).to_contain_text(f"IPv6: {held.ipv6}")
    for server in ("rs1", "rs2"):
        expect(server_row(page, server)).to_contain_text("applied")
    expect(live).not_to_have_attribute("hx-trigger", re.compile("every"))  # polling ends
    check(page, "request-active-live")
    for server in ("rs1", "rs2"):  # birdc show protocols on the running daemons
        assert asn in lab.peers_on(server), server
    member = lab.provider.read_member(lab.network_id, NodeId(node_id))
    assert member is not None and member.authorized
    # The BGP sessions as the worker reads them from the running BIRDs: the member's
    # protocols on both route servers (the table refreshes by itself, the page stays).
    sessions = page.locator("#sessions tbody tr")
    for family in (4, 6):
        protocol = sessions.filter(has_text=f"AS{asn}_v{family}")
        expect(protocol).to_have_count(2, timeout=WORKER_MS)
        for server in ("rs1", "rs2"):
            expect(protocol.filter(has=page.get_by_text(server, exact=True))).to_have_count(1)
    assert same_document(page), "the page was reloaded"
    check(page, "request-active-sessions")

    expect(status(admin)).to_have_text("active", timeout=WORKER_MS)  # by itself too
    check(admin, "admin-request-active")
    follow(admin, "Audit log", "/admin/audit")
    check(admin, "audit")
    follow(admin, "Route servers", "/admin/route-servers")
    expect(admin.locator("main")).to_contain_text("in sync")
    check(admin, "route-servers")
    follow(admin, "Controller", "/admin/controller")
    expect(admin.get_by_role("heading", name="Controller", level=1)).to_be_visible()
    check(admin, "controller")
    follow(page, "Dashboard", "/dashboard")
    expect(page.locator("main")).to_contain_text("active")
    check(page, "dashboard")

    # Leave: from the request page as the operator opens it again.
    page.get_by_role("link", name=str(request_id)[:8]).click()
    expect(page).to_have_url(re.compile(f"/requests/{request_id}$"))
    check(page, "request-active")
    page.get_by_label(re.compile("^I understand")).check()
    page.get_by_role("button", name="Leave the exchange").click()
    expect(status(page)).to_have_text(re.compile(r"^(deprovisioning|removed)$"))
    mark_document(page)
    expect(status(page)).to_have_text("removed", timeout=WORKER_MS)
    assert same_document(page), "the page was reloaded"
    expect(page.locator("#live")).to_contain_text("None assigned yet.")
    check(page, "request-removed")
    for server in ("rs1", "rs2"):
        assert asn not in lab.peers_on(server), server
    member = lab.provider.read_member(lab.network_id, NodeId(node_id))
    assert member is None or not member.authorized

    follow(page, re.compile("^Sign out"), "/logout")
    check(page, "sign-out")
    page.get_by_role("button", name="Sign out").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto(f"{url}/requests/{request_id}")
    expect(page).to_have_url(re.compile("/login"))  # the session is over
    operator.close()
    admin_context.close()


def test_reject_with_a_reason_the_operator_sees(exchange: Exchange, chromium: Browser) -> None:
    lab, url = exchange.lab, exchange.url
    asn, node_id = OPERATORS["bob"]
    reason = f"No PeeringDB record for AS{asn}"
    operator = chromium.new_context()
    page = sign_in(operator, url, "bob", PASSWORD)
    request_id = submit(page, url, node_id)
    mark_document(page)
    admin_context = chromium.new_context()
    admin = open_as_admin(admin_context, url, request_id)
    admin.get_by_label("Reason for rejecting").fill(reason)
    admin.get_by_role("button", name="Reject").click()
    expect(status(admin)).to_have_text("rejected")
    check(admin, "admin-request-rejected")
    expect(status(page)).to_have_text("rejected", timeout=WORKER_MS)  # by itself
    expect(page.locator("#live")).to_contain_text(reason)
    assert same_document(page), "the page was reloaded"
    check(page, "request-rejected")
    page.goto(f"{url}/admin/requests")
    check(page, "error-403")
    assert lab.request(request_id).reject_reason == reason
    for server in ("rs1", "rs2"):
        assert asn not in lab.peers_on(server), server
    operator.close()
    admin_context.close()


def test_failure_shown_then_retried_after_the_repair(exchange: Exchange, chromium: Browser) -> None:
    # The fault: rs2's config directory is not writable by the SSH user, so its apply fails
    # at once at stage "lock" — a permanent failure, which the fleet does not retry — while
    # rs1 applies; the request fails naming rs2. Nothing but the admin's Retry may move it
    # on afterwards: the reconciler re-syncs a route server that is behind, and once rs2
    # applied it would settle the failed request to active by itself. The exchange's
    # reconciler passes are an hour apart (none runs during these tests), so the request
    # stays failed until Retry and the test knows that Retry made it active.
    lab, url = exchange.lab, exchange.url
    asn, node_id = OPERATORS["carol"]
    config_dir = Path(lab.daemons["rs2"].config_dir)
    mode = config_dir.stat().st_mode & 0o7777
    config_dir.chmod(mode & ~0o222)
    try:
        operator = chromium.new_context()
        page = sign_in(operator, url, "carol", PASSWORD)
        request_id = submit(page, url, node_id)
        mark_document(page)
        admin_context = chromium.new_context()
        admin = open_as_admin(admin_context, url, request_id)
        admin.get_by_role("button", name="Approve").click()

        expect(status(page)).to_have_text("failed", timeout=WORKER_MS)  # by itself
        assert same_document(page), "the page was reloaded"
        live = page.locator("#live")
        expect(live).to_contain_text("route server rs2")
        expect(live).to_contain_text("cannot take the lock")
        expect(server_row(page, "rs1")).to_contain_text("applied")
        expect(server_row(page, "rs2")).to_contain_text("failing")
        check(page, "request-failed")
        assert asn in lab.peers_on("rs1")
        assert asn not in lab.peers_on("rs2")

        admin.reload()  # the admin comes back to the request to decide
        expect(status(admin)).to_have_text("failed")
        check(admin, "admin-request-failed")
        follow(admin, "Route servers", "/admin/route-servers")
        expect(admin.locator("main")).to_contain_text("behind")
        check(admin, "route-servers-behind")
        assert lab.request(request_id).status is S.FAILED  # nothing retried it by itself
    finally:
        config_dir.chmod(mode)  # repaired

    admin.go_back()
    expect(admin).to_have_url(re.compile(f"/admin/requests/{request_id}$"))
    admin.get_by_role("button", name="Retry provisioning").click()
    expect(status(admin)).to_have_text("active", timeout=WORKER_MS)
    check(admin, "admin-request-retried")
    page.reload()  # a failed page stops polling; the operator comes back
    expect(status(page)).to_have_text("active", timeout=WORKER_MS)
    for server in ("rs1", "rs2"):
        expect(server_row(page, server)).to_contain_text("applied")
    check(page, "request-retried")
    for server in ("rs1", "rs2"):
        assert asn in lab.peers_on(server), server
    actions = lab.actions(request_id)
    assert actions.count("request.failed") == 1, actions
    assert actions.count("request.approved") == 2, actions  # approve, then Retry
    assert actions.count("request.active") == 1, actions
    operator.close()
    admin_context.close()
