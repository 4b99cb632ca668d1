"""The pipeline's pieces on their own: file-name and path validation, the manifest, the
change plan, birdc reply parsing, and the restore script run by a real shell."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ztix_adapters_bird.apply import (
    MANIFEST_HEADER,
    Plan,
    RemoteState,
    make_plan,
    manifest_bytes,
    parse_manifest,
    parse_probe,
    restore_script,
    state_of,
    validate_file_names,
    validate_paths,
)
from ztix_adapters_bird.birdc import parse_reply
from ztix_adapters_bird.settings import RemotePaths
from ztix_core.errors import InvalidValue

FILES = {
    "bird.conf": b"main\n",
    "peers/.keep": b"",
    "peers/AS1.conf": b"one\n",
    "peers/AS2.conf": b"two\n",
}


@pytest.mark.parametrize(
    "name",
    ["../x.conf", "/etc/passwd", ".ztix-applied", "peers/../../x", "a b.conf", "p/./x", "x;y"],
)
def test_unsafe_file_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidValue):
        validate_file_names(["bird.conf", name])


def test_a_set_without_main_file_is_refused() -> None:
    with pytest.raises(InvalidValue, match=r"no bird\.conf"):
        validate_file_names(["peers/AS1.conf"])
    validate_file_names(FILES)  # dot files below the top level are fine


def test_paths_inside_config_dir_must_be_dot_dirs() -> None:
    validate_paths(RemotePaths(config_dir="/etc/bird/ztix"))
    validate_paths(RemotePaths(config_dir="/etc/bird/ztix", staging_dir="/var/tmp/ztix-stage"))
    with pytest.raises(InvalidValue):
        validate_paths(RemotePaths(config_dir="/etc/bird/ztix", staging_dir="/etc/bird/ztix/s"))


def test_manifest_round_trip_and_garbage() -> None:
    text = manifest_bytes("d1", FILES).decode()
    digest, hashes = parse_manifest(text.splitlines())
    assert digest == "d1"
    assert hashes == state_of("d1", FILES).hashes
    assert parse_manifest(['{"digest": "x"}']) == ("", {})
    assert parse_manifest([MANIFEST_HEADER + "d", "not a hash line"]) == ("", {})
    assert parse_manifest([]) == ("", {})


def test_plan_uploads_changed_files_only_and_removes_the_rest() -> None:
    state = state_of("old", FILES)
    new = {**FILES, "peers/AS2.conf": b"TWO\n", "peers/AS3.conf": b"three\n", "x/y/z.conf": b""}
    del new["peers/AS1.conf"]
    plan = make_plan(new, state)
    assert plan.changed == ("peers/AS2.conf", "peers/AS3.conf", "x/y/z.conf")
    assert plan.removed == ("peers/AS1.conf",)
    assert plan.existing == ("peers/AS1.conf", "peers/AS2.conf")
    assert plan.new_dirs == ("x", "x/y")
    assert make_plan(FILES, state) == Plan((), (), (), ())


def test_probe_output_is_parsed() -> None:
    out = "\n".join(
        [
            "@@pending",
            "",
            "@@manifest",
            MANIFEST_HEADER + "abc",
            f"{'0' * 64}  bird.conf",
            "",
            "@@files",
            "f bird.conf",
            "d peers",
            "f peers/AS1.conf",
            "d ",
        ]
    )
    state = parse_probe(out)
    assert state == RemoteState(
        "abc",
        {"bird.conf": "0" * 64},
        frozenset({"bird.conf", "peers/AS1.conf"}),
        frozenset({"peers"}),
        None,
    )


def test_birdc_replies_are_judged_by_code() -> None:
    reply = parse_reply(
        "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from /x\n"
        "8002 /x:1:0 syntax error, unexpected END\n"
    )
    assert reply.has("8002") and not reply.has("0020")
    assert reply.summary() == "8002 /x:1:0 syntax error, unexpected END"
    confirm = parse_reply("0001 BIRD 2.0.12 ready.\n0019 Nothing to do\n")
    assert not confirm.has("0018")
    down = parse_reply("Unable to connect to server control socket (/x): No such file\n")
    assert down.codes == ["----"] and "control socket" in down.summary()


def _sh(script: str) -> int:
    return subprocess.run(["sh", "-s"], input=script.encode(), check=False).returncode


def test_restore_puts_back_the_same_files_and_removes_added_ones(tmp_path: Path) -> None:
    config, backup = tmp_path / "c", tmp_path / "c" / ".ztix-backup"
    (config / "peers").mkdir(parents=True)
    (config / "peers" / "AS1.conf").write_bytes(b"old one\n")
    (config / "peers" / "AS2.conf").write_bytes(b"two\n")
    inode = os.stat(config / "peers" / "AS1.conf").st_ino
    plan = Plan(
        ("peers/AS1.conf", "new/AS3.conf"),
        ("peers/AS2.conf",),
        ("peers/AS1.conf", "peers/AS2.conf"),
        ("new",),
    )
    # What the swap does: backup links, marker, new files in, removed ones out.
    (backup / "peers").mkdir(parents=True)
    for name in plan.existing:
        os.link(config / name, backup / name)
    (backup / ".complete").touch()
    (config / "peers" / "AS1.conf").unlink()
    (config / "peers" / "AS1.conf").write_bytes(b"NEW one\n")
    (config / "new").mkdir()
    (config / "new" / "AS3.conf").write_bytes(b"three\n")
    (config / "peers" / "AS2.conf").unlink()

    assert _sh(restore_script(str(config), str(backup), plan)) == 0
    assert (config / "peers" / "AS1.conf").read_bytes() == b"old one\n"
    assert os.stat(config / "peers" / "AS1.conf").st_ino == inode
    assert (config / "peers" / "AS2.conf").read_bytes() == b"two\n"
    assert not (config / "new").exists()
    assert not backup.exists()


def test_restore_without_a_complete_backup_touches_nothing(tmp_path: Path) -> None:
    config, backup = tmp_path / "c", tmp_path / "c" / ".ztix-backup"
    (config / "peers").mkdir(parents=True)
    (config / "peers" / "AS1.conf").write_bytes(b"live\n")
    backup.mkdir()  # the swap died before its backup was complete
    plan = Plan(("peers/AS1.conf",), (), ("peers/AS1.conf",), ())
    assert _sh(restore_script(str(config), str(backup), plan)) == 0
    assert (config / "peers" / "AS1.conf").read_bytes() == b"live\n"
    assert not backup.exists()


def test_bird_fleet_implements_the_port_and_is_registered() -> None:
    from ztix_adapters_bird.fleet import BirdFleet
    from ztix_adapters_bird.settings import BirdSettings
    from ztix_core.plugins import Plugins, build_plugin_manager
    from ztix_core.ports import RouteServerFleet
    from ztix_core.settings import Settings

    fleet: RouteServerFleet = BirdFleet(BirdSettings(()))  # mypy checks the protocol
    assert list(fleet.servers()) == []
    assert fleet.apply([]) == []
    reg = Plugins(build_plugin_manager()).route_server_fleets()["bird"]
    one = {"name": "rs1", "asn": 64999, "router_id": "10.0.0.1", "transport": "local"}
    made = reg.factory(Settings(sections={"bird": {"servers": [one]}}))
    assert isinstance(made, BirdFleet)
    made.close()
    assert isinstance(fleet, BirdFleet)
    fleet.close()


def test_bird_section_round_trips_through_settings() -> None:
    import ipaddress

    from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings, SshTarget
    from ztix_adapters_bird.testing import bird_section
    from ztix_core.settings import Settings
    from ztix_core.values import Asn

    servers = (
        RouteServerSettings(
            "rs1",
            Asn(64999),
            ipaddress.IPv4Address("10.0.0.1"),
            ipv6=ipaddress.IPv6Address("fd00::1"),
            ssh=SshTarget("127.0.0.1", 2222, "ztixrs", "/k", "/kh"),
            paths=RemotePaths(config_dir="/etc/bird/ztix"),
        ),
        RouteServerSettings(
            "rs2", Asn(64999), ipaddress.IPv4Address("10.0.0.2"), transport="local"
        ),
    )
    settings = Settings(sections={"bird": bird_section(servers)})
    assert settings.section("bird", BirdSettings) == BirdSettings(servers)


def test_the_bird_fleet_refuses_to_start_without_route_servers() -> None:
    from ztix_adapters_bird.plugin import make_fleet
    from ztix_core.errors import SettingsError
    from ztix_core.settings import Settings

    with pytest.raises(SettingsError) as info:
        make_fleet(Settings())
    assert info.value.setting == "bird.servers"
