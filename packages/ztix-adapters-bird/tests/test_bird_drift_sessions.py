"""Route-server drift on a route server with real BGP sessions (network-namespace lab):
a hand-edited peer file, a deleted peer file, an extra file, a protocol added through
``birdc configure`` of another file, and BIRD restarted on another config are each
detected by the core's drift check, audited, and repaired through the ordinary sync (or
only reported without ``repair``) — and the sessions of the members whose config did not
drift keep their ``Since`` (no flap) across detection and repair."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import Announcement, Bird, Lab, flapped, member_config, wait_until
from ztix_adapters_bird.render import protocol_name
from ztix_adapters_bird.settings import BirdSettings, RemotePaths, RouteServerSettings
from ztix_core.memory import InMemoryStore
from ztix_core.memory.clock import SystemClock
from ztix_core.memory.provider import InMemoryProvider
from ztix_core.memory.registry import InMemoryRegistry
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.usecases import Provisioner, check_route_servers
from ztix_core.usecases.route_server_drift import DriftCheck
from ztix_core.values import Asn

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS = 65000
MEMBERS = {100: 11, 200: 12, 300: 13}  # ASN -> host part of its addresses
EDITED = 200  # the member whose peer file the tests drift


@attrs.define
class Env:
    lab: Lab
    workdir: Path
    rs: Bird
    server: RouteServerSettings
    fleet: BirdFleet
    store: InMemoryStore
    provisioner: Provisioner

    @property
    def config_dir(self) -> Path:
        return Path(self.server.paths.config_dir)

    def restart_rs(self, main: Path) -> None:
        """Stop the route server's BIRD and start it again on ``main``."""
        self.rs.process.terminate()
        self.rs.process.wait(timeout=10)
        self.rs = self.lab.start_bird(self.lab.nodes["rs"], main)


def names(asns: list[int]) -> list[str]:
    return [protocol_name(a, f) for a in asns for f in (4, 6)]


def established(env: Env, asns: list[int]) -> dict[str, str]:
    """Every session of ``asns`` Established, by protocol name -> Since."""
    out = {}
    for name in names(asns):
        state, since, info = env.rs.protocol(name)
        assert (state, info) == ("up", "Established"), (name, state, info)
        out[name] = since
    return out


def kept(env: Env, before: dict[str, str]) -> None:
    """Every session is still Established with the Since it had before: no flap."""
    moved = flapped(before, established(env, list(MEMBERS)))
    assert not moved, f"sessions flapped: {moved}"


def settled(env: Env) -> dict[str, str]:
    """Wait until every session is Established with the same Since twice in a row."""
    seen: list[dict[str, str]] = []

    def probe() -> dict[str, str]:
        now = established(env, list(MEMBERS))
        seen.append(now)
        assert len(seen) > 1 and seen[-2] == now, "sessions not settled yet"
        return now

    return wait_until(probe, 90, "every member's sessions", interval=0.5)


def events(env: Env) -> list[tuple[str, dict[str, object]]]:
    with env.store() as uow:
        return [(e.action, e.metadata) for e in uow.audit.for_target("route_server", "rs")]


def drift_of(env: Env) -> str | None:
    with env.store() as uow:
        state = uow.route_servers.get("rs")
        assert state is not None
        return state.drift


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("drift")
    config_dir = work / "rs"
    config_dir.mkdir()
    (config_dir / "peers").mkdir()
    with Lab(work / "lab") as lab:
        node = lab.add_node("rs", "10.79.0.1/24", "fd79::1/64")
        server = RouteServerSettings(
            name="rs",
            asn=Asn(RS),
            router_id=ipaddress.IPv4Address("10.79.0.1"),
            ipv4=ipaddress.IPv4Address("10.79.0.1"),
            ipv6=ipaddress.IPv6Address("fd79::1"),
            transport="local",
            paths=RemotePaths(
                config_dir=str(config_dir),
                main_config=str(config_dir / "bird.conf"),
                control_socket=str(lab.workdir / "rs.ctl"),
                log_file=str(work / "rs.log"),
            ),
        )
        # a first config by hand so that BIRD can start; the first sync replaces it
        (config_dir / "bird.conf").write_text("router id 10.79.0.1;\nprotocol device {}\n")
        rs = lab.start_bird(node, config_dir / "bird.conf")
        fleet = BirdFleet(BirdSettings((server,), retry_for_s=0))
        store = InMemoryStore()
        provisioner = Provisioner(
            store, SystemClock(), InMemoryProvider(), fleet, InMemoryRegistry()
        )
        seed(store)
        environment = Env(lab, work, rs, server, fleet, store, provisioner)
        try:
            first = provisioner.sync_route_servers()
            assert [o.result for o in first.outcomes] == ["applied"], first
            for asn, host in MEMBERS.items():
                start_member(lab, asn, host, work)
            settled(environment)
            yield environment
        finally:
            fleet.close()


def seed(store: InMemoryStore) -> None:
    """Three active members on one network."""
    user, network = b.user("ops"), b.network()
    with store() as uow:
        uow.users.add(user)
        uow.networks.add(network)
        for i, (asn, host) in enumerate(MEMBERS.items()):
            req = b.request(
                user.id, network.id, asn, node=f"abcdef00{i:02d}", status=RequestStatus.ACTIVE
            )
            uow.requests.add(req)
            uow.memberships.add(
                b.membership(req, f"10.79.0.{host}", f"fd79::{host}", authorized=True)
            )
        uow.commit()


