"""The emulator starts, authenticates and serves /status and /controller."""

from __future__ import annotations

from pathlib import Path

import httpx

from ztix_adapters_zerotier.emulator.testing import running_emulator


def test_status_reports_the_emulators_address(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "home") as zt:
        response = httpx.get(f"{zt.url}/status", headers={"X-ZT1-Auth": zt.token})
        assert response.status_code == 200
        body = response.json()
        assert body["address"] == zt.address
        assert body["publicIdentity"].startswith(f"{zt.address}:0:")
        assert body["online"] is True


def test_controller_reports_database_ready(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "home") as zt:
        response = httpx.get(f"{zt.url}/controller", headers={"X-ZT1-Auth": zt.token})
        assert response.status_code == 200
        assert response.json()["databaseReady"] is True
