"""Safe apply against real BIRD daemons over a real key-only sshd on 127.0.0.1.

Every test starts its own BIRD (as user bird, config dir owned by the SSH account, group
bird) and checks the files on disk and the daemon's running protocols, not just outcomes.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import pytest

from ztix_adapters_bird import apply as apply_mod
from ztix_adapters_bird.apply import ApplyOptions
from ztix_adapters_bird.faults import DyingApply
from ztix_adapters_bird.fleet import BirdFleet, default_transport
from ztix_adapters_bird.render import config_digest, protocol_names, render_server
from ztix_adapters_bird.settings import (
    BirdSettings,
    PolicyKnobs,
    RemotePaths,
    RouteServerSettings,
)
from ztix_adapters_bird.testing import (
    TEST_USER,
    BirdDaemon,
    BirdLab,
    SshServer,
    free_port,
    read_files,
    simple_config,
)
from ztix_adapters_bird.transport import (
    CommandResult,
    LineSink,
    StreamResult,
    Transport,
    TransportError,
)
from ztix_core.errors import InvalidValue, SettingsError
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird]

NET = NetworkId("8056c2e21c000001")

Log = list[tuple[str, float, tuple[str, ...]]]


def peer(i: int) -> PeerSpec:
    return PeerSpec(
        Asn(200000 + i),
        ipaddress.IPv4Address(f"100.64.0.{i + 10}"),
        ipaddress.IPv6Address(f"fd64::{i + 10:x}"),
        100,
        50,
        f"member {i}",
        NET,
    )


def peers(n: int) -> list[PeerSpec]:
    return [peer(i) for i in range(n)]


def server_for(
    d: BirdDaemon, sshd: SshServer | None, name: str = "rs1", **ssh: object
) -> RouteServerSettings:
    return RouteServerSettings(
        name,
        Asn(64999),
        ipaddress.IPv4Address("10.0.0.1"),
        transport="ssh" if sshd else "local",
        ssh=sshd.target(**ssh) if sshd else None,
        paths=d.paths(),
        policy=PolicyKnobs(confirm_timeout_s=30),
    )


def fleet_for(
    *servers: RouteServerSettings,
    log: Log | None = None,
    options: ApplyOptions | None = None,
    retry_for_s: float = 180.0,
) -> BirdFleet:
    def factory(server: RouteServerSettings) -> Transport:
        def hook(_desc: str, argv: tuple[str, ...]) -> None:
            if log is not None:
                log.append((server.name, time.monotonic(), argv))

        return default_transport(server, hook=hook)

    settings = BirdSettings(tuple(servers), retry_for_s=retry_for_s, retry_initial_backoff_s=0.2)
    return BirdFleet(settings, transport_factory=factory, options=options)


def kind(argv: tuple[str, ...]) -> str:
    """A short name for a command the pipeline ran."""
    if argv[0] == "sh" and argv[1] == "-c":
        names = {
            apply_mod._PROBE: "probe",
            apply_mod._UPLOAD: "upload+parse+check",
            apply_mod._PROBE_UPLOAD: "probe+upload+parse+check",
        }
        return names.get(argv[2], "release")
    if argv[0] == "sh":
        return "script"
    return "birdc " + " ".join(argv[4:]).split(' "')[0]


#: One apply's round trips: probe (+lock), upload + bird -p + configure check, then swap +
#: configure timeout + health + confirm + finalize in one script.
APPLY_SEQUENCE = ["probe", "upload+parse+check", "script"]
#: The same when the fleet knows what the server has (its own last apply): the probe and
#: the upload prepared against that state travel together.
WARM_SEQUENCE = ["probe+upload+parse+check", "script"]


def kinds(log: Log, server: str | None = None) -> list[str]:
    return [kind(argv) for name, _, argv in log if server is None or name == server]


def started(lab: BirdLab, name: str = "rs1") -> BirdDaemon:
    """A running daemon with a config set written by hand (no manifest yet)."""
    d = lab.daemon(name, simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    return d


def inodes(d: BirdDaemon) -> dict[str, int]:
    return {name: os.stat(d.config_dir / name).st_ino for name in d.files()}


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


# --------------------------------------------------------------------------- success


def test_apply_over_ssh_adds_one_member_uploading_only_its_file(
    lab: BirdLab, sshd: SshServer
) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        first = fleet.apply(peers(2))
        assert [(o.server, o.result) for o in first] == [("rs1", "applied")], first
        assert d.files() == render_server(srv, peers(2))
        before = inodes(d)

        second = fleet.apply(peers(3))
        assert second[0].result == "applied", second
        assert second[0].digest == config_digest(render_server(srv, peers(3)))
        assert d.files() == render_server(srv, peers(3))
        after = inodes(d)
        # Files that did not change were not rewritten; only the new member's file is new.
        assert {n: after[n] for n in before} == before
        assert set(after) - set(before) == {"peers/AS200002.conf"}
        assert set(protocol_names(peers(3))) <= running_protocols(d)
        # Nothing of the pipeline is left behind but the manifest and the staging mirror.
        assert dot_entries(d) == {*RECORDS, ".staging"}
        staging = read_files(d.config_dir / ".staging")
        assert {n: v for n, v in staging.items() if not n.startswith(".")} == d.files()
        assert kinds(log)[:3] == APPLY_SEQUENCE  # the first apply: nothing known yet
        assert kinds(log)[-2:] == WARM_SEQUENCE
        # Removing a member deletes its file and its sessions.
        third = fleet.apply(peers(2))
        assert third[0].result == "applied"
        assert d.files() == render_server(srv, peers(2))
        assert "AS200002_v4" not in running_protocols(d)
        staging = read_files(d.config_dir / ".staging")
        assert {n: v for n, v in staging.items() if not n.startswith(".")} == d.files()
        # A mirror that does not match the live manifest is rebuilt, not trusted.
        (d.config_dir / ".staging" / "peers" / "AS200000.conf").unlink()
        (d.config_dir / ".staging" / ".ztix-mirror").write_text("ztix-applied v1 other\n")
        assert fleet.apply(peers(4))[0].result == "applied"
        assert d.files() == render_server(srv, peers(4))
    finally:
        fleet.close()


def test_unchanged_config_is_not_reconfigured(lab: BirdLab, sshd: SshServer) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        assert fleet.apply(peers(2))[0].result == "applied"
        time.sleep(0.5)  # BIRD stamps the reconfiguration when it has settled
        reconfigured = d.last_reconfiguration()
        log.clear()
        again = fleet.apply(peers(2))
        assert again[0].result == "unchanged"
        assert again[0].digest == config_digest(render_server(srv, peers(2)))
        assert d.last_reconfiguration() == reconfigured
        assert not [k for k in kinds(log) if k.startswith("birdc")]
        # The applied digest lives on the server: a new fleet (a restarted worker) agrees.
        other = fleet_for(srv)
        try:
            assert other.apply(peers(2))[0].result == "unchanged"
        finally:
            other.close()
    finally:
        fleet.close()


def test_local_transport_runs_the_same_sequence(lab: BirdLab, sshd: SshServer) -> None:
    over_ssh, local = started(lab, "rs1"), started(lab, "rs2")
    log: Log = []
    fleet = fleet_for(server_for(over_ssh, sshd, "rs1"), server_for(local, None, "rs2"), log=log)
    try:
        for n in (1, 2, 2):
            outcomes = fleet.apply(peers(n))
            assert [o.result for o in outcomes] == [outcomes[0].result] * 2, outcomes
        assert kinds(log, "rs1") == kinds(log, "rs2")
        assert kinds(log, "rs2") == [*APPLY_SEQUENCE, *WARM_SEQUENCE, "probe", "release"]
        srv_local = server_for(local, None, "rs2")
        assert local.files() == render_server(srv_local, peers(2))
    finally:
        fleet.close()


def test_a_config_without_named_protocols_applies(lab: BirdLab) -> None:
    # The health check expects nothing then (and must not invent expectations).
    d = lab.daemon("rs1", simple_config("10.0.0.1", {64601: "10.1.0.1"}), config_owner=TEST_USER)
    fleet = fleet_for(server_for(d, None))
    try:
        # (an empty peers/ must exist in staging too: the renderer ships peers/.keep)
        files = {**simple_config("10.0.0.1", {}), "peers/.keep": b""}
        out = fleet.apply_config("rs1", files, config_digest(files))
        assert out.result == "applied", out
        assert d.files() == files
        assert "AS64601_4" not in running_protocols(d)
    finally:
        fleet.close()


# --------------------------------------------------------------------------- refusals


def test_config_bird_rejects_never_becomes_active(lab: BirdLab, sshd: SshServer) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    fleet = fleet_for(srv)
    try:
        assert fleet.apply(peers(2))[0].result == "applied"
        files_before, protocols_before = d.files(), running_protocols(d)
        bad = dict(render_server(srv, peers(3)))
        bad["peers/AS200002.conf"] = b"protocol bgp AS200002_v4 from ztix_client_v4 {\n"
        out = fleet.apply_config("rs1", bad, config_digest(bad))
        assert (out.result, out.stage) == ("failed", "parse"), out
        assert "syntax error" in out.message
        assert d.files() == files_before
        assert running_protocols(d) == protocols_before
        assert dot_entries(d) == RECORDS  # no staging, backup or lock left
        # The old config is still what a plain reload would load.
        assert "0003" in d.birdc("configure")
        assert running_protocols(d) == protocols_before
    finally:
        fleet.close()


def test_config_only_the_daemon_can_reject_fails_at_check(lab: BirdLab) -> None:
    # Parsed as root (bird -p) the file is fine; the daemon reads as user bird and cannot
    # open a 0600 include: `configure check` catches what `bird -p` cannot.
    d = started(lab)
    secret = lab.root / "secret.conf"
    secret.write_text("# root only\n")
    secret.chmod(0o600)
    srv = server_for(d, None)
    fleet = fleet_for(srv)
    try:
        files = simple_config("10.0.0.1", {64601: "10.1.0.1"}, extra=f'include "{secret}";\n')
        before = d.files()
        out = fleet.apply_config("rs1", files, config_digest(files))
        assert (out.result, out.stage) == ("failed", "check"), out
        assert out.message.startswith("8002"), out.message
        assert d.files() == before
        assert "AS64601_4" not in running_protocols(d)
    finally:
        fleet.close()


def test_health_failure_restores_files_exactly_and_undoes(lab: BirdLab, sshd: SshServer) -> None:
    # The main config (the daemon's, and the one the settings name) does not include the
    # files ztix writes (a misconfigured server): the new files pass every check, but
    # after `configure` the new protocols do not exist.
    d = lab.daemon(
        "rs1", simple_config("10.0.0.1", {64601: "10.1.0.1"}), config_owner=TEST_USER, start=False
    )
    main = d.root / "main.conf"
    main.write_bytes(b"router id 10.0.0.1;\nprotocol device {}\n")
    main.chmod(0o644)
    d.start(main_config=main)
    srv = server_for(d, sshd)
    srv = attrs.evolve(srv, paths=attrs.evolve(srv.paths, main_config=str(main)))
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        before_files, before_inodes = d.files(), inodes(d)
        before_modes = {n: os.stat(d.config_dir / n).st_mode for n in before_files}
        protocols_before = running_protocols(d)
        files = simple_config("10.0.0.1", {64601: "10.1.0.9", 64602: "10.1.0.2"})
        out = fleet.apply_config("rs1", files, config_digest(files))
        assert (out.result, out.stage) == ("failed", "health"), out
        assert "AS64601_4" in out.message or "AS64602_4" in out.message
        assert d.files() == before_files  # byte-identical
        assert inodes(d) == before_inodes  # the very same files, put back
        assert {n: os.stat(d.config_dir / n).st_mode for n in before_files} == before_modes
        assert "birdc configure undo" in kinds(log)
        assert running_protocols(d) == protocols_before
        assert not dot_entries(d) - {".ztix-applied"}
        assert "0013" in d.birdc("show", "status")
    finally:
        fleet.close()


@pytest.mark.parametrize("pinned", ["changed", "unknown"])
def test_unknown_host_key_is_refused_before_any_command(
    lab: BirdLab, sshd: SshServer, pinned: str
) -> None:
    d = started(lab)
    if pinned == "changed":  # another key pinned for this host and port
        known_hosts = sshd.wrong_known_hosts()
    else:  # nothing pinned for this host and port
        known_hosts = lab.root / "empty_known_hosts"
        known_hosts.write_text("")
    srv = server_for(d, sshd, known_hosts=str(known_hosts))
    log: Log = []
    fleet = fleet_for(srv, log=log)
    sessions = sshd.session_count()
    try:
        before = d.files()
        out = fleet.apply(peers(1))
        assert (out[0].result, out[0].stage) == ("failed", "connect"), out
        assert "host key" in out[0].message
        assert log == []  # not one command was sent
        time.sleep(0.2)
        assert sshd.session_count() == sessions  # sshd started no session either
        assert d.files() == before and not dot_entries(d)
        status = fleet.session_status(Asn(200000))
        assert [(s.server, s.state) for s in status] == [("rs1", "unreachable")]
        assert "host key" in status[0].last_error
    finally:
        fleet.close()


def test_known_hosts_is_required(lab: BirdLab, sshd: SshServer) -> None:
    d = started(lab)
    srv = server_for(d, sshd, known_hosts="")
    with pytest.raises(SettingsError) as err:
        BirdFleet(BirdSettings((srv,)))
    assert err.value.setting == "bird.servers[0].ssh.known_hosts"


def test_server_down_fails_alone_and_the_others_apply(lab: BirdLab, sshd: SshServer) -> None:
    up, no_sshd, no_bird = started(lab, "rs1"), started(lab, "rs2"), started(lab, "rs3")
    no_bird.stop()
    before2, before3 = no_sshd.files(), no_bird.files()
    fleet = fleet_for(
        server_for(up, sshd, "rs1"),
        server_for(no_sshd, sshd, "rs2", port=free_port()),
        server_for(no_bird, sshd, "rs3"),
        retry_for_s=0.5,
    )
    try:
        outcomes = {o.server: o for o in fleet.apply(peers(2))}
        assert outcomes["rs1"].result == "applied"
        assert not outcomes["rs1"].retried
        assert (outcomes["rs2"].result, outcomes["rs2"].stage) == ("failed", "connect")
        assert (outcomes["rs3"].result, outcomes["rs3"].stage) == ("failed", "check")
        assert "control socket" in outcomes["rs3"].message
        # both are down past the (short) bound: transient, retried, then failed
        assert outcomes["rs2"].transient and outcomes["rs2"].retried
        assert outcomes["rs3"].transient and outcomes["rs3"].retried
        assert no_sshd.files() == before2 and no_bird.files() == before3
        assert not dot_entries(no_bird)  # lock released, staging removed
    finally:
        fleet.close()


def _serialized(log: Log) -> bool:
    """Past the lock (probe), each apply's commands come as one block: no apply ran
    inside another."""
    raw = [k for k in kinds(log) if k not in ("probe", "release")]
    seq = []
    for i, k in enumerate(raw):
        if k == "probe+upload+parse+check":
            if raw[i + 1 : i + 2] == ["upload+parse+check"]:
                continue  # the server had moved on: the optimistic upload was not taken
            seq.append("upload+parse+check")
        else:
            seq.append(k)
    block = APPLY_SEQUENCE[1:]
    return len(seq) % len(block) == 0 and all(
        seq[i : i + len(block)] == block for i in range(0, len(seq), len(block))
    )


def test_two_applies_to_one_server_are_serialized(lab: BirdLab, sshd: SshServer) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    # Two fleets = two processes' worth of state (own loops, own connections): only the
    # lock on the server can serialise them. Two threads on one fleet share its lock.
    fleet_a, fleet_b = fleet_for(srv, log=log), fleet_for(srv, log=log)
    results: dict[str, str] = {}

    def run(key: str, fleet: BirdFleet, n: int) -> None:
        results[key] = fleet.apply(peers(n))[0].result

    try:
        threads = [
            threading.Thread(target=run, args=("a", fleet_a, 2)),
            threading.Thread(target=run, args=("b", fleet_b, 3)),
            threading.Thread(target=run, args=("c", fleet_a, 4)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results.values()) == ["applied"] * 3, results
        assert _serialized(log), kinds(log)
        assert kinds(log).count("script") == 3
        manifest = (d.config_dir / ".ztix-applied").read_text()
        live = d.files()
        assert config_digest(live) in manifest
        assert live in [render_server(srv, peers(n)) for n in (2, 3, 4)]
    finally:
        fleet_a.close()
        fleet_b.close()


def test_a_fleet_notices_when_another_one_changed_the_server(lab: BirdLab, sshd: SshServer) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    fleet_a, fleet_b = fleet_for(srv, log=log), fleet_for(srv)
    try:
        assert fleet_a.apply(peers(2))[0].result == "applied"
        assert fleet_b.apply(peers(4))[0].result == "applied"
        log.clear()
        # fleet_a still believes the server has 2 members: its optimistic upload (planned
        # against that) is refused by the server, and it plans again from the real state.
        out = fleet_a.apply(peers(3))
        assert out[0].result == "applied", out
        assert kinds(log) == ["probe+upload+parse+check", "upload+parse+check", "script"]
        assert d.files() == render_server(srv, peers(3))
        staging = read_files(d.config_dir / ".staging")
        assert {n: v for n, v in staging.items() if not n.startswith(".")} == d.files()
    finally:
        fleet_a.close()
        fleet_b.close()


class DiesAfterConfigure:
    """Loses the connection once, right after `configure timeout` (the remote script dies
    there, as it does once its client is gone). The rest of that apply's commands (its
    roll-back) are lost too; the next apply's probe reconnects."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.description = inner.description
        self.armed = True
        self.dead = False

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        marker = b'echo "@@health"'
        if self.armed and tuple(argv) == ("sh", "-s") and stdin and marker in stdin:
            self.armed = False
            self.dead = True
            await self.inner.run(
                argv, stdin=stdin.replace(marker, b"kill -KILL $$\n" + marker), timeout=timeout
            )
            raise TransportError("connection lost", kind="lost")
        if self.dead:
            if kind(tuple(argv)) not in ("probe", "probe+upload+parse+check"):
                raise TransportError("connection lost", kind="lost")
            self.dead = False
        return await self.inner.run(argv, stdin=stdin, timeout=timeout)

    async def stream_lines(
        self, argv: Sequence[str], sink: LineSink, *, stdin: bytes | None = None, timeout: float
    ) -> StreamResult:
        return await self.inner.stream_lines(argv, sink, stdin=stdin, timeout=timeout)

    async def close(self) -> None:
        await self.inner.close()


