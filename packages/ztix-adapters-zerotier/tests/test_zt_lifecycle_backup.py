"""Backup, retention, verification, restore (identity guarded) and the restore drill, on
homes written by the controller emulator."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import ipaddress
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_zerotier import audit
from ztix_adapters_zerotier.backup import (
    BackupError,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from ztix_adapters_zerotier.drill import run_drill
from ztix_adapters_zerotier.emulator.server import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import running_emulator
from ztix_adapters_zerotier.lifecycle import ControllerLifecycle
from ztix_adapters_zerotier.testing import (
    network_settings,
    peering_network,
    self_hosted_provider,
    self_hosted_settings,
)
from ztix_core.errors import SettingsError
from ztix_core.memory import FixedClock, InMemoryStore
from ztix_core.values import NodeId

NODE = NodeId("0a1b2c3d4e")
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "zerotier-one") as server:
        net = peering_network(server.address)
        provider = self_hosted_provider(server)
        provider.ensure_network(net)
        provider.authorize_member(net.id, NODE, [ipaddress.ip_address("198.51.100.10")], "AS64500")
        yield server


def snapshot(home: Path) -> dict[str, bytes]:
    return {
        p.relative_to(home).as_posix(): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def rewrite(archive: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """Copy ``archive`` to ``target`` replacing (or, for None, dropping) members by name,
    keeping the original manifest."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name in change:
                new = change.pop(member.name)
                if new is None:
                    continue
                data = new
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
        for name, data in change.items():
            assert data is not None
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return target


