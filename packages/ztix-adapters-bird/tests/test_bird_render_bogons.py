"""The bogon sets in the rendered config match exactly what ``bogons.py`` says, as evaluated
by a real BIRD (``birdc eval`` against the rendered ``define``s)."""

from __future__ import annotations

import ipaddress
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_bird import bogons
from ztix_adapters_bird.lab import BIRD, BIRDC, example_server, wait_until, write_config
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import PolicyKnobs

pytestmark = pytest.mark.bird

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


class Evaluator:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, expr: str) -> bool:
        out = subprocess.run(
            [BIRDC, "-s", str(self.socket), "eval", expr],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert out[-1] in ("TRUE", "FALSE"), out
        return out[-1] == "TRUE"


def _daemon(tmp: Path, allow_doc: bool) -> Iterator[Evaluator]:
    # No members and no RPKI source: the config holds no BGP or RTR protocol, so the daemon
    # opens no sockets besides its control socket.
    server = example_server(policy=PolicyKnobs(allow_documentation_ranges=allow_doc))
    main = write_config(render_server(server, []), tmp)
    socket = tmp / "bird.ctl"
    proc = subprocess.Popen(
        [BIRD, "-f", "-c", str(main), "-s", str(socket)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ev = Evaluator(socket)

        def ready() -> bool:
            assert proc.poll() is None, "BIRD exited"
            try:
                return ev("1 = 1")
            except (subprocess.CalledProcessError, AssertionError):
                return False

        wait_until(ready, 10, "BIRD to answer")
        yield ev
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module", params=[False, True], ids=["production", "lab-switch"])
def bird_eval(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Evaluator, bool]]:
    allow_doc = bool(request.param)
    for ev in _daemon(tmp_path_factory.mktemp("bogons"), allow_doc):
        yield ev, allow_doc


def _samples() -> list[Net]:
    nets: set[Net] = set()
    for b in (*bogons.BOGONS_V4, *bogons.BOGONS_V6):
        p: Net = b.prefix
        nets.add(p)
        if p.prefixlen < p.max_prefixlen:
            halves: list[Net] = list(p.subnets(prefixlen_diff=1))
            nets.update(halves)
            nets.add(type(p)((p.network_address, p.max_prefixlen)))
        if p.prefixlen > 0:
            nets.add(p.supernet())
            after = int(p.broadcast_address) + 1
            if after < 2**p.max_prefixlen:
                nets.add(type(p)((after, p.prefixlen), strict=False))
    rng = random.Random(5)
    for _ in range(150):
        nets.add(ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(0, 32)), strict=False))
        nets.add(ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(0, 64)), strict=False))
    for text in ("2000::/3", "1fff::/16", "3000::/16", "2001::/32", "2001:0:1::/48", "::/0"):
        nets.add(ipaddress.IPv6Network(text))
    return sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))


def test_prefix_sets_match_python(bird_eval: tuple[Evaluator, bool]) -> None:
    ev, allow_doc = bird_eval
    mismatches = []
    for net in _samples():
        if net.version == 4:
            expr = f"{net} ~ ZTIX_BOGONS_V4"
        else:
            expr = f"{net} ~ ZTIX_BOGONS_V6 || !({net} ~ ZTIX_GLOBAL_UNICAST_V6)"
        want = bogons.prefix_bogon_reason(net, allow_documentation=allow_doc) is not None
        if ev(expr) != want:
            mismatches.append((str(net), want))
    assert not mismatches


def test_asn_set_matches_python(bird_eval: tuple[Evaluator, bool]) -> None:
    ev, allow_doc = bird_eval
    asns = {0, 1, 2**32 - 1, 2**32 - 2, 3356, 131072, 199999}
    for r in bogons.BOGON_ASNS:
        asns.update({r.first - 1, r.first, r.last, r.last + 1})
    asns = {a for a in asns if 0 <= a < 2**32}
    mismatches = []
    for asn in sorted(asns):
        want = bogons.asn_bogon_reason(asn, allow_documentation=allow_doc) is not None
        if ev(f"{asn} ~ ZTIX_BOGON_ASNS") != want:
            mismatches.append((asn, want))
    assert not mismatches


def test_documentation_ranges_are_bogons_in_production() -> None:
    for text in ("192.0.2.0/24", "198.51.100.7/32", "203.0.113.0/25", "2001:db8::/48", "3fff::/24"):
        net = ipaddress.ip_network(text)
        assert bogons.prefix_bogon_reason(net) is not None
        assert bogons.prefix_bogon_reason(net, allow_documentation=True) is None
    for asn in (64496, 64511, 65536, 65551):
        assert bogons.asn_bogon_reason(asn) is not None
        assert bogons.asn_bogon_reason(asn, allow_documentation=True) is None
    for asn in (0, 23456, 64512, 65535, 70000, 4_200_000_000, 4_294_967_295):
        assert bogons.asn_bogon_reason(asn, allow_documentation=True) is not None
    assert bogons.asn_bogon_reason(3356) is None
    assert bogons.prefix_bogon_reason(ipaddress.ip_network("1.1.1.0/24")) is None