def test_an_apply_whose_connection_dropped_mid_commit_is_recovered_by_its_retry(
    lab: BirdLab, sshd: SshServer
) -> None:
    # Default lock timings: the lock the dropped attempt left is this fleet's own, so the
    # retry takes it over at once, restores the files, reloads them and applies.
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    transports: list[DiesAfterConfigure] = []

    def factory(server: RouteServerSettings) -> Transport:
        def hook(_desc: str, argv: tuple[str, ...]) -> None:
            log.append((server.name, time.monotonic(), argv))

        transports.append(DiesAfterConfigure(default_transport(server, hook=hook)))
        return transports[-1]

    fleet = BirdFleet(BirdSettings((srv,)), transport_factory=factory)
    try:
        out = fleet.apply(peers(3))  # the first attempt's commit dies after configure
        assert out[0].result == "applied", out
        assert len(out[0].retried) == 1, out
        assert out[0].retried[0].startswith("swap: connection lost; roll-back interrupted")
        assert d.files() == render_server(srv, peers(3))
        assert dot_entries(d) == {*RECORDS, ".staging"}
        assert "lock_wait" not in fleet.last_stats["rs1"].timings
        # the dying attempt, then the retry: its own lock, restore, reload, apply
        dying = [*APPLY_SEQUENCE]
        retry = ["probe", "script", "birdc configure", *APPLY_SEQUENCE]
        assert kinds(log) == [*dying, *retry], kinds(log)
        assert set(protocol_names(peers(3))) <= running_protocols(d)
    finally:
        fleet.close()


