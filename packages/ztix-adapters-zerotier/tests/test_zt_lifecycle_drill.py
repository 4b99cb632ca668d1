"""The restore drill on the emulator side: a real controller's backup passes, each stage
names what it found wrong, a configured binary is started on the copy (here a stand-in
that serves the emulator, so CI needs no zerotier-one), nothing escapes as a traceback,
and every lifecycle failure is audited. Restore refuses a running controller."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.backup import BackupError, create_backup
from ztix_adapters_zerotier.drill import run_drill
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import free_port, running_emulator
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle
from ztix_adapters_zerotier.running import live_pid
from ztix_adapters_zerotier.scratch_controller import ScratchControllerError, find_binary
from ztix_adapters_zerotier.testing import (
    REAL_ADDRESS,
    REAL_IDENTITY_SECRET,
    peering_network,
    self_hosted_provider,
    self_hosted_settings,
)
from ztix_core.errors import SettingsError
from ztix_core.memory import InMemoryStore
from ztix_core.values import NodeId

NODE = NodeId("0a1b2c3d4e")


def _populate(zt: EmulatorServer) -> str:
    net = peering_network(zt.address)
    provider = self_hosted_provider(zt)
    provider.ensure_network(net)
    provider.authorize_member(net.id, NODE, [ipaddress.ip_address("198.51.100.10")], "AS64500")
    provider.close()
    return str(net.id)


@pytest.fixture
def real_home(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A home holding a real zerotier-one identity, with one network and member."""
    home = tmp_path / "real-home"
    home.mkdir()
    (home / "identity.secret").write_text(REAL_IDENTITY_SECRET)
    with running_emulator(home) as zt:
        nwid = _populate(zt)
    yield home, nwid


def test_a_real_controllers_backup_passes_the_drill(
    real_home: tuple[Path, str], tmp_path: Path
) -> None:
    """Regression: the drill refused every real identity (the emulator re-derived the
    address with a rule of its own) and crashed with a traceback."""
    home, nwid = real_home
    archive = create_backup(home, tmp_path / "backups", retention=2).path
    report = run_drill(archive, required_ids=[nwid[10:]])
    assert report.passed, report.summary()
    assert report.manifest is not None and report.manifest.controller == REAL_ADDRESS
    assert report.records is not None and report.records.networks == {nwid: 1}


def _backup_of(home: Path, tmp_path: Path, damage: str) -> Path:
    member = home / "controller.d" / "network"
    nwid = next(p.stem for p in member.glob("*.json"))
    if damage == "identity":
        secret = (home / "identity.secret").read_text().split(":")
        (home / "identity.public").write_text(f"{secret[0]}:0:{'ab' * 64}")
    elif damage == "member":
        path = next((member / nwid / "member").glob("*.json"))
        record = json.loads(path.read_text())
        record["ipAssignments"] = "198.51.100.10"
        path.write_text(json.dumps(record))
    elif damage == "orphan":
        orphan = member / "ffffffffff000001" / "member"
        orphan.mkdir(parents=True)
        (orphan / f"{NODE}.json").write_text("{}")
    elif damage == "network":
        (member / f"{nwid}.json").write_text("{not json")
    return create_backup(home, tmp_path / "backups", retention=5).path


@pytest.mark.parametrize(
    ("damage", "stage", "words"),
    [
        ("identity", "identity", "identity.public does not match"),
        ("member", "records", "ipAssignments is not a list of strings"),
        ("orphan", "records", "member of a network without its file"),
        ("network", "records", "is not valid JSON"),
    ],
)
def test_the_drill_names_the_stage_and_file_that_fail(
    real_home: tuple[Path, str], tmp_path: Path, damage: str, stage: str, words: str
) -> None:
    home, _ = real_home
    report = run_drill(_backup_of(home, tmp_path, damage))
    assert not report.passed and report.stage == stage
    assert words in report.summary()


FAKE_ZEROTIER_ONE = """
import json, sys
from pathlib import Path
args = sys.argv[1:]
Path(sys.argv[0] + ".calls").open("a").write(json.dumps(args) + "\\n")
if args[:2] == ["-i", "validate"]:
    sys.exit(0 if "{valid}" == "yes" else 1)
from ztix_adapters_zerotier.emulator.cli import main
sys.exit(main(["--port", "0", "--home", args[-1]]))
"""


def _fake_binary(tmp_path: Path, valid: bool = True) -> Path:
    """A stand-in for zerotier-one: ``-i validate`` answers, anything else serves the
    emulator on the home given last (as ``zerotier-one -U -p0 HOME`` would serve it)."""
    path = tmp_path / "bin" / "zerotier-one"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\n" + FAKE_ZEROTIER_ONE.replace("{valid}", "yes" if valid else "no")
    )
    path.chmod(0o755)
    return path


