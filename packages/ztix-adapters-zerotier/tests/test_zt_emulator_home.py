"""The emulator's state lives in a zerotier-one home: identity files, authtoken.secret and
controller.d/ network and member JSON; a restored copy serves the same controller."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer, Identity, IdentityError, read_identity
from ztix_adapters_zerotier.emulator.identity import derive_address
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator
from ztix_adapters_zerotier.testing import REAL_ADDRESS, REAL_IDENTITY_SECRET

NODE = "0a1b2c3d4e"


def _populate(zt: EmulatorServer) -> str:
    with api_client(zt) as client:
        nwid: str = client.post(
            f"/controller/network/{zt.address}______",
            json={"name": "lan", "routes": [{"target": "192.0.2.0/24"}]},
        ).json()["id"]
        client.post(
            f"/controller/network/{nwid}/member/{NODE}",
            json={"authorized": True, "ipAssignments": ["192.0.2.10"], "name": "AS64500"},
        )
    return nwid


def _snapshot(zt: EmulatorServer, nwid: str) -> tuple[object, ...]:
    with api_client(zt) as client:
        return (
            client.get("/status").json()["address"],
            client.get("/controller/network").json(),
            client.get(f"/controller/network/{nwid}").json(),
            client.get(f"/controller/network/{nwid}/member").json(),
            client.get(f"/controller/network/{nwid}/member/{NODE}").json(),
        )


def test_home_layout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        nwid = _populate(zt)
    names = {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}
    assert {
        "identity.secret",
        "identity.public",
        "authtoken.secret",
        f"controller.d/network/{nwid}.json",
        f"controller.d/network/{nwid}/member/{NODE}.json",
    } <= names
    assert not [n for n in names if n.endswith(".tmp")]
    for secret in ("identity.secret", "authtoken.secret"):
        assert stat.S_IMODE((home / secret).stat().st_mode) == 0o600
    member = json.loads((home / f"controller.d/network/{nwid}/member/{NODE}.json").read_text())
    assert member["ipAssignments"] == ["192.0.2.10"]
    assert member["nwid"] == nwid


def test_identity_files_agree_and_a_generated_address_derives_from_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        address = zt.address
    secret = (home / "identity.secret").read_text()
    public = (home / "identity.public").read_text()
    assert secret.startswith(public + ":")
    assert public.startswith(f"{address}:0:")
    ident = read_identity(home)
    assert ident.address == address == derive_address(ident.public_key)


def test_restart_on_the_same_home_serves_the_same_controller(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        nwid = _populate(zt)
        before = _snapshot(zt, nwid)
        token = zt.token
    with running_emulator(home) as zt:
        assert zt.token == token
        assert _snapshot(zt, nwid) == before


def test_a_restored_copy_serves_the_same_networks_members_and_address(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        nwid = _populate(zt)
        before = _snapshot(zt, nwid)
    restored = tmp_path / "restored"
    for name in ("identity.secret", "identity.public", "authtoken.secret"):
        restored.mkdir(exist_ok=True)
        shutil.copy2(home / name, restored / name)
    shutil.copytree(home / "controller.d", restored / "controller.d")
    with running_emulator(restored) as zt:
        assert _snapshot(zt, nwid) == before
        with api_client(zt) as client:  # and it keeps working: revision continues
            member = client.post(
                f"/controller/network/{nwid}/member/{NODE}", json={"authorized": False}
            ).json()
            assert member["revision"] == 2


def test_missing_public_identity_is_rewritten(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        address = zt.address
    (home / "identity.public").unlink()
    with running_emulator(home) as zt:
        assert zt.address == address
    assert (home / "identity.public").read_text().startswith(address)


def test_mismatched_identity_files_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "identity.secret").write_text(Identity.generate().secret)
    (home / "identity.public").write_text(Identity.generate().public)
    with pytest.raises(IdentityError, match="does not match"):
        EmulatorServer(home)


@pytest.mark.parametrize(
    "text", ["", "garbage", "0123456789:0:abcd:ef01", "reserved", "pair_differs"], ids=str
)
def test_malformed_or_inconsistent_identity_is_refused(tmp_path: Path, text: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if text == "reserved":
        ident = Identity.generate()
        text = f"ff{ident.address[2:]}:0:{ident.public_key}:{ident.private_key}"
    elif text == "pair_differs":  # the public part of the secret is not identity.public
        ident, other = Identity.generate(), Identity.generate()
        text = ident.secret
        (home / "identity.public").write_text(f"{ident.address}:0:{other.public_key}")
    (home / "identity.secret").write_text(text)
    with pytest.raises(IdentityError):
        EmulatorServer(home)
    assert not (home / "authtoken.secret").exists()  # nothing was written


def test_a_real_zerotier_identity_is_accepted(tmp_path: Path) -> None:
    """A real zerotier-one identity's address comes from a memory-hard hash, not the
    emulator's SHA-512 rule: the emulator must serve it (regression: it refused it)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "identity.secret").write_text(REAL_IDENTITY_SECRET)
    assert derive_address(REAL_IDENTITY_SECRET.split(":")[2]) != REAL_ADDRESS
    with running_emulator(home) as zt, api_client(zt) as client:
        assert zt.address == REAL_ADDRESS
        assert client.get("/status").json()["address"] == REAL_ADDRESS
    assert (home / "identity.public").read_text() == REAL_IDENTITY_SECRET.rsplit(":", 1)[0]


def test_unreadable_records_are_skipped_like_filedb(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_emulator(home) as zt:
        nwid = _populate(zt)
    (home / "controller.d" / "network" / "0123456789abcdef.json").write_text("{broken")
    with running_emulator(home) as zt, api_client(zt) as client:
        assert client.get("/controller/network").json() == [nwid]


def test_port_file_is_written(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "home") as zt:
        assert (zt.home / "zerotier-one.port").read_text() == str(zt.port)
        assert httpx.get(f"{zt.url}/status", params={"auth": zt.token}).status_code == 200