@pytest.mark.parametrize(
    ("point", "cut_after"),
    [
        ("swap", ""),
        ("configure", ""),
        # the script arrives cut: after its backup is complete, in the middle of the swap
        ("delivery", "/.complete\n"),
        # ... or cut in the middle of finalize's `rm -rf -- CONFIG/.ztix-backup`
        ("delivery", "\nrm -rf -- {config}"),
    ],
)
def test_an_apply_killed_mid_commit_is_recovered_by_the_next_at_once(
    lab: BirdLab, sshd: SshServer, point: str, cut_after: str
) -> None:
    # The worker process dies (SIGKILL) at a point of its commit, leaving its lock and,
    # once the swap ran, a complete backup. The next apply, with the default lock timings,
    # sees the owner is dead, takes the lock over, recovers and applies without waiting.
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        before = d.files()
        cut_after = cut_after.format(config=d.config_dir)
        dying = DyingApply(srv, render_server(srv, peers(2)), point, cut_after=cut_after)
        try:
            dying.wait_reached()
        finally:
            dying.kill()
        owner = (d.config_dir / ".ztix-lock" / "owner").read_text()
        assert f":{dying.pid}:" in owner
        if point == "delivery":
            # a script cut short runs nothing at all: no backup, the old files
            assert d.files() == before
            assert ".ztix-backup" not in dot_entries(d)
        else:
            assert d.files() == render_server(srv, peers(2))
            assert (d.config_dir / ".ztix-backup" / ".complete").exists()
        log.clear()
        out = fleet.apply(peers(3))
        assert out[0].result == "applied", out
        assert "lock_wait" not in fleet.last_stats["rs1"].timings
        # the optimistic probe finds the lock, the probe judges its owner dead, the next
        # takes the lock over (and finds the backup to recover, once a swap ran)
        taken = ["probe+upload+parse+check", "probe"]
        if point == "delivery":
            assert kinds(log) == [*taken, *APPLY_SEQUENCE], kinds(log)
        else:
            recovery = ["probe", "script", "birdc configure"]
            assert kinds(log) == [*taken, *recovery, *APPLY_SEQUENCE], kinds(log)
        assert d.files() == render_server(srv, peers(3))
        assert dot_entries(d) == {*RECORDS, ".staging"}
        assert set(protocol_names(peers(3))) <= running_protocols(d)
        assert "AS200001_v4" in running_protocols(d)
    finally:
        fleet.close()


