"""Members' router snippets on real routers: two route servers, a BIRD member and an FRR
member, each member running the snippet ztix wrote for it, unchanged.

Network namespaces around a bridge (``ztix_adapters_bird.lab``): two route-server BIRDs
on the config ``render_server`` produced, a member BIRD whose main file holds only what
every BIRD config has (router id, log, ``protocol device``) plus the route it originates,
and includes the snippet file as written; and a member FRR (zebra + bgpd) started on the
snippet file itself (``bgpd -f``). The tests wait (polling) until every session is
Established on both families and the BIRD member's route reaches the FRR member through
the route servers, with the announcing member's ASN first in the AS path: the route
servers are transparent, which the snippets' first-AS settings must allow. Needs root and
Debian's ``bird2`` and ``frr``; without them the lab raises and these tests fail.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from ztix_adapters_bird.lab import Bird, Lab, LabError, Node, wait_until
from ztix_adapters_bird.render import protocol_name, render_server
from ztix_adapters_bird.settings import BirdSettings, RemotePaths, RouteServerSettings
from ztix_adapters_bird.snippets import BirdRouterConfigs
from ztix_core.ports import MemberRouter, PeerSpec, RouterSnippet
from ztix_core.values import Asn, NetworkId

pytestmark = [pytest.mark.bird, pytest.mark.netns]

FRR_DIR = Path("/usr/lib/frr")
VTYSH = "/usr/bin/vtysh"
RS_ASN = 65000
RS = {"rs1": 1, "rs2": 2}
BIRD_M, FRR_M = 100, 200
#: Controls: the same snippets with first-AS enforcement turned on by the test.
BIRD_X, FRR_X = 300, 400
ADDR = {BIRD_M: 11, FRR_M: 12, BIRD_X: 13, FRR_X: 14}
NET = NetworkId("0123456789abcdef")
LAN4 = ipaddress.IPv4Network("10.78.0.0/24")
LAN6 = ipaddress.IPv6Network("fd78::/64")
ROUTE4, ROUTE6 = "45.100.1.0/24", "2a0a:100:1::/48"


def v4(host: int) -> ipaddress.IPv4Address:
    return LAN4[host]


def v6(host: int) -> ipaddress.IPv6Address:
    return LAN6[host]


def _servers(work: Path) -> list[RouteServerSettings]:
    return [
        RouteServerSettings(
            name=name,
            asn=Asn(RS_ASN),
            router_id=v4(host),
            ipv4=v4(host),
            ipv6=v6(host),
            paths=RemotePaths(config_dir=str(work / name), log_file=str(work / f"{name}.log")),
        )
        for name, host in RS.items()
    ]


def _peers() -> list[PeerSpec]:
    return [
        PeerSpec(Asn(asn), v4(host), v6(host), 100, 100, f"member AS{asn}", NET)
        for asn, host in ADDR.items()
    ]


def _member(asn: int) -> MemberRouter:
    host = ADDR[asn]
    return MemberRouter(
        asn=Asn(asn),
        name=f'Member "{asn}"\n}} protocol evil',
        network_id=NET,
        ipv4=v4(host),
        ipv6=v6(host),
        lan_v4=LAN4,
        lan_v6=LAN6,
        accepted_v4=100,
        accepted_v6=100,
        suggested_v4=1000,
        suggested_v6=500,
    )


def _snippet(snippets: list[RouterSnippet], flavour: str) -> RouterSnippet:
    return next(s for s in snippets if s.flavour == flavour)


@attrs.define
class Frr:
    """zebra + bgpd in one namespace, asked through vtysh on their own vty sockets."""

    node: Node
    vty: Path
    log: Path

    def show(self, command: str) -> Any:
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.node.netns,
                VTYSH,
                "--vty_socket",
                str(self.vty),
                "-d",
                "bgpd",
                "-c",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, f"vtysh: {done.stderr or done.stdout}"
        return json.loads(done.stdout or "{}")


def _start_frr(lab: Lab, node: Node, config: Path, work: Path) -> Frr:
    """zebra and bgpd in ``node``, with their own sockets and pid files under ``work``;
    bgpd reads ``config`` (``-f``). Root stays root; ``frrvty`` is the group FRR insists on
    for its vty sockets (Debian's frr package creates it)."""
    for tool in (FRR_DIR / "zebra", FRR_DIR / "bgpd", Path(VTYSH)):
        if not tool.exists():
            raise LabError(f"{tool} is missing: apt-get install frr")
    work.mkdir()
    zserv = work / "zserv.api"
    empty = work / "zebra.conf"
    empty.write_text("")
    log = work / "bgpd.log"
    common = ["-u", "root", "-g", "frrvty", "-z", str(zserv), "--vty_socket", str(work)]
    common += ["-P", "0"]
    zebra = lab.spawn(
        node,
        [str(FRR_DIR / "zebra"), *common, "-i", str(work / "zebra.pid"), "-f", str(empty)],
        work / "zebra.out",
    )

    def zebra_listens() -> bool:
        if zebra.poll() is not None:
            raise LabError(f"zebra exited: {(work / 'zebra.out').read_text()[-2000:]}")
        return zserv.exists()

    wait_until(zebra_listens, 20, "zebra's API socket")
    bgpd = lab.spawn(
        node,
        [
            str(FRR_DIR / "bgpd"),
            *common,
            "-i",
            str(work / "bgpd.pid"),
            "-f",
            str(config),
            "--log",
            f"file:{log}",
        ],
        work / "bgpd.out",
    )
    frr = Frr(node, work, log)

    def answers() -> bool:
        if bgpd.poll() is not None:
            raise LabError(f"bgpd exited: {(work / 'bgpd.out').read_text()[-2000:]}")
        try:
            frr.show("show bgp summary json")
        except (AssertionError, json.JSONDecodeError):
            return False
        return True

    wait_until(answers, 20, "bgpd to answer")
    return frr


def _enforcing(text: str, flavour: str) -> str:
    """A control: the snippet with first-AS enforcement turned on, as a router would run
    it without the snippet's setting (FRR enforces by default from 9.1 on)."""
    if flavour == "bird":
        changed = text.replace("enforce first as off;", "enforce first as on;")
    else:
        changed = text.replace(" no neighbor ZTIX-RS-V", " neighbor ZTIX-RS-V")
    assert changed != text
    return changed


@attrs.define
class Env:
    servers: dict[str, Bird]
    birds: dict[int, Bird]
    frrs: dict[int, Frr]
    snippets: dict[int, list[RouterSnippet]]
    files: dict[int, Path]
    workdir: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("snippetlab")
    servers = _servers(work)
    configs = BirdRouterConfigs(BirdSettings(servers=tuple(servers)))
    snippets = {asn: list(configs.router_snippets(_member(asn))) for asn in ADDR}
    with Lab(work) as lab:
        started: dict[str, Bird] = {}
        for server in servers:
            node = lab.add_node(server.name, f"{server.ipv4}/24", f"{server.ipv6}/64")
            directory = Path(server.paths.config_dir)
            for name, content in render_server(server, _peers()).items():
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                (directory / name).write_bytes(content)
            started[server.name] = lab.start_bird(node, directory / "bird.conf")
        birds: dict[int, Bird] = {}
        frrs: dict[int, Frr] = {}
        files: dict[int, Path] = {}
        for asn, flavour in ((BIRD_M, "bird"), (FRR_M, "frr"), (BIRD_X, "bird"), (FRR_X, "frr")):
            host = ADDR[asn]
            role = f"m{asn}"
            node = lab.add_node(role, f"{v4(host)}/24", f"{v6(host)}/64")
            text = _snippet(snippets[asn], flavour).text
            if asn in (BIRD_X, FRR_X):
                text = _enforcing(text, flavour)
            files[asn] = work / f"{role}-ztix-{flavour}.conf"
            files[asn].write_text(text)
            if flavour == "frr":
                frrs[asn] = _start_frr(lab, node, files[asn], work / role)
                continue
            # A BIRD member's own main file: what every BIRD config has, the routes this
            # router originates, and the snippet file included as written.
            main = work / f"{role}.conf"
            main.write_text(
                f"router id {v4(host)};\n"
                f'log "{work / f"{role}.log"}" all;\n'
                "protocol device { scan time 5; }\n"
                + (
                    f"protocol static own4 {{ ipv4; route {ROUTE4} blackhole; }}\n"
                    f"protocol static own6 {{ ipv6; route {ROUTE6} blackhole; }}\n"
                    if asn == BIRD_M
                    else ""
                )
                + f'include "{files[asn]}";\n'
            )
            birds[asn] = lab.start_bird(node, main)
        yield Env(started, birds, frrs, snippets, files, work)


def _frr_established(frr: Frr) -> dict[str, str]:
    summary = frr.show("show bgp summary json")
    states: dict[str, str] = {}
    for family in ("ipv4Unicast", "ipv6Unicast"):
        for peer, data in summary.get(family, {}).get("peers", {}).items():
            states[peer] = data.get("state", "")
    return states


def test_snippets_are_loaded_unchanged(env: Env) -> None:
    for asn, flavour in ((BIRD_M, "bird"), (FRR_M, "frr")):
        assert env.files[asn].read_text() == _snippet(env.snippets[asn], flavour).text
    # bgpd read every line of its snippet.
    for frr in env.frrs.values():
        log = frr.log.read_text() if frr.log.exists() else ""
        assert "Unknown command" not in log and "No such command" not in log, log


def _route_servers_up(env: Env) -> bool:
    for name, rs in env.servers.items():
        for asn in ADDR:
            for fam in (4, 6):
                state, _since, info = rs.protocol(protocol_name(asn, fam))
                assert (state, info) == ("up", "Established"), (name, asn, fam, info)
    return True


def _birds_up(env: Env) -> bool:
    for asn, bird in env.birds.items():
        for index in range(1, len(RS) + 1):
            for fam in (4, 6):
                state, _since, info = bird.protocol(f"ztix_rs{index}_v{fam}")
                assert (state, info) == ("up", "Established"), (asn, index, fam, info)
    return True


def _frrs_up(env: Env) -> bool:
    wanted = {str(a) for host in RS.values() for a in (v4(host), v6(host))}
    for asn, frr in env.frrs.items():
        states = _frr_established(frr)
        assert set(states) == wanted, (asn, states)
        assert all(s == "Established" for s in states.values()), (asn, states)
    return True


def test_every_session_is_established_on_both_families(env: Env) -> None:
    wait_until(lambda: _route_servers_up(env), 60, "the route servers' member sessions")
    wait_until(lambda: _birds_up(env), 30, "the BIRD members' sessions")
    wait_until(lambda: _frrs_up(env), 30, "the FRR members' sessions")


def _frr_paths(frr: Frr, prefix: str) -> list[dict[str, Any]]:
    afi = "ipv6" if ":" in prefix else "ipv4"
    paths: list[dict[str, Any]] = frr.show(f"show bgp {afi} unicast {prefix} json").get("paths", [])
    return paths


def _rs_addresses(prefix: str) -> set[str]:
    return {str(v6(h) if ":" in prefix else v4(h)) for h in RS.values()}


def test_bird_members_route_reaches_frr_member_through_the_route_servers(env: Env) -> None:
    def arrived(prefix: str) -> bool:
        paths = _frr_paths(env.frrs[FRR_M], prefix)
        assert paths, f"{prefix} not at the FRR member yet"
        assert {p["peer"]["peerId"] for p in paths} == _rs_addresses(prefix), paths
        own = str(v6(ADDR[BIRD_M]) if ":" in prefix else v4(ADDR[BIRD_M]))
        for path in paths:
            # Transparent route servers: the BIRD member's ASN alone, its own next hop.
            assert path["aspath"]["string"] == str(BIRD_M), path["aspath"]
            assert own in {n["ip"] for n in path["nexthops"]}, path["nexthops"]
        return True

    wait_until(lambda: arrived(ROUTE4), 60, f"{ROUTE4} at the FRR member")
    wait_until(lambda: arrived(ROUTE6), 30, f"{ROUTE6} at the FRR member")


def test_first_as_checks_would_drop_the_route_servers_routes(env: Env) -> None:
    """The controls run the same snippets with first-AS enforcement on: their sessions
    come up, but the member's route never enters their tables, where the snippets'
    setting lets it in (the route reached the FRR member above, by the same servers)."""
    wait_until(lambda: _frrs_up(env) and _birds_up(env), 60, "every member session")
    wait_until(lambda: _frr_paths(env.frrs[FRR_M], ROUTE4), 60, f"{ROUTE4} at AS{FRR_M}")

    def refused() -> bool:
        frr_log = env.frrs[FRR_X].log.read_text() if env.frrs[FRR_X].log.exists() else ""
        for address in _rs_addresses(ROUTE4) | _rs_addresses(ROUTE6):
            assert f"{address} incorrect first AS (must be {RS_ASN})" in frr_log, frr_log
        bird_log = (env.workdir / f"m{BIRD_X}.log").read_text()
        for index in range(1, len(RS) + 1):
            for fam in (4, 6):
                line = f"ztix_rs{index}_v{fam}: Malformed AS_PATH attribute - First AS differs"
                assert line in bird_log, bird_log[-1500:]
        return True

    wait_until(refused, 30, "the enforcing members to refuse the route")
    assert _frr_paths(env.frrs[FRR_X], ROUTE4) == []
    assert ROUTE4 not in {r.prefix for r in env.birds[BIRD_X].routes()}
    # The members running the snippets as written refused nothing.
    assert "incorrect first AS" not in env.frrs[FRR_M].log.read_text()
