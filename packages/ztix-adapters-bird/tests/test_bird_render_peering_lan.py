"""The exchange's own peering LAN is never accepted from a member: its prefixes join the
bogon sets (checked by a real BIRD with ``birdc eval``), filled in from the configured
networks when the route server's policy names none."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import BIRD, BIRDC, example_server, wait_until, write_config
from ztix_adapters_bird.plugin import with_peering_lans
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs
from ztix_core.settings import NetworkSettings, Settings
from ztix_core.values import NetworkId

pytestmark = pytest.mark.bird

LAN4 = ipaddress.IPv4Network("185.1.0.0/24")
LAN6 = ipaddress.IPv6Network("2a0c:b641:780::/64")


def _eval(socket: Path, expr: str) -> bool:
    out = subprocess.run(
        [BIRDC, "-s", str(socket), "eval", expr], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out[-1] in ("TRUE", "FALSE"), out
    return out[-1] == "TRUE"


def test_peering_lan_prefixes_are_bogons_to_a_real_bird(tmp_path: Path) -> None:
    policy = PolicyKnobs(peering_lan_v4=(LAN4,), peering_lan_v6=(LAN6,))
    files = render_server(example_server(policy=policy), [])
    assert b"185.1.0.0/24+" in files["bird.conf"]
    main = write_config(files, tmp_path)
    socket = tmp_path / "bird.ctl"
    proc = subprocess.Popen(
        [BIRD, "-f", "-c", str(main), "-s", str(socket)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            assert proc.poll() is None, "BIRD exited"
            try:
                return _eval(socket, "1 = 1")
            except subprocess.CalledProcessError:
                return False

        wait_until(ready, 10, "BIRD to answer")
        assert _eval(socket, "185.1.0.0/24 ~ ZTIX_BOGONS_V4")
        assert _eval(socket, "185.1.0.128/25 ~ ZTIX_BOGONS_V4")
        assert not _eval(socket, "185.1.1.0/24 ~ ZTIX_BOGONS_V4")
        assert not _eval(socket, "185.0.0.0/16 ~ ZTIX_BOGONS_V4")
        assert _eval(socket, "2a0c:b641:780::/64 ~ ZTIX_BOGONS_V6")
        assert _eval(socket, "2a0c:b641:780::/80 ~ ZTIX_BOGONS_V6")
        assert not _eval(socket, "2a0c:b641:781::/48 ~ ZTIX_BOGONS_V6")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_configured_networks_fill_in_the_peering_lan() -> None:
    settings = Settings(
        networks=(NetworkSettings(NetworkId("0123456789abcdef"), "lan", LAN4, LAN6),)
    )
    own = ipaddress.IPv4Network("185.2.0.0/24")
    section = BirdSettings(
        (
            example_server(),
            example_server(name="rs2", policy=PolicyKnobs(peering_lan_v4=(own,))),
        )
    )
    rs1, rs2 = with_peering_lans(section, settings).servers
    assert (rs1.policy.peering_lan_v4, rs1.policy.peering_lan_v6) == ((LAN4,), (LAN6,))
    assert (rs2.policy.peering_lan_v4, rs2.policy.peering_lan_v6) == ((own,), (LAN6,))


def test_peering_lan_settings_are_validated() -> None:
    from ztix_core.errors import SettingsError

    raw = {
        "servers": [
            {
                "name": "rs1",
                "asn": 64999,
                "router_id": "10.0.0.1",
                "policy": {"peering_lan_v4": ["185.1.0.1/24"]},
            }
        ]
    }
    with pytest.raises(SettingsError) as info:
        Settings(sections={"bird": raw}).section("bird", BirdSettings)
    assert "bird.servers" in info.value.setting