def test_an_unwritable_config_dir_is_reported_at_once(lab: BirdLab, sshd: SshServer) -> None:
    # config dir owned by root (group bird, 2750): the SSH account may read, not write
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}))
    srv = server_for(d, sshd)
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        before = d.files()
        out = fleet.apply(peers(1))
        assert (out[0].result, out[0].stage) == ("failed", "lock"), out
        assert "Permission denied" in out[0].message
        assert "write access to config_dir" in out[0].message
        assert "locked by" not in out[0].message
        assert kinds(log) == ["probe"]  # asked once, no waiting for a lock nobody holds
        assert "lock_wait" not in fleet.last_stats["rs1"].timings
        assert d.files() == before and not dot_entries(d)
    finally:
        fleet.close()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _plant_lock(d: BirdDaemon, owner: str) -> None:
    """The lock an apply by the SSH account leaves behind when its worker dies."""
    lock = d.config_dir / ".ztix-lock"
    lock.mkdir()
    (lock / "owner").write_text(owner + "\n")
    account = pwd.getpwnam(TEST_USER)
    for path in (lock, lock / "owner"):
        os.chown(path, account.pw_uid, account.pw_gid)


def test_a_lock_left_by_a_killed_worker_on_this_host_is_taken_over_at_once(
    lab: BirdLab, sshd: SshServer
) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    fleet = fleet_for(srv, options=ApplyOptions(lock_wait_s=3))  # stale only after 300 s
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        _plant_lock(d, f"{socket.gethostname()}:{_dead_pid()}:deadbeef")
        out = fleet.apply(peers(2))
        assert out[0].result == "applied", out
        assert d.files() == render_server(srv, peers(2))
        assert ".ztix-lock" not in dot_entries(d)
    finally:
        fleet.close()