def test_a_configured_binary_is_started_on_the_copy_and_stopped(
    real_home: tuple[Path, str], tmp_path: Path
) -> None:
    home, nwid = real_home
    archive = create_backup(home, tmp_path / "backups", retention=2).path
    binary = _fake_binary(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    report = run_drill(archive, required_ids=[nwid[10:]], binary=str(binary), scratch=scratch)
    assert report.passed, report.summary()
    assert report.controller_kind == "zerotier-one"
    calls = [json.loads(line) for line in Path(f"{binary}.calls").read_text().splitlines()]
    copy = str(scratch / "home")
    assert calls == [["-i", "validate", f"{copy}/identity.secret"], ["-U", "-p0", copy]]
    conf = json.loads((scratch / "home" / "local.conf").read_text())["settings"]
    assert conf["bind"] == ["127.0.0.1"] and conf["allowManagementFrom"] == ["127.0.0.1"]
    assert conf["allowTcpFallbackRelay"] is False and conf["portMappingEnabled"] is False
    invalid = run_drill(archive, binary=str(_fake_binary(tmp_path / "other", valid=False)))
    assert not invalid.passed and invalid.stage == "identity"


def test_a_configured_binary_that_is_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScratchControllerError) as info:
        find_binary(str(tmp_path / "nope"))
    assert "ZT_CONTROLLER_BINARY" in info.value.remediation
    assert find_binary("emulator") is None


def test_an_unexpected_error_is_a_failed_stage_not_a_crash(
    real_home: tuple[Path, str], tmp_path: Path
) -> None:
    home, _ = real_home
    archive = create_backup(home, tmp_path / "backups", retention=2).path

    @contextmanager
    def broken(home: Path) -> Iterator[str]:
        if home.is_dir():  # always: the controller "fails to start"
            raise RuntimeError("boom")
        yield ""

    report = run_drill(archive, start_controller=broken)
    assert not report.passed and report.stage == "controller"
    assert "unexpected RuntimeError: boom" in report.summary()


def _lifecycle(zt: EmulatorServer, tmp_path: Path, **overrides: object) -> ControllerLifecycle:
    settings = self_hosted_settings(
        zt,
        zt_controller_backup_dir=str(tmp_path / "backups"),
        sections={"zerotier": {"controller_binary": "emulator", "retry_attempts": 1}},
        **overrides,
    )
    return ControllerLifecycle(self_hosted_provider(zt), settings, uow_factory=InMemoryStore())


def _actions(lifecycle: ControllerLifecycle) -> list[tuple[str, str]]:
    assert isinstance(lifecycle.uow_factory, InMemoryStore)
    with lifecycle.uow_factory() as uow:
        found = uow.audit.for_target(audit.TARGET_TYPE, "self_hosted_controller")
    return [(e.action, str(e.metadata.get("kind", ""))) for e in found]


def test_every_failure_is_audited(tmp_path: Path) -> None:
    """Regression: a crash, a missing backup or a missing setting left no audit event."""
    with running_emulator(tmp_path / "zerotier-one") as zt:
        lifecycle = _lifecycle(zt, tmp_path)
        with pytest.raises(BackupError):
            lifecycle.drill()  # no backup yet
        with pytest.raises(BackupError):
            lifecycle.restore()
        no_home = _lifecycle(zt, tmp_path, zt_controller_home=None)
        with pytest.raises(SettingsError):
            no_home.backup()
        assert _actions(lifecycle) == [
            (audit.DRILL_FAILED, "io"),
            (audit.RESTORE_REFUSED, "io"),
        ]
        assert _actions(no_home) == [(audit.BACKUP_FAILED, "settings_error")]


def test_restore_refuses_a_live_pid_file_but_not_a_stale_one(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "zerotier-one") as zt:
        lifecycle = _lifecycle(zt, tmp_path)
        archive = lifecycle.backup().path
        with pytest.raises(BackupError) as info:
            lifecycle.restore(archive)  # its /status answers
        assert "answers" in str(info.value)
    home = zt.home
    lifecycle = _lifecycle(zt, tmp_path, zt_controller_base_url=f"http://127.0.0.1:{free_port()}")
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)  # fmt: skip
    try:
        (home / "zerotier-one.pid").write_text(str(sleeper.pid))
        assert live_pid(home) == sleeper.pid
        with pytest.raises(BackupError) as info:
            lifecycle.restore(archive, drill_first=False)
        assert info.value.kind == "controller_running"
        assert f"live process {sleeper.pid}" in str(info.value)
    finally:
        assert sleeper.stdin is not None
        sleeper.stdin.close()
        sleeper.wait()
    assert live_pid(home) is None  # the same file, now stale
    assert lifecycle.restore(archive, drill_first=False).archive == archive
    forced = _lifecycle(zt, tmp_path)  # --force restores under a running controller
    (home / "zerotier-one.pid").write_text(str(os.getpid()))
    assert forced.restore(archive, force=True, drill_first=False).archive == archive
    assert [a for a, _ in _actions(lifecycle)][-2:] == [audit.RESTORE_REFUSED, audit.RESTORED]
