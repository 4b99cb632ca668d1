"""A brief route-server outage is waited out: transient failures (BIRD restarting, sshd
down, a dropped connection) are retried with back-off for a bounded time.

Real BIRD daemons and a real sshd on 127.0.0.1; the outage ends when the fleet's log
says it is about to retry (evidence, not a timer).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ztix_adapters_bird.fleet import BirdFleet, default_transport
from ztix_adapters_bird.render import protocol_names, render_server
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.testing import (
    TEST_USER,
    BirdDaemon,
    BirdLab,
    SshServer,
    bird_lab,
    simple_config,
)
from ztix_adapters_bird.transport import Transport
from ztix_core.errors import SettingsError
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird]

NET = NetworkId("8056c2e21c000001")


def peers(n: int) -> list[PeerSpec]:
    return [
        PeerSpec(
            Asn(200000 + i),
            ipaddress.IPv4Address(f"100.64.0.{i + 10}"),
            ipaddress.IPv6Address(f"fd64::{i + 10:x}"),
            100,
            50,
            f"member {i}",
            NET,
        )
        for i in range(n)
    ]


@pytest.fixture
def own_sshd() -> Iterator[SshServer]:
    """An sshd of this test alone (the tests stop and restart it)."""
    with bird_lab() as lab:
        yield lab.sshd()


def server_for(d: BirdDaemon, sshd: SshServer) -> RouteServerSettings:
    return RouteServerSettings(
        "rs1",
        Asn(64999),
        ipaddress.IPv4Address("10.0.0.1"),
        transport="ssh",
        ssh=sshd.target(connect_timeout_s=2.0),
        paths=d.paths(),
        policy=PolicyKnobs(confirm_timeout_s=30),
    )


def fleet_for(
    srv: RouteServerSettings,
    *,
    retry_for_s: float = 180.0,
    before_command: Callable[[tuple[str, ...]], None] | None = None,
) -> BirdFleet:
    def factory(server: RouteServerSettings) -> Transport:
        def hook(_desc: str, argv: tuple[str, ...]) -> None:
            if before_command is not None:
                before_command(argv)

        return default_transport(server, hook=hook)

    settings = BirdSettings(
        (srv,), retry_for_s=retry_for_s, retry_initial_backoff_s=0.2, retry_max_backoff_s=1.0
    )
    return BirdFleet(settings, transport_factory=factory)


class OnRetry(logging.Handler):
    """Runs ``action`` when the fleet logs its first "retrying" line."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.action = action
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if len(self.messages) == 1:
            self.action()


@pytest.fixture
def on_retry() -> Iterator[Callable[[Callable[[], None]], OnRetry]]:
    logger = logging.getLogger("ztix_adapters_bird.fleet")
    handlers: list[OnRetry] = []

    def install(action: Callable[[], None]) -> OnRetry:
        handlers.append(OnRetry(action))
        logger.addHandler(handlers[-1])
        return handlers[-1]

    yield install
    for h in handlers:
        logger.removeHandler(h)


def running_protocols(d: BirdDaemon) -> set[str]:
    out = set()
    for line in d.birdc("show", "protocols").splitlines():
        text = line[5:] if line[:4].isdigit() else line
        if line.startswith(("1002-", " ")) and text.strip():
            out.add(text.split()[0])
    return out


#: What a successful apply leaves in config_dir besides the staging mirror: the manifest,
#: the files' listing and BIRD's times after ztix's configure.
RECORDS = {".ztix-applied", ".ztix-stat", ".ztix-configured"}


def dot_entries(d: BirdDaemon) -> set[str]:
    return {p.name for p in d.config_dir.iterdir() if p.name.startswith(".")}


def test_bird_down_before_an_apply_is_waited_out(
    lab: BirdLab, own_sshd: SshServer, on_retry: Callable[[Callable[[], None]], OnRetry]
) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    srv = server_for(d, own_sshd)
    fleet = fleet_for(srv)
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        d.stop()
        seen = on_retry(d.start)  # BIRD is back once the first failure was seen
        out = fleet.apply(peers(2))[0]
        assert out.result == "applied", out
        assert out.retried and out.retried[0].startswith("check: ")
        assert "Unable to connect to server control socket" in out.retried[0]
        assert not out.transient
        assert len(seen.messages) == len(out.retried)
        assert d.files() == render_server(srv, peers(2))
        assert set(protocol_names(peers(2))) <= running_protocols(d)
    finally:
        fleet.close()