@pytest.mark.parametrize(
    "owner",
    [
        lambda: f"{socket.gethostname()}:{os.getppid()}:alive",  # a live process here
        lambda: f"other-host.example:{_dead_pid()}:remote",  # cannot be judged from here
    ],
)
def test_a_lock_whose_owner_may_be_alive_is_respected(
    lab: BirdLab, sshd: SshServer, owner: Callable[[], str]
) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    fleet = fleet_for(srv, options=ApplyOptions(lock_wait_s=1))
    try:
        assert fleet.apply(peers(1))[0].result == "applied"
        before = d.files()
        _plant_lock(d, owner())
        out = fleet.apply(peers(2))
        assert (out[0].result, out[0].stage) == ("failed", "lock"), out
        assert d.files() == before
    finally:
        fleet.close()


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_refused_and_change_nothing(lab: BirdLab) -> None:
    d = started(lab)
    srv = server_for(d, None)
    fleet = fleet_for(srv)
    try:
        before = d.files()
        files = dict(simple_config("10.0.0.1", {}))
        files["../escape.conf"] = b"# no\n"
        out = fleet.apply_config("rs1", files, config_digest(files))
        assert (out.result, out.stage) == ("failed", "render")
        no_main = {"peers/AS1.conf": b"# x\n"}
        assert fleet.apply_config("rs1", no_main, "x").stage == "render"
        with pytest.raises(InvalidValue):
            fleet.apply(peers(1), ["nope"])
        # A member set the renderer refuses fails that server at stage render.
        dup = [peer(0), attrs.evolve(peer(1), asn=peer(0).asn)]
        assert fleet.apply(dup)[0].stage == "render"
        assert d.files() == before and not dot_entries(d)
    finally:
        fleet.close()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"transport": "ftp"}, "bird.servers[0].transport"),
        ({"paths": RemotePaths(config_dir="etc/bird")}, "bird.servers[0].paths.config_dir"),
        ({"paths": RemotePaths(birdc='/usr/sbin/birdc"; rm')}, "bird.servers[0].paths.birdc"),
        (
            {"paths": RemotePaths(config_dir="/etc/z", staging_dir="/etc/z/staging")},
            "bird.servers[0].paths.staging_dir",
        ),
        ({"ssh": None}, "bird.servers[0].ssh"),
    ],
)
def test_bad_settings_name_the_key(change: Mapping[str, Any], key: str) -> None:
    from ztix_adapters_bird.settings import SshTarget

    srv = RouteServerSettings(
        "rs1",
        Asn(64999),
        ipaddress.IPv4Address("10.0.0.1"),
        ssh=SshTarget("127.0.0.1", private_key="/k", known_hosts="/kh"),
    )
    with pytest.raises(SettingsError) as err:
        BirdFleet(BirdSettings((attrs.evolve(srv, **change),)))
    assert err.value.setting == key


