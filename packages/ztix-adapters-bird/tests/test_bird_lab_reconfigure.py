"""Desired-state rendering under change: adding a member, changing another's max-prefix and
removing a third reconfigure a running route server without resetting anyone else."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import (
    Announcement,
    Bird,
    Lab,
    flapped,
    member_config,
    wait_until,
    write_config,
)
from ztix_adapters_bird.render import protocol_name, render_server
from ztix_adapters_bird.settings import RemotePaths, RouteServerSettings
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

RS, M1, M2, M3 = 65000, 100, 200, 300
HOST = {RS: 1, M1: 11, M2: 12, M3: 13}


def peer(asn: int, limit: int = 100) -> PeerSpec:
    return PeerSpec(
        asn=Asn(asn),
        ipv4=ipaddress.IPv4Address(f"10.79.0.{HOST[asn]}"),
        ipv6=ipaddress.IPv6Address(f"fd79::{HOST[asn]}"),
        max_prefix_v4=limit,
        max_prefix_v6=limit,
        description=f"AS{asn}",
        network_id=NetworkId("0123456789abcdef"),
    )


def deploy(server: RouteServerSettings, peers: list[PeerSpec], config_dir: Path) -> None:
    """Replace the config directory's content with the rendered set (as apply would)."""
    staging = config_dir.with_name(config_dir.name + ".new")
    write_config(render_server(server, peers), staging)
    if config_dir.exists():
        shutil.rmtree(config_dir)
    staging.rename(config_dir)


def established(bird: Bird, name: str) -> str:
    state, since, info = bird.protocol(name)
    assert (state, info) == ("up", "Established"), (name, state, info)
    return since


def start_member(lab: Lab, asn: int, work: Path) -> Bird:
    role = f"m{asn}"
    node = lab.add_node(role, f"10.79.0.{HOST[asn]}/24", f"fd79::{HOST[asn]}/64")
    conf = work / f"{role}.conf"
    conf.write_text(
        member_config(
            asn=asn,
            router_id=f"10.79.0.{HOST[asn]}",
            ipv4=f"10.79.0.{HOST[asn]}",
            ipv6=f"fd79::{HOST[asn]}",
            rs_asn=RS,
            rs_ipv4="10.79.0.1",
            rs_ipv6="fd79::1",
            announcements=[Announcement(f"45.{asn // 100}.0.0/24")],
            log_file=work / f"{role}.log",
        )
    )
    return lab.start_bird(node, conf)


def test_member_changes_reconfigure_without_resetting_others(tmp_path: Path) -> None:
    config_dir = tmp_path / "rs"
    server = RouteServerSettings(
        name="rs",
        asn=Asn(RS),
        router_id=ipaddress.IPv4Address("10.79.0.1"),
        ipv4=ipaddress.IPv4Address("10.79.0.1"),
        ipv6=ipaddress.IPv6Address("fd79::1"),
        paths=RemotePaths(config_dir=str(config_dir), log_file=str(tmp_path / "rs.log")),
    )
    deploy(server, [peer(M1), peer(M2)], config_dir)
    with Lab(tmp_path / "lab") as lab:
        rs = lab.start_bird(
            lab.add_node("rs", "10.79.0.1/24", "fd79::1/64"), config_dir / "bird.conf"
        )
        members = {asn: start_member(lab, asn, tmp_path) for asn in (M1, M2)}
        names = [protocol_name(a, f) for a in (M1, M2) for f in (4, 6)]
        seen: list[dict[str, str]] = []

        def settled() -> dict[str, str]:
            # Established, and the same "since" as at the previous poll (no flap at start).
            now = {n: established(rs, n) for n in names}
            seen.append(now)
            assert len(seen) > 1 and not flapped(seen[-2], now), "sessions not settled yet"
            return now

        before = wait_until(settled, 60, "M1 and M2 sessions", interval=0.5)

        # Add M3 and raise M1's limit: only M3 is new, M1's limit changes in place.
        deploy(server, [peer(M1, limit=200), peer(M2), peer(M3)], config_dir)
        reply = rs.cmd("configure")
        assert "Reconfigured" in reply, reply
        assert "200" in rs.protocol_detail(protocol_name(M1, 4))
        members[M3] = start_member(lab, M3, tmp_path)
        wait_until(lambda: established(rs, protocol_name(M3, 4)), 60, "M3's session")
        assert not flapped(before, {n: established(rs, n) for n in names})

        def m1_has_m3() -> bool:
            prefixes = {r.prefix for r in members[M1].routes()}
            assert "45.3.0.0/24" in prefixes, prefixes
            return True

        wait_until(m1_has_m3, 30, "M1 to learn M3's route")

        # Remove M2: its sessions disappear, M1's stay untouched.
        deploy(server, [peer(M1, limit=200), peer(M3)], config_dir)
        reply = rs.cmd("configure")
        # Removed protocols shut down first: BIRD answers "in progress" (0004), then finishes.
        assert "Reconfigured" in reply or "Reconfiguration in progress" in reply, reply

        def m2_gone() -> bool:
            listing = rs.cmd("show", "protocols")
            assert "AS200_" not in listing, listing
            return True

        wait_until(m2_gone, 20, "M2's sessions to be removed")
        assert not flapped(
            {n: s for n, s in before.items() if "AS100" in n},
            {n: established(rs, n) for n in names if "AS100" in n},
        )
        wait_until(
            lambda: "45.2.0.0/24" not in {r.prefix for r in members[M1].routes()},
            30,
            "M2's route to be withdrawn from M1",
        )
