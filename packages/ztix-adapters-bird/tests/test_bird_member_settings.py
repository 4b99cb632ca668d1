"""An admin's per-member settings reach a real BIRD config: the display name becomes the
sessions' description and the max-prefix overrides their import limits, through the core
(MemberSettings → Provisioner's desired state) and the renderer, parsed by ``bird -p``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import bird_parse, example_server, write_config
from ztix_adapters_bird.render import peer_file_name, render_server
from ztix_adapters_bird.settings import PolicyKnobs
from ztix_core.testing.world import ADMIN, make_world
from ztix_core.usecases import MemberSettings

pytestmark = pytest.mark.bird


def test_display_name_and_max_prefix_overrides_render_and_parse(tmp_path: Path) -> None:
    world = make_world()
    members = MemberSettings(
        world.store, world.clock, world.fleet.servers, allow_documentation_asns=True
    )
    named = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0001").id
    plain = world.workflow.submit(world.user.id, 64501, world.network.id, "abcdef0002").id
    members.approve(ADMIN, named, ipv4="10.1.0.64", ipv6="fd00:1::64")
    members.approve(ADMIN, plain)
    members.set(
        ADMIN,
        named,
        display_name='Example "Edge" Networks; } protocol',
        max_prefix_v4=4321,
        max_prefix_v6=765,
    )
    for rid in (named, plain):
        world.provisioner.provision(rid)
    with world.store() as uow:
        peers, _ = world.provisioner.desired_state(uow)
    lab = PolicyKnobs(allow_documentation_ranges=True)  # the world's members use AS645xx
    files = render_server(example_server(policy=lab), peers)
    bird_parse(write_config(files, tmp_path))

    text = files[peer_file_name(64500)].decode()
    # the name is kept as text: BIRD strings cannot carry '"', so it becomes "'"
    assert text.count("description \"Example 'Edge' Networks; } protocol\";") == 2
    assert "neighbor 10.1.0.64 as 64500;" in text and "neighbor fd00:1::64 as 64500;" in text
    assert re.findall(r"import limit (\d+) action restart;", text) == ["4321", "765"]
    other = files[peer_file_name(64501)].decode()
    assert other.count('description "AS64501";') == 2
    assert re.findall(r"import limit (\d+) action restart;", other) == ["100", "50"]