def test_duplicate_server_names_are_refused() -> None:
    srv = RouteServerSettings(
        "rs1", Asn(64999), ipaddress.IPv4Address("10.0.0.1"), transport="local"
    )
    with pytest.raises(SettingsError):
        BirdFleet(BirdSettings((srv, srv)))


def test_an_apply_after_hand_edits_reuploads_what_differs(lab: BirdLab, sshd: SshServer) -> None:
    # Over SSH, with a fleet that knows what it applied (the path the worker takes): the
    # manifest still names the applied digest, so only the files' listing gives the edits
    # away. Unchanged members and one more member added at the same time.
    d = started(lab)
    srv = server_for(d, sshd)
    log: Log = []
    fleet = fleet_for(srv, log=log)
    try:
        assert fleet.apply(peers(3))[0].result == "applied"
        edited = d.config_dir / "peers" / "AS200001.conf"
        edited.write_bytes(edited.read_bytes() + b"# by hand\n")  # in place: same inode
        (d.config_dir / "peers" / "AS200002.conf").unlink()
        (d.config_dir / "peers" / "notes.conf").write_text("# by hand\n")
        assert fleet.check_drift(peers(3))[0].drifted
        log.clear()
        out = fleet.apply(peers(3))[0]
        assert out.result == "applied", out  # not "unchanged"
        assert out.message.startswith("repaired drift: 3 file(s) on the server were not ztix's")
        assert d.files() == render_server(srv, peers(3))
        assert not fleet.check_drift(peers(3))[0].drifted
        assert fleet.apply(peers(3))[0].result == "unchanged"
        # an edit while a member is added: the upload planned with the probe is refused
        # (the listing moved) and the apply uploads both files
        edited.write_bytes(b"# emptied by hand\n")
        log.clear()
        out = fleet.apply(peers(4))[0]
        assert out.result == "applied" and out.message == "", out
        assert kinds(log)[:2] == ["probe+upload+parse+check", "upload+parse+check"]
        assert d.files() == render_server(srv, peers(4))
        assert set(protocol_names(peers(4))) <= running_protocols(d)
    finally:
        fleet.close()