def start_member(lab: Lab, asn: int, host: int, work: Path) -> Bird:
    role = f"m{asn}"
    node = lab.add_node(role, f"10.79.0.{host}/24", f"fd79::{host}/64")
    conf = work / f"{role}.conf"
    conf.write_text(
        member_config(
            asn=asn,
            router_id=f"10.79.0.{host}",
            ipv4=f"10.79.0.{host}",
            ipv6=f"fd79::{host}",
            rs_asn=RS,
            rs_ipv4="10.79.0.1",
            rs_ipv6="fd79::1",
            announcements=[Announcement(f"45.{asn // 100}.0.0/24")],
            log_file=work / f"{role}.log",
        )
    )
    return lab.start_bird(node, conf)


def report_then_repair(env: Env) -> tuple[DriftCheck, DriftCheck]:
    """Check without repair (nothing may change), then with repair."""
    files_before = sorted(p.name for p in (env.config_dir / "peers").iterdir())
    reported = check_route_servers(env.provisioner)
    assert reported.drifted == ("rs",), reported
    assert reported.repairs == ()
    assert sorted(p.name for p in (env.config_dir / "peers").iterdir()) == files_before
    assert drift_of(env) == reported.found[0].summary()
    repaired = check_route_servers(env.provisioner, repair=True)
    assert [o.result for o in repaired.repairs] == ["applied"], repaired.repairs
    assert [d.drifted for d in repaired.after] == [False], repaired.after
    assert drift_of(env) is None
    actions = [a for a, _ in events(env)]
    assert actions[-4:] == [
        "route_server.drift",
        "route_server.applied",
        "route_server.repaired",
        "route_server.drift_cleared",
    ], actions
    return reported, repaired


def test_in_sync_after_the_first_sync(env: Env) -> None:
    check = check_route_servers(env.provisioner, repair=True)
    assert check.found[0].error == "" and check.drifted == (), check.found


def test_hand_edited_peer_file(env: Env) -> None:
    before = settled(env)
    peer_file = env.config_dir / "peers" / f"AS{EDITED}.conf"
    wanted = peer_file.read_bytes()
    peer_file.write_bytes(wanted.replace(b"import limit", b"import limit 1 # "))
    reported, _ = report_then_repair(env)
    found = reported.found[0]
    assert [(f.name, f.problem) for f in found.files] == [(f"peers/AS{EDITED}.conf", "changed")]
    assert not (found.missing_protocols or found.extra_protocols or found.reconfigured)
    drift_event = [m for a, m in events(env) if a == "route_server.drift"][-1]
    assert b"import limit" not in repr(drift_event).encode()  # names and digests only
    assert peer_file.read_bytes() == wanted
    kept(env, before)  # nobody flapped


def test_deleted_peer_file(env: Env) -> None:
    before = settled(env)
    peer_file = env.config_dir / "peers" / f"AS{EDITED}.conf"
    wanted = peer_file.read_bytes()
    peer_file.unlink()
    reported, _ = report_then_repair(env)
    assert [(f.name, f.problem) for f in reported.found[0].files] == [
        (f"peers/AS{EDITED}.conf", "missing")
    ]
    assert peer_file.read_bytes() == wanted
    kept(env, before)


def test_extra_file(env: Env) -> None:
    before = settled(env)
    extra = env.config_dir / "peers" / "AS64999.conf"
    extra.write_text("# a peer someone meant to add by hand\n")
    reported, _ = report_then_repair(env)
    assert [(f.name, f.problem) for f in reported.found[0].files] == [
        ("peers/AS64999.conf", "extra")
    ]
    assert not extra.exists()
    kept(env, before)


def other_config(env: Env) -> Path:
    """A main file that is not ztix's: ztix's config plus a protocol of its own."""
    other = env.workdir / "other.conf"
    other.write_text(
        f'include "{env.config_dir}/bird.conf";\nprotocol static hand_made {{ ipv4; }}\n'
    )
    return other


def test_protocol_added_with_birdc(env: Env) -> None:
    before = settled(env)
    reply = env.rs.cmd("configure", f'"{other_config(env)}"')
    assert "Reconfigured" in reply, reply
    reported, _ = report_then_repair(env)
    found = reported.found[0]
    assert found.files == () and found.extra_protocols == ("hand_made",)
    assert found.reconfigured.startswith("BIRD was restarted or reconfigured outside ztix")
    assert "hand_made" not in env.rs.cmd("show", "protocols")
    kept(env, before)


def test_bird_restarted_with_another_config(env: Env) -> None:
    env.restart_rs(other_config(env))
    before = settled(env)  # the restart itself resets every session, once
    reported, _ = report_then_repair(env)
    found = reported.found[0]
    assert found.files == () and found.extra_protocols == ("hand_made",)
    assert "Last reboot on" in found.reconfigured
    assert "hand_made" not in env.rs.cmd("show", "protocols")
    kept(env, before)
    # the repair configured ztix's main file by name (the daemon still defaults to the file
    # it was started with); its times are recorded, so the next check finds nothing
    again = check_route_servers(env.provisioner)
    assert again.drifted == ()
