"""``ztix rs render|apply|status`` on a settings file, with the member set read through
bootstrap → Provisioner.desired_peers from a (test) storage plugin, applied to a real BIRD
with the local transport."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from ztix_adapters_bird.render import config_digest, render_server
from ztix_adapters_bird.settings import BirdSettings
from ztix_adapters_bird.testing import BirdDaemon, BirdLab, simple_config
from ztix_core.cli import build_parser
from ztix_core.hookspecs import hookimpl
from ztix_core.memory import InMemoryStore
from ztix_core.memory.provider import InMemoryProvider
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.settings import load_settings
from ztix_core.status import RequestStatus
from ztix_core.testing import builders

pytestmark = [pytest.mark.bird]


def store_with_members(*asns: int) -> InMemoryStore:
    """A store holding active, authorized members for ``asns``."""
    store = InMemoryStore()
    with store() as uow:
        owner = builders.user("op")
        net = builders.network(1)
        uow.users.add(owner)
        uow.networks.add(net)
        for i, asn in enumerate(asns):
            req = builders.request(
                owner.id, net.id, asn=asn, node=f"abcdef{i:04d}", status=RequestStatus.ACTIVE
            )
            uow.requests.add(req)
            uow.memberships.add(
                builders.membership(
                    req, v4=f"10.1.0.{i + 10}", v6=f"fd00:1::{i + 10:x}", authorized=True
                )
            )
        uow.commit()
    return store


class _TestPlugin:
    """Storage and ZeroTier provider for the CLI tests."""

    __name__ = "cli-test-plugin"

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    @hookimpl
    def ztix_storage_backends(self) -> list[Registration]:
        return [Registration("clitest", lambda s: self.store)]

    @hookimpl
    def ztix_membership_providers(self) -> list[Registration]:
        return [Registration("clitest", lambda s: InMemoryProvider())]


def write_settings(
    tmp_path: Path, d: BirdDaemon, extra: str = "", *, retry_for_s: float = 180
) -> Path:
    p = d.paths()
    path = tmp_path / "ztix.toml"
    path.write_text(
        f"""
storage = "clitest"
zt_provider = "clitest"
route_server_fleet = "bird"
network_registry = "memory"

[bird]
retry_for_s = {retry_for_s}
retry_initial_backoff_s = 0.1

[[bird.servers]]
name = "rs1"
asn = 64999
router_id = "10.0.0.1"
transport = "local"
[bird.servers.paths]
config_dir = "{p.config_dir}"
main_config = "{p.main_config}"
control_socket = "{p.control_socket}"
[bird.servers.policy]
confirm_timeout_s = 30
{extra}
"""
    )
    return path


def run(
    config: Path, store: InMemoryStore, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    plugins = Plugins(build_plugin_manager(extra=[_TestPlugin(store)]))
    parser, commands = build_parser(plugins)
    args: argparse.Namespace = parser.parse_args(["--config", str(config), *argv])
    args.plugins = plugins
    from ztix_core.errors import ZtixError

    try:
        code = commands[args.command].run(args)
    except ZtixError as exc:  # what ztix_core.cli.main does
        print(f"ztix: error: {exc}")
        code = 2
    out = capsys.readouterr()
    return code, out.out, out.err


def daemon(lab: BirdLab) -> BirdDaemon:
    return lab.daemon("rs1", simple_config("10.0.0.1", {}))


def test_render_writes_what_render_server_gives(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d)
    store = store_with_members(200001, 200002)
    out_dir = tmp_path / "out"
    code, out, _ = run(config, store, capsys, "rs", "render", "--out", str(out_dir))
    assert code == 0, out
    server = load_settings(config).section("bird", BirdSettings).servers[0]
    written = {
        str(p.relative_to(out_dir / "rs1")): p.read_bytes()
        for p in (out_dir / "rs1").rglob("*")
        if p.is_file()
    }
    with store() as uow:
        from ztix_core.bootstrap import bootstrap

        app = bootstrap(
            load_settings(config), Plugins(build_plugin_manager(extra=[_TestPlugin(store)]))
        )
        assert app.provisioner is not None
        peers = [p for _, p in app.provisioner.desired_peers(uow)]
    expected = render_server(server, peers)
    assert written == expected
    assert f"digest {config_digest(expected)}" in out
    assert "2 members" in out
    assert d.files() == simple_config("10.0.0.1", {})  # rendering touches no server


def test_apply_then_unchanged_then_status(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d)
    store = store_with_members(200001, 200002)
    code, out, _ = run(config, store, capsys, "rs", "apply")
    assert code == 0, out
    assert out.startswith("rs1: applied digest ")
    assert "peers/AS200002.conf" in d.files()
    code, out, _ = run(config, store, capsys, "rs", "apply", "--server", "rs1")
    assert (code, out.split()[1]) == (0, "unchanged"), (
        out,
        (d.config_dir / ".ztix-configured").read_text(),
        d.birdc("show", "status"),
    )
    code, out, _ = run(config, store, capsys, "rs", "status", "--asn", "AS200001")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["server", "asn", "protocol", "state"]
    assert {line.split()[2] for line in lines[1:]} == {"AS200001_v4", "AS200001_v6"}
    code, out, _ = run(config, store, capsys, "rs", "status")
    assert len(out.splitlines()) == 5  # header + 2 members x 2 families


def test_apply_reports_failure_with_exit_code_1(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d, retry_for_s=0.3)
    d.stop()
    before = d.files()
    code, out, _ = run(config, store_with_members(200001), capsys, "rs", "apply")
    assert code == 1
    assert "rs1: failed" in out and "at stage check" in out
    assert "transient: still failing when the retries ran out" in out
    assert d.files() == before


def test_bad_arguments_and_settings_are_refused(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d)
    store = store_with_members(200001)
    before = d.files()
    code, out, _ = run(config, store, capsys, "rs", "apply", "--server", "nope")
    assert code == 2 and "unknown route server(s): nope" in out
    code, out, _ = run(config, store, capsys, "rs", "status", "--asn", "banana")
    assert code == 2 and "not an AS number" in out
    bad = write_settings(tmp_path, d, extra="[bird.servers.ssh]\nhots = 'x'\n")
    code, out, _ = run(bad, store, capsys, "rs", "render")
    assert code == 2 and "setting bird.servers[0].ssh: unknown key(s): hots" in out
    assert d.files() == before


def test_status_names_the_server_it_cannot_reach_and_fails(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d)
    store = store_with_members(200001)
    code, out, _ = run(config, store, capsys, "rs", "status")
    assert code == 0, out  # up, no sessions configured yet: nothing wrong
    assert "no sessions" in out and "unreachable" not in out
    d.stop()
    for argv in (("rs", "status"), ("rs", "status", "--asn", "200001")):
        code, out, _ = run(config, store, capsys, *argv)
        assert code == 1, out
        [line] = [x for x in out.splitlines() if x.startswith("rs1: unreachable: ")]
        assert "Unable to connect to server control socket" in line


def test_render_with_no_route_server_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bird fleet with no server is refused by the one function that builds fleets
    (the worker gets the same refusal), before anything is read or rendered."""
    config = tmp_path / "ztix.toml"
    config.write_text(
        'storage = "clitest"\nzt_provider = "clitest"\nroute_server_fleet = "bird"\n'
        'network_registry = "memory"\n'
    )
    store = store_with_members(200001)
    for argv in (("rs", "render"), ("rs", "apply"), ("rs", "status"), ("rs", "check")):
        code, out, _ = run(config, store, capsys, *argv)
        assert code == 2, out
        assert out.strip() == (
            "ztix: error: setting bird.servers: no route server is configured: add "
            "[[bird.servers]] tables, or choose another fleet with ZTIX_ROUTE_SERVER_FLEET"
        )