def test_backup_holds_state_identity_and_a_checksummed_manifest(
    zt: EmulatorServer, tmp_path: Path
) -> None:
    result = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0)
    assert result.path.name == "ztix-controller-backup-20260501T120000000000Z.tar.gz"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    files = set(result.manifest.files)
    assert {"identity.secret", "identity.public", "authtoken.secret"} <= files
    assert any(f.startswith("controller.d/network/") and "/member/" in f for f in files)
    assert result.manifest.controller == zt.address
    with tarfile.open(result.path, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for name, digest in manifest["files"].items():
            data = tar.extractfile(name).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == digest
            assert data == (zt.home / name).read_bytes()
    assert verify_backup(result.path) == result.manifest


def test_retention_keeps_exactly_the_newest_n(zt: EmulatorServer, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    made = [
        create_backup(zt.home, backups, retention=3, now=T0 + dt.timedelta(hours=i)).path
        for i in range(6)
    ]
    (backups / "unrelated.txt").write_text("not ours")
    kept = list_backups(backups)
    assert kept == made[-3:]
    assert (backups / "unrelated.txt").exists()
    last = create_backup(zt.home, backups, retention=2, now=T0 + dt.timedelta(days=1))
    assert list_backups(backups) == [made[-1], last.path]
    assert set(last.removed) == set(made[-3:-1])
    same = create_backup(zt.home, backups, retention=5, now=T0 + dt.timedelta(days=1))
    assert same.path != last.path  # same instant: still a distinct archive
    assert len(list_backups(backups)) == 3


def test_retention_below_one_is_refused(zt: EmulatorServer, tmp_path: Path) -> None:
    with pytest.raises(BackupError) as info:
        create_backup(zt.home, tmp_path / "b", retention=0)
    assert info.value.kind == "bad_setting"
    assert not (tmp_path / "b").exists()


def test_not_a_controller_home_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for home in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(BackupError) as info:
            create_backup(home, tmp_path / "b", retention=1)
        assert info.value.kind == "not_a_home"
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "damage",
    ["flip", "truncate", "tampered", "missing", "extra", "traversal", "no_manifest", "garbage"],
)
def test_corrupted_backup_is_refused_and_nothing_is_touched(
    zt: EmulatorServer, tmp_path: Path, damage: str
) -> None:
    good = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    bad = tmp_path / "bad.tar.gz"
    member = next(n for n in verify_backup(good).files if n.startswith("controller.d/"))
    if damage == "flip":
        data = bytearray(good.read_bytes())
        data[len(data) // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif damage == "truncate":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "tampered":
        rewrite(good, bad, {member: b'{"id": "evil"}'})
    elif damage == "missing":
        rewrite(good, bad, {member: None})
    elif damage == "extra":
        rewrite(good, bad, {"controller.d/network/extra.json": b"{}"})
    elif damage == "traversal":
        rewrite(good, bad, {"../escape": b"x"})
    elif damage == "no_manifest":
        rewrite(good, bad, {"manifest.json": None})
    else:
        bad.write_bytes(b"not a tarball at all")
    zt.stop()
    before = snapshot(zt.home)
    with pytest.raises(BackupError) as info:
        restore_backup(bad, zt.home)
    assert info.value.kind == "corrupt"
    assert snapshot(zt.home) == before
    assert not (tmp_path / "escape").exists()
    report = run_drill(bad)
    assert not report.passed and report.stage == "restore"


def test_restore_with_a_different_identity_is_refused_unless_forced(
    zt: EmulatorServer, tmp_path: Path
) -> None:
    archive = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    with running_emulator(tmp_path / "other-home") as other:
        other_address = other.address
    other_home = tmp_path / "other-home"
    before = snapshot(other_home)
    with pytest.raises(BackupError) as info:
        restore_backup(archive, other_home)
    assert info.value.kind == "identity_mismatch"
    assert zt.address in str(info.value) and other_address in str(info.value)
    assert "--force" in info.value.remediation
    assert snapshot(other_home) == before
    forced = restore_backup(archive, other_home, force=True)
    assert forced.forced and forced.previous is not None
    assert (forced.previous / "identity.public").read_bytes() == before["identity.public"]
    with running_emulator(other_home) as restored:
        assert restored.address == zt.address


def test_restore_brings_back_lost_state_with_owner_only_files(
    zt: EmulatorServer, tmp_path: Path
) -> None:
    net = peering_network(zt.address)
    archive = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    provider = self_hosted_provider(zt)
    provider.remove_member(net.id, NODE)
    assert provider.read_member(net.id, NODE) is None
    zt.stop()
    result = restore_backup(archive, zt.home)
    assert result.previous is not None and not result.forced
    for name in ("identity.secret", "authtoken.secret"):
        assert stat.S_IMODE((zt.home / name).stat().st_mode) == 0o600
    for path in (zt.home / "controller.d").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)
    zt.restart()
    state = self_hosted_provider(zt).read_member(net.id, NODE)
    assert state is not None and state.authorized


def test_drill_passes_on_a_good_backup(zt: EmulatorServer, tmp_path: Path) -> None:
    archive = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    net = peering_network(zt.address)
    report = run_drill(archive, required_ids=["abcdef"], networks=[network_settings(net)])
    assert report.passed, report.summary()
    assert report.controller_kind == "emulator"
    assert report.records is not None and report.records.networks == {str(net.id): 1}
    refused = run_drill(archive, required_ids=["4444444444000001"])
    assert not refused.passed and "refused" in refused.summary()


def test_drill_fails_when_a_required_network_is_not_in_the_backup(
    zt: EmulatorServer, tmp_path: Path
) -> None:
    archive = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    report = run_drill(archive, required_ids=["000001"])
    assert not report.passed and report.stage == "networks"
    assert f"{zt.address}000001" in report.summary()


def test_lifecycle_backup_restore_drill_are_audited(zt: EmulatorServer, tmp_path: Path) -> None:
    store = InMemoryStore()
    clock = FixedClock(T0)
    settings = self_hosted_settings(
        zt,
        zt_controller_backup_dir=str(tmp_path / "backups"),
        zt_controller_backup_retention_count=2,
    )
    lifecycle = ControllerLifecycle(
        self_hosted_provider(zt), settings, uow_factory=store, clock=clock
    )
    first = lifecycle.backup()
    clock.advance(hours=1)
    second = lifecycle.backup()
    clock.advance(hours=1)
    third = lifecycle.backup()
    assert third.removed == (first.path,)
    assert lifecycle.drill().passed
    zt.stop()
    restored = lifecycle.restore()  # newest, drill first
    assert restored.archive == third.path
    bad = tmp_path / "backups" / "ztix-controller-backup-20260501T150000000000Z.tar.gz"
    bad.write_bytes(b"garbage")
    os.chmod(bad, 0o600)
    with pytest.raises(BackupError) as info:
        lifecycle.restore(bad)
    assert info.value.kind == "corrupt"
    with store() as uow:
        events = uow.audit.for_target(audit.TARGET_TYPE, "self_hosted_controller")
    assert [e.action for e in events] == [
        audit.BACKUP_CREATED,
        audit.BACKUP_CREATED,
        audit.BACKUP_CREATED,
        audit.DRILL_PASSED,
        audit.DRILL_PASSED,
        audit.RESTORED,
        audit.RESTORE_REFUSED,
    ]
    assert events[2].metadata["removed"] == [first.path.name]
    assert second.path.exists()
    token = zt.token
    assert all(token not in repr(e.metadata) for e in events)
    for event in events:  # storable as JSON by every storage backend
        assert json.loads(json.dumps(event.metadata)) == event.metadata


def test_lifecycle_names_missing_settings(zt: EmulatorServer) -> None:
    lifecycle = ControllerLifecycle(
        self_hosted_provider(zt), self_hosted_settings(zt, zt_controller_home=None)
    )
    with pytest.raises(SettingsError) as info:
        lifecycle.backup()
    assert info.value.setting == "ZT_CONTROLLER_HOME"
    lifecycle = ControllerLifecycle(self_hosted_provider(zt), self_hosted_settings(zt))
    with pytest.raises(SettingsError) as info:
        lifecycle.backup()
    assert info.value.setting == "ZT_CONTROLLER_BACKUP_DIR"


def test_restore_is_refused_when_the_drill_fails(zt: EmulatorServer, tmp_path: Path) -> None:
    settings = self_hosted_settings(zt, zt_controller_backup_dir=str(tmp_path / "backups"))
    provider = self_hosted_provider(zt, required_ids=["5555555555000001"])
    lifecycle = ControllerLifecycle(provider, settings)
    lifecycle.backup()
    zt.stop()
    before = snapshot(zt.home)
    with pytest.raises(BackupError) as info:
        lifecycle.restore()
    assert info.value.kind == "drill_failed"
    assert "5555555555000001" in str(info.value)
    assert snapshot(zt.home) == before


def test_identity_guard_uses_the_secret_when_the_public_file_is_missing(
    zt: EmulatorServer, tmp_path: Path
) -> None:
    archive = create_backup(zt.home, tmp_path / "backups", retention=3, now=T0).path
    with running_emulator(tmp_path / "other"):
        pass
    (tmp_path / "other" / "identity.public").unlink()
    with pytest.raises(BackupError) as info:
        restore_backup(archive, tmp_path / "other")
    assert info.value.kind == "identity_mismatch"
