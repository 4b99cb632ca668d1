"""Hostile member descriptions cannot change the meaning of the config.

Every description is rendered, parsed by the real ``bird -p``, and loaded into a real BIRD
(inside a throw-away network namespace); the daemon must hold exactly the expected
protocols, each with the sanitised description.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_adapters_bird.lab import (
    Lab,
    bird_parse,
    example_peer,
    example_server,
    write_config,
)
from ztix_adapters_bird.render import protocol_names, render_server
from ztix_adapters_bird.settings import RemotePaths
from ztix_adapters_bird.text import MAX_DESCRIPTION, bird_string, sanitize_text

pytestmark = [pytest.mark.bird, pytest.mark.netns]

HOSTILE = [
    'quote " inside',
    "semicolon ; inside",
    "brace } inside",
    "hash # inside",
    "backslash \\ inside",
    "newline \n inside",
    "crlf \r\n inside",
    '"; } protocol bgp evil { neighbor 10.9.9.9 as 666; ipv4; } #',
    '\\"; }; include "/etc/passwd"; #',
    "/* opens a comment",
    "closes one */ here",
    "tab\tand\vvertical\fform feed",
    "nul \x00 byte and \x1b escape",
    "unicode line\u2028separator\u2029paragraph\u0085next line",
    "Ünïcødé Networks – GmbH 日本",
    "x" * 500,
    "",
    "   ",
    "define ZTIX_RS_ASN = 1;",
]


def _descriptions(text: str) -> dict[str, str]:
    """Protocol name -> Description line from ``show protocols all``."""
    out: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        head = re.match(r"^(\S+)\s+BGP\s", line)
        if head:
            current = head.group(1)
        elif current and line.strip().startswith("Description:"):
            out[current] = line.split("Description:", 1)[1].strip()
    return out


def test_hostile_descriptions_parse_and_load_as_plain_text(tmp_path: Path) -> None:
    peers = [example_peer(i, description=d) for i, d in enumerate(HOSTILE)]
    server = example_server(paths=RemotePaths(log_file=str(tmp_path / "rs.log")))
    files = render_server(server, peers)
    for content in files.values():
        text = content.decode("utf-8")
        assert "evil" not in re.sub(r'description "[^"\n]*";', "", text)
    main = write_config(files, tmp_path / "conf")
    bird_parse(main)
    with Lab(tmp_path / "lab") as lab:
        node = lab.add_node("rs", "10.0.0.1/24", "fd00::1/64")
        bird = lab.start_bird(node, main)
        listing = bird.cmd("show", "protocols")
        bgp = {ln.split()[0] for ln in listing.splitlines() if re.match(r"^\S+\s+BGP\s", ln)}
        assert bgp == set(protocol_names(peers)), "a description created or removed a protocol"
        described = _descriptions(bird.cmd("show", "protocols", "all"))
    for peer in peers:
        want = sanitize_text(peer.description) or f"AS{int(peer.asn)}"
        for name in protocol_names([peer]):
            assert described[name] == want, (peer.description, described[name])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(st.text(max_size=300))
def test_sanitized_text_is_one_safe_line(text: str) -> None:
    clean = sanitize_text(text)
    assert len(clean) <= MAX_DESCRIPTION
    assert '"' not in clean and "\\" not in clean
    assert clean.isprintable()
    assert clean == clean.strip()
    literal = bird_string(text)
    assert literal.startswith('"') and literal.endswith('"') and literal.count('"') == 2


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=4))
def test_random_descriptions_always_parse(tmp_path: Path, texts: list[str]) -> None:
    peers = [example_peer(i, description=t) for i, t in enumerate(texts)]
    files = render_server(example_server(), peers)
    target = tmp_path / f"c{abs(hash(tuple(texts)))}"
    bird_parse(write_config(files, target))