def test_bird_dying_in_the_middle_of_the_commit_is_rolled_back_and_retried(
    lab: BirdLab, own_sshd: SshServer, on_retry: Callable[[Callable[[], None]], OnRetry]
) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    srv = server_for(d, own_sshd)
    restored: list[dict[str, bytes]] = []
    commits: list[int] = []

    def before_command(argv: tuple[str, ...]) -> None:
        # the commit script (swap → configure → ...) is the first `sh -s` of an apply
        if argv == ("sh", "-s") and not commits:
            commits.append(1)
            d.stop()

    fleet = fleet_for(srv, before_command=before_command)
    try:
        before = d.files()

        def back() -> None:
            restored.append(d.files())  # what the failed attempt left: the old files
            d.start()

        on_retry(back)
        out = fleet.apply(peers(2))[0]
        assert out.result == "applied", out
        assert [r.split(":")[0] for r in out.retried] == ["configure"], out.retried
        assert "Unable to connect to server control socket" in out.retried[0]
        assert restored == [before]
        assert d.files() == render_server(srv, peers(2))
        assert dot_entries(d) == {*RECORDS, ".staging"}
        assert set(protocol_names(peers(2))) <= running_protocols(d)
    finally:
        fleet.close()


def test_sshd_down_before_an_apply_is_waited_out(
    lab: BirdLab, own_sshd: SshServer, on_retry: Callable[[Callable[[], None]], OnRetry]
) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    srv = server_for(d, own_sshd)
    fleet = fleet_for(srv)
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        own_sshd.stop()
        fleet.close()  # a new connection is needed: the old one went with sshd
        on_retry(own_sshd.restart)
        out = fleet.apply(peers(2))[0]
        assert out.result == "applied", out
        assert out.retried and out.retried[0].startswith("connect: ")
        assert d.files() == render_server(srv, peers(2))
    finally:
        fleet.close()


def test_a_server_down_past_the_bound_fails_as_transient(lab: BirdLab, own_sshd: SshServer) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    srv = server_for(d, own_sshd)
    fleet = fleet_for(srv, retry_for_s=1.0)
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        before = d.files()
        d.stop()
        started = time.monotonic()
        out = fleet.apply(peers(2))[0]
        assert (out.result, out.stage, out.transient) == ("failed", "check", True), out
        assert "Unable to connect to server control socket" in out.message
        assert len(out.retried) >= 1
        assert all(r.startswith("check: ") for r in out.retried)
        assert time.monotonic() - started >= 1.0  # retried until the bound, not less
        assert d.files() == before
        assert dot_entries(d) == RECORDS  # lock released, staging removed
    finally:
        fleet.close()


def test_permanent_failures_are_not_retried(lab: BirdLab, own_sshd: SshServer) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    srv = server_for(d, own_sshd)
    fleet = fleet_for(srv)
    try:
        bad = dict(render_server(srv, peers(1)))
        bad["peers/AS200000.conf"] = b"protocol bgp AS200000_v4 from ztix_client_v4 {\n"
        from ztix_adapters_bird.render import config_digest

        out = fleet.apply_config("rs1", bad, config_digest(bad))
        assert (out.result, out.stage, out.transient, out.retried) == ("failed", "parse", False, ())
        wrong = RouteServerSettings(
            "rs1",
            srv.asn,
            srv.router_id,
            ssh=own_sshd.target(known_hosts=str(own_sshd.wrong_known_hosts())),
            paths=srv.paths,
        )
        other = fleet_for(wrong)
        try:
            out = other.apply(peers(1))[0]
            assert (out.stage, out.transient, out.retried) == ("connect", False, ())
            assert "host key" in out.message
        finally:
            other.close()
    finally:
        fleet.close()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"retry_for_s": -1.0}, "bird.retry_for_s"),
        ({"retry_initial_backoff_s": 0.0}, "bird.retry_initial_backoff_s"),
        ({"retry_initial_backoff_s": 5.0, "retry_max_backoff_s": 1.0}, "bird.retry_max_backoff_s"),
        ({"looking_glass_max_routes": 0}, "bird.looking_glass_max_routes"),
        ({"looking_glass_max_routes": 10_001}, "bird.looking_glass_max_routes"),
        ({"looking_glass_timeout_s": 0.5}, "bird.looking_glass_timeout_s"),
    ],
)
def test_bad_retry_settings_name_the_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as err:
        BirdFleet(BirdSettings((), **values))
    assert err.value.setting == key