def test_a_daemon_reconfigured_outside_ztix_is_configured_again(
    lab: BirdLab, sshd: SshServer
) -> None:
    d = started(lab)
    srv = server_for(d, sshd)
    fleet = fleet_for(srv)
    try:
        assert fleet.apply(peers(2))[0].result == "applied"
        other = d.root / "other.conf"
        other.write_text(f'include "{d.main_config}";\nprotocol static hand_made {{ ipv4; }}\n')
        other.chmod(0o644)
        assert "0003" in d.birdc("configure", f'"{other}"')
        assert "hand_made" in running_protocols(d)
        out = fleet.apply(peers(2))[0]
        assert out.result == "applied", out
        assert out.message == "repaired drift: BIRD was restarted or reconfigured outside ztix"
        assert "hand_made" not in running_protocols(d)
        assert fleet.apply(peers(2))[0].result == "unchanged"
    finally:
        fleet.close()


def test_an_edit_that_hides_from_the_listing_is_repaired_after_a_drift_check(
    lab: BirdLab, sshd: SshServer
) -> None:
    # Edited in place, then given back its size and mtime: the listing ztix recorded does
    # not move, so an apply trusts the manifest. The drift check hashes every file and
    # finds it; the fleet's next apply then hashes too, and puts the file back.
    d = started(lab)
    srv = server_for(d, sshd)
    fleet = fleet_for(srv)
    try:
        assert fleet.apply(peers(2))[0].result == "applied"
        edited = d.config_dir / "peers" / "AS200001.conf"
        wanted, st = edited.read_bytes(), edited.stat()
        edited.write_bytes(wanted.replace(b"import limit 100", b"import limit 999"))
        assert edited.read_bytes() != wanted
        os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert edited.stat().st_size == st.st_size and edited.stat().st_ino == st.st_ino
        assert fleet.apply(peers(2))[0].result == "unchanged"  # hidden from the listing
        found = fleet.check_drift(peers(2))[0]
        assert [(f.name, f.problem) for f in found.files] == [("peers/AS200001.conf", "changed")]
        out = fleet.apply(peers(2))[0]
        assert out.result == "applied" and out.message.startswith("repaired drift: 1 file"), out
        assert edited.read_bytes() == wanted
        assert not fleet.check_drift(peers(2))[0].drifted
        assert fleet.apply(peers(2))[0].result == "unchanged"
    finally:
        fleet.close()
