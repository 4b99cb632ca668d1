"""No change for members whose facts did not change: a config push after one member
joined, left or changed leaves every other member's peer file byte for byte as it was.

A Hypothesis property over the renderer (random member sets, one member added, removed
or modified), and one real apply to a BIRD in the lab: adding one member uploads only
that member's file (and whatever shared file changed), the manifest the apply keeps on
the server lists the same hash for every other file, and their inodes do not move.
"""

from __future__ import annotations

import ipaddress
import os

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_adapters_bird.apply import MANIFEST, parse_manifest
from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import example_server
from ztix_adapters_bird.render import peer_file_name, render_server
from ztix_adapters_bird.settings import BirdSettings, PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.testing import TEST_USER, BirdLab, simple_config
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

NET = NetworkId("8056c2e21c000001")
SERVER = example_server()
#: Public ASNs a route server accepts (not private, reserved or documentation).
ASNS = st.integers(min_value=1000, max_value=60000).filter(lambda a: a not in (23456,))


def member(asn: int, slot: int, v4: int = 100, v6: int = 50, name: str = "") -> PeerSpec:
    return PeerSpec(
        Asn(asn),
        ipaddress.IPv4Address(0x64400000 + 10 + slot),  # 100.64.0.10 + slot
        ipaddress.IPv6Address(f"fd64::{10 + slot:x}"),
        v4,
        v6,
        name or f"member {asn}",
        NET,
    )


@st.composite
def member_sets(draw: st.DrawFn) -> list[PeerSpec]:
    asns = draw(st.lists(ASNS, min_size=1, max_size=12, unique=True))
    limits = st.integers(min_value=1, max_value=5000)
    names = st.text(st.characters(codec="utf-8"), max_size=40)
    return [
        member(asn, slot, draw(limits), draw(limits), draw(names)) for slot, asn in enumerate(asns)
    ]


def peer_files(files: dict[str, bytes]) -> dict[str, bytes]:
    return {n: b for n, b in files.items() if n.startswith("peers/")}


def unchanged_others(before: dict[str, bytes], after: dict[str, bytes], touched: int) -> None:
    """Every peer file but ``touched``'s is in both sets with the same bytes."""
    skip = peer_file_name(touched)
    old = {n: b for n, b in peer_files(before).items() if n != skip}
    new = {n: b for n, b in peer_files(after).items() if n != skip}
    assert old == new


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members=member_sets(), asn=ASNS, data=st.data())
def test_one_member_joining_leaving_or_changing_touches_only_its_file(
    members: list[PeerSpec], asn: int, data: st.DataObject
) -> None:
    before = render_server(SERVER, members)
    # joins (an ASN not yet present, on a free address)
    if asn not in {int(p.asn) for p in members}:
        joined = [*members, member(asn, len(members) + 1)]
        after = render_server(SERVER, sorted(joined, key=lambda p: int(p.asn)))
        unchanged_others(before, after, asn)
        assert peer_file_name(asn) in after and peer_file_name(asn) not in before
    # leaves
    leaving = data.draw(st.sampled_from(members))
    rest = [p for p in members if p != leaving]
    after = render_server(SERVER, rest)
    unchanged_others(before, after, int(leaving.asn))
    assert peer_file_name(int(leaving.asn)) not in after
    # its facts change (max-prefix, name)
    changed = attrs.evolve(
        leaving,
        max_prefix_v4=leaving.max_prefix_v4 % 5000 + 1,
        description=leaving.description + " (renamed)",
    )
    after = render_server(SERVER, [changed if p == leaving else p for p in members])
    unchanged_others(before, after, int(leaving.asn))
    assert after[peer_file_name(int(leaving.asn))] != before[peer_file_name(int(leaving.asn))]
    # and the order the members come in changes nothing at all
    shuffled = data.draw(st.permutations(members))
    assert render_server(SERVER, shuffled) == before


@pytest.mark.bird
def test_an_apply_after_one_member_joined_uploads_only_what_changed(lab: BirdLab) -> None:
    d = lab.daemon("rs1", simple_config("10.0.0.1", {}), config_owner=TEST_USER)
    server = RouteServerSettings(
        "rs1",
        Asn(64999),
        ipaddress.IPv4Address("10.0.0.1"),
        transport="local",
        paths=d.paths(),
        policy=PolicyKnobs(confirm_timeout_s=30),
    )
    fleet = BirdFleet(BirdSettings((server,), retry_for_s=60, retry_initial_backoff_s=0.2))
    members = [member(asn, slot) for slot, asn in enumerate((3320, 6939, 13335, 15169))]
    newcomer = member(8075, 20)  # sorts in the middle: nobody's position matters
    try:
        assert fleet.apply(members)[0].result == "applied"
        _, hashes_before = parse_manifest((d.config_dir / MANIFEST).read_text().splitlines())
        inodes = {n: os.stat(d.config_dir / n).st_ino for n in d.files()}

        grown = sorted([*members, newcomer], key=lambda p: int(p.asn))
        outcome = fleet.apply(grown)[0]
        assert outcome.result == "applied", outcome
        _, hashes_after = parse_manifest((d.config_dir / MANIFEST).read_text().splitlines())

        changed = {n for n in hashes_after if hashes_before.get(n) != hashes_after[n]}
        shared = {n for n in changed if not n.startswith("peers/")}
        assert changed - shared == {peer_file_name(8075)}
        # what the apply uploaded: the newcomer's file and any shared file that changed
        assert fleet.last_stats["rs1"].uploaded_files == len(changed)
        # every other file: same hash in the manifest, same bytes, same inode on disk
        assert d.files() == render_server(server, grown)
        for name in hashes_before:
            if name not in changed:
                assert hashes_after[name] == hashes_before[name], name
                assert os.stat(d.config_dir / name).st_ino == inodes[name], name
    finally:
        fleet.close()