def test_another_fleet_is_refused_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ztix rs`` works on the fleet the worker would use; when that is not BIRD it says
    so instead of rendering a [bird] section the worker ignores."""
    config = tmp_path / "ztix.toml"
    config.write_text(
        'storage = "clitest"\nzt_provider = "clitest"\nroute_server_fleet = "memory"\n'
        'network_registry = "memory"\n'
    )
    store = store_with_members(200001)
    for argv in (("rs", "render"), ("rs", "apply"), ("rs", "status"), ("rs", "check")):
        code, out, _ = run(config, store, capsys, *argv)
        assert code == 2, out
        assert out.strip() == (
            "ztix: error: setting ZTIX_ROUTE_SERVER_FLEET: ztix rs works on BIRD route "
            "servers, but route_server_fleet is 'memory': set it to 'bird'"
        )


def test_render_into_a_read_only_directory_is_one_line_and_exit_2(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d)
    store = store_with_members(200001)
    out_dir = tmp_path / "readonly"
    out_dir.mkdir()
    # read-only even for root (tests run as root): the immutable attribute
    subprocess.run(["chattr", "+i", str(out_dir)], check=True)
    try:
        code, out, err = run(config, store, capsys, "rs", "render", "--out", str(out_dir))
    finally:
        subprocess.run(["chattr", "-i", str(out_dir)], check=True)
    assert code == 2, out
    [line] = out.splitlines()
    assert line.startswith(f"ztix: error: --out: cannot write {out_dir}/rs1: ")
    assert "Operation not permitted" in line
    assert "choose a directory you can write to, or fix its permissions" in line
    assert not err and "Traceback" not in out
    assert list(out_dir.iterdir()) == []


def test_an_exchange_without_route_servers_says_so_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(
        'storage = "clitest"\nzt_provider = "clitest"\nroute_server_fleet = "none"\n'
        'network_registry = "memory"\n'
    )
    store = store_with_members(200001)
    for action in ("render", "apply", "status"):
        code, out, _ = run(config, store, capsys, "rs", action)
        assert code == 0, out
        assert out.strip() == (
            "no route servers: route_server_fleet = none (members peer bilaterally); "
            f"nothing to {action}"
        )


def test_init_writes_a_first_config_bird_starts_on_and_leaves_it_alone_after(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = lab.daemon("rs1", start=False)  # a config dir without any file: BIRD cannot start
    config = write_settings(tmp_path, d)
    store = store_with_members(200001, 200002)
    code, out, _ = run(config, store, capsys, "rs", "init")
    assert code == 0, out
    assert out.startswith(f"rs1: wrote 4 files to {d.config_dir} (2 members, digest ")
    server = load_settings(config).section("bird", BirdSettings).servers[0]
    with store() as uow:
        from ztix_core.bootstrap import bootstrap

        app = bootstrap(
            load_settings(config), Plugins(build_plugin_manager(extra=[_TestPlugin(store)]))
        )
        assert app.provisioner is not None
        peers = [p for _, p in app.provisioner.desired_peers(uow)]
    assert d.files() == render_server(server, peers)  # what apply would have written
    assert {(d.config_dir / n).stat().st_mode & 0o777 for n in d.files()} == {0o640}
    d.start()
    assert "AS200002_v6" in d.birdc("show", "protocols")
    # A server that has a config is left alone, even when the members changed.
    before = d.files()
    code, out, _ = run(config, store_with_members(200003), capsys, "rs", "init")
    assert code == 0 and "exists, left alone (rs apply updates it)" in out
    assert d.files() == before
    # init writes no manifest (nothing was applied): the first apply takes the files over,
    # finds nothing to change in them, and records them completely, so no drift is left.
    code, out, _ = run(config, store, capsys, "rs", "check")
    assert code == 1 and "ztix has no record of its last apply" in out, out
    code, out, _ = run(config, store, capsys, "rs", "apply")
    assert code == 0 and out.startswith("rs1: applied"), out
    assert d.files() == before
    assert not (d.config_dir / ".ztix-lock").exists()  # the apply finished its work
    code, out, _ = run(config, store, capsys, "rs", "check")
    assert (code, out) == (0, "rs1: in sync\n")


def test_init_refuses_a_named_ssh_server_and_an_unwritable_dir(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = lab.daemon("rs1", start=False)
    ssh = (
        '[[bird.servers]]\nname = "rs2"\nasn = 64999\nrouter_id = "10.0.0.2"\n'
        '[bird.servers.ssh]\nhost = "127.0.0.1"\nprivate_key = "/k"\nknown_hosts = "/kh"\n'
    )
    config = write_settings(tmp_path, d, extra=ssh)
    store = store_with_members(200001)
    code, out, _ = run(config, store, capsys, "rs", "init", "--server", "rs2")
    assert code == 2 and "rs2 is reached over SSH: init writes only the files of local" in out
    assert d.files() == {}
    code, out, _ = run(config, store, capsys, "rs", "init")
    assert code == 0 and "rs2: reached over SSH, skipped" in out and "rs1: wrote 3 files" in out
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    p = d.paths()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        config.read_text().replace(f'config_dir = "{p.config_dir}"', f'config_dir = "{blocked}/x"')
    )
    code, out, _ = run(bad, store, capsys, "rs", "init", "--server", "rs1")
    assert code == 2
    assert f"bird.servers.rs1.paths.config_dir: cannot write {blocked}/x: " in out, out
    assert blocked.read_text() == "not a directory"


def test_check_prints_the_comparison_and_exits_non_zero_on_drift(
    lab: BirdLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = daemon(lab)
    config = write_settings(tmp_path, d, retry_for_s=0)
    store = store_with_members(200001, 200002)
    assert run(config, store, capsys, "rs", "apply")[0] == 0
    code, out, _ = run(config, store, capsys, "rs", "check")
    assert (code, out) == (0, "rs1: in sync\n")

    peer = d.config_dir / "peers" / "AS200001.conf"
    peer.write_bytes(peer.read_bytes() + b"# secret-looking hand edit\n")
    (d.config_dir / "peers" / "AS200002.conf").unlink()
    (d.config_dir / "peers" / "extra.conf").write_text("# by hand\n")
    d.birdc("configure")  # the daemon reads the hand-edited files: AS200002 is gone
    before = d.files()
    code, out, _ = run(config, store, capsys, "rs", "check", "--server", "rs1")
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == "rs1: DRIFT"
    assert lines[1].startswith("  file peers/AS200001.conf: changed (expected ")
    assert lines[2].startswith("  file peers/AS200002.conf: missing (expected ")
    assert lines[3].startswith("  file peers/extra.conf: extra (found ")
    assert lines[4] == "  protocols missing: AS200002_v4 AS200002_v6"
    assert lines[5].startswith("  running config: BIRD was restarted or reconfigured outside")
    assert lines[-1].startswith("drift found:")
    assert "secret-looking" not in out  # names and digests, never contents
    assert d.files() == before  # check changes nothing

    code, out, _ = run(config, store, capsys, "rs", "apply")
    assert code == 0 and out.startswith("rs1: applied"), out  # not "unchanged"
    code, out, _ = run(config, store, capsys, "rs", "check")
    assert (code, out) == (0, "rs1: in sync\n")

    d.stop()
    code, out, _ = run(config, store, capsys, "rs", "check")
    assert code == 3, out
    assert out.startswith("rs1: cannot check: BIRD does not answer")
