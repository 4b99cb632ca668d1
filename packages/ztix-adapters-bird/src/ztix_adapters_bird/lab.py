"""A throw-away BGP lab in Linux network namespaces, for tests that need real sessions.

A :class:`Lab` creates one namespace holding a bridge (the "exchange switch") and one
namespace per node, each joined to the bridge by a veth pair. Addresses exist only inside
the namespaces, so nothing the lab does can reach another network. Every namespace name
carries a random tag, and :meth:`Lab.close` (also on ``with`` exit) stops the processes
the lab started and deletes its namespaces.

It needs root (namespaces, veth, bridge); without root :class:`Lab` raises
:class:`LabError` at once, so a test that uses it fails instead of being skipped.

Also here: a member-router config builder (:func:`member_config`, announcing exactly the
routes and attributes a test asks for), :meth:`Lab.start_speaker` for routes no BIRD filter
can build (AS_SET paths, see :mod:`ztix_adapters_bird.speaker`), a parser for ``birdc
show route all`` output (:func:`parse_routes`) and :func:`wait_until` for polling instead
of sleeping.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ztix_adapters_bird.settings import RouteServerSettings
from ztix_core.ports import PeerSpec
from ztix_core.values import Asn, NetworkId

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
STAYRTR = "/usr/bin/stayrtr"
T = TypeVar("T")


class LabError(RuntimeError):
    """The lab could not be built or a daemon misbehaved."""


def _run(args: Sequence[str], timeout: float = 20.0) -> str:
    try:
        done = subprocess.run(
            list(args), check=False, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError as exc:
        raise LabError(f"{args[0]} is not installed: {exc}") from None
    if done.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> T:
    """Call ``probe`` until it returns something truthy; raise LabError after ``timeout``.

    ``probe`` may raise AssertionError to mean "not yet"; the last message is reported.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            result = probe()
            if result:
                return result
        except AssertionError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}. {last}")
        time.sleep(interval)


def since_seconds(since: str) -> float:
    """Seconds of the day of a BIRD ``Since`` (``HH:MM:SS.fff``, optionally after a date)."""
    hours, minutes, secs = since.rsplit(maxsplit=1)[-1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def flapped(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The sessions (name → ``Since`` before and now) that were reset between two readings,
    and those that disappeared. BIRD prints ``Since`` by converting its monotonic clock to
    wall time at each query, so the printed millisecond of an untouched session can move by
    one; a reset moves it by at least the time a new session takes, so anything beyond
    50 ms is a flap."""
    return {
        name: (was, now.get(name, "gone"))
        for name, was in before.items()
        if name not in now or abs(since_seconds(now[name]) - since_seconds(was)) > 0.05
    }


def example_server(**overrides: Any) -> RouteServerSettings:
    """Route-server settings for tests: rs1, AS64999, 10.0.0.1 / fd00::1, no RPKI source."""
    base: dict[str, Any] = {
        "name": "rs1",
        "asn": Asn(64999),
        "router_id": ipaddress.IPv4Address("10.0.0.1"),
        "ipv4": ipaddress.IPv4Address("10.0.0.1"),
        "ipv6": ipaddress.IPv6Address("fd00::1"),
    }
    base.update(overrides)
    return RouteServerSettings(**base)


def example_peer(i: int, asn: int | None = None, description: str | None = None) -> PeerSpec:
    """Member ``i`` for tests: AS(1000+i), 10.0.0.(10+i) / fd00::(10+i), limits 100+i / 50+i."""
    return PeerSpec(
        asn=Asn(asn if asn is not None else 1000 + i),
        ipv4=ipaddress.IPv4Address(0x0A000000 + 10 + i),
        ipv6=ipaddress.IPv6Address((0xFD00 << 112) | (10 + i)),
        max_prefix_v4=100 + i,
        max_prefix_v6=50 + i,
        description=description if description is not None else f"Member {i} Networks",
        network_id=NetworkId("0123456789abcdef"),
    )


def example_peers(n: int) -> list[PeerSpec]:
    """``n`` members (see :func:`example_peer`)."""
    return [example_peer(i) for i in range(n)]


def write_config(files: Mapping[str, bytes], directory: Path) -> Path:
    """Write a rendered file set under ``directory``; returns the main file's path."""
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return directory / "bird.conf"


def bird_parse(config: Path) -> None:
    """``bird -p -c config``: returns when BIRD accepts it, raises LabError with BIRD's
    message otherwise. Needs no root."""
    _run([BIRD, "-p", "-c", str(config)])


# --------------------------------------------------------------------------- routes


_COMMUNITY = re.compile(r"\((\d+),\s*(\d+)\)")
_LARGE = re.compile(r"\((\d+),\s*(\d+),\s*(\d+)\)")
_ROUTE_HEAD = re.compile(
    r"^(?P<prefix>\S+)?\s+(?P<kind>unicast|unreachable|blackhole|prohibited)\s+"
    r"\[(?P<proto>\S+)\s[^\]]*\](?P<rest>.*)$"
)


@attrs.frozen
class Route:
    """One route as ``birdc show route all`` prints it."""

    prefix: str
    proto: str
    primary: bool
    attrs: dict[str, str]

    @property
    def communities(self) -> set[tuple[int, int]]:
        """Standard communities (``BGP.community``)."""
        raw = self.attrs.get("BGP.community", "")
        return {(int(a), int(b)) for a, b in _COMMUNITY.findall(raw)}

    @property
    def large_communities(self) -> set[tuple[int, int, int]]:
        """Large communities (``BGP.large_community``)."""
        raw = self.attrs.get("BGP.large_community", "")
        return {(int(a), int(b), int(c)) for a, b, c in _LARGE.findall(raw)}

    @property
    def as_path(self) -> list[int]:
        """The AS path as a list (sets flattened)."""
        return [int(x) for x in re.findall(r"\d+", self.attrs.get("BGP.as_path", ""))]

    @property
    def next_hop(self) -> str:
        """``BGP.next_hop`` (the first address when IPv6 carries a link-local one too)."""
        return self.attrs.get("BGP.next_hop", "").split()[0] if "BGP.next_hop" in self.attrs else ""

    @property
    def local_pref(self) -> int | None:
        """``BGP.local_pref``, or None."""
        raw = self.attrs.get("BGP.local_pref")
        return int(raw) if raw is not None else None


def parse_routes(text: str) -> list[Route]:
    """Parse ``birdc show route [filtered] all`` output into :class:`Route` records."""
    routes: list[Route] = []
    prefix = ""
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith(("BIRD ", "Table ", "Access restricted")):
            continue
        head = _ROUTE_HEAD.match(line)
        if head and not line.startswith("\t"):
            prefix = head.group("prefix") or prefix
            current = {}
            routes.append(
                Route(prefix, head.group("proto"), "*" in head.group("rest").split("(")[0], current)
            )
            continue
        if current is not None and line.startswith("\t"):
            key, sep, value = line.strip().partition(":")
            if sep:
                current[_attribute_name(key.strip())] = value.strip()
    return routes


def _attribute_name(key: str) -> str:
    # BIRD 3 prints filter names (bgp_path, bgp_large_community); BIRD 2 prints BGP.as_path.
    if key.startswith("bgp_"):
        name = key.removeprefix("bgp_")
        return f"BGP.{'as_path' if name == 'path' else name}"
    return key


# --------------------------------------------------------------------------- processes


@attrs.define
class Bird:
    """A BIRD daemon the lab started (foreground, in a namespace) and its control socket."""

    name: str
    socket: Path
    process: subprocess.Popen[bytes]
    log: Path

    def cmd(self, *args: str, timeout: float = 20.0) -> str:
        """Run one ``birdc`` command and return its output."""
        return _run([BIRDC, "-s", str(self.socket), *args], timeout=timeout)

    def routes(self, *, filtered: bool = False, table: str | None = None) -> list[Route]:
        """Every route (``show route all``), or those import filters dropped."""
        args = ["show", "route"]
        if table:
            args += ["table", table]
        if filtered:
            args.append("filtered")
        args.append("all")
        return parse_routes(self.cmd(*args))

    def protocol(self, name: str) -> tuple[str, str, str]:
        """``(state, since, info)`` of one protocol from ``show protocols NAME``."""
        out = self.cmd("show", "protocols", name)
        for line in out.splitlines():
            parts = line.split(None, 4)
            if parts and parts[0] == name:
                rest = line.split(None, 4)[4] if len(parts) == 5 else ""
                since_info = rest.split(None, 2)
                # Since is "YYYY-MM-DD HH:MM:SS" or "HH:MM:SS.fff" depending on age.
                if len(since_info) >= 2 and re.fullmatch(r"\d\d:\d\d:\d\d(\.\d+)?", since_info[1]):
                    return (
                        parts[3],
                        f"{since_info[0]} {since_info[1]}",
                        (since_info[2] if len(since_info) > 2 else ""),
                    )
                return parts[3], since_info[0] if since_info else "", " ".join(since_info[1:])
        raise LabError(f"{self.name}: no protocol {name!r} in: {out}")

    def protocol_detail(self, name: str) -> str:
        """``show protocols all NAME`` verbatim."""
        return self.cmd("show", "protocols", "all", name)

    def alive(self) -> bool:
        """Whether the daemon process is still running."""
        return self.process.poll() is None


@attrs.define
class Node:
    """One namespace attached to the exchange bridge."""

    role: str
    netns: str
    ipv4: ipaddress.IPv4Interface
    ipv6: ipaddress.IPv6Interface


class Lab:
    """Network namespaces around one bridge; deleted, with their daemons, on close."""

    def __init__(self, workdir: Path, tag: str | None = None) -> None:
        if os.geteuid() != 0:
            raise LabError("the BGP lab needs root (network namespaces, veth, bridge)")
        for tool in ("ip", BIRD, BIRDC):
            if shutil.which(tool) is None:
                raise LabError(f"{tool} is not installed (apt-get install iproute2 bird2)")
        self.tag = tag or secrets.token_hex(3)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nodes: dict[str, Node] = {}
        self._namespaces: list[str] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self.switch = self._add_netns("ix")
        try:
            _run(
                [
                    "ip",
                    "-n",
                    self.switch,
                    "link",
                    "add",
                    "br0",
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "mcast_snooping",
                    "0",
                ]
            )
            _run(["ip", "-n", self.switch, "link", "set", "br0", "up"])
        except BaseException:
            self.close()
            raise

    def _add_netns(self, role: str) -> str:
        name = f"ztix-{self.tag}-{role}"
        _run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        _run(["ip", "-n", name, "link", "set", "lo", "up"])
        # No duplicate-address detection: addresses (link-local too) are usable at once.
        for scope in ("default", "all"):
            _run(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    "sysctl",
                    "-qw",
                    f"net.ipv6.conf.{scope}.accept_dad=0",
                ]
            )
        return name

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_node(self, role: str, ipv4: str, ipv6: str) -> Node:
        """A namespace with ``lan0`` on the bridge, holding ``ipv4``/``ipv6`` (with length)."""
        if not re.fullmatch(r"[a-z0-9]{1,8}", role) or role in self.nodes:
            raise LabError(f"bad or duplicate node role {role!r}")
        netns = self._add_netns(role)
        port = f"p{len(self.nodes)}"
        _run(
            [
                "ip",
                "-n",
                self.switch,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "lan0",
                "netns",
                netns,
            ]
        )
        _run(["ip", "-n", self.switch, "link", "set", port, "master", "br0", "up"])
        v4 = ipaddress.IPv4Interface(ipv4)
        v6 = ipaddress.IPv6Interface(ipv6)
        _run(["ip", "-n", netns, "addr", "add", str(v4), "dev", "lan0"])
        _run(["ip", "-n", netns, "addr", "add", str(v6), "dev", "lan0", "nodad"])
        _run(["ip", "-n", netns, "link", "set", "lan0", "up"])
        node = Node(role, netns, v4, v6)
        self.nodes[role] = node
        return node

    def spawn(self, node: Node, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a process inside ``node``'s namespace, output to ``log``; stopped on close."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", node.netns, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._processes.append(proc)
        return proc

    def start_bird(self, node: Node, config: Path, timeout: float = 10.0) -> Bird:
        """Parse-check ``config``, start BIRD on it in ``node`` and wait for its socket."""
        _run([BIRD, "-p", "-c", str(config)])
        socket = self.workdir / f"{node.role}.ctl"
        log = self.workdir / f"{node.role}.out"
        proc = self.spawn(node, [BIRD, "-f", "-c", str(config), "-s", str(socket)], log)
        bird = Bird(node.role, socket, proc, log)

        def ready() -> bool:
            if not bird.alive():
                raise LabError(f"BIRD in {node.role} exited: {log.read_text()[-2000:]}")
            if not socket.exists():
                return False
            try:
                bird.cmd("show", "status", timeout=2)
            except LabError:
                return False
            return True

        wait_until(ready, timeout, f"BIRD in {node.role} to answer")
        return bird

    def start_stayrtr(
        self, node: Node, vrp_file: Path, port: int = 8282
    ) -> subprocess.Popen[bytes]:
        """Serve ``vrp_file`` over RTR on ``127.0.0.1:port`` inside ``node``.

        ``-refresh 1`` re-reads the file every second and ``-checktime=false`` accepts a
        file without fresh metadata; stayrtr notifies connected routers of every change.
        """
        if shutil.which(STAYRTR) is None:
            raise LabError("stayrtr is not installed (apt-get install stayrtr)")
        log = self.workdir / f"stayrtr-{node.role}.out"
        proc = self.spawn(
            node,
            [
                STAYRTR,
                "-bind",
                f"127.0.0.1:{port}",
                "-cache",
                str(vrp_file),
                "-refresh",
                "1",
                "-checktime=false",
                "-metrics.addr",
                "127.0.0.1:0",
                "-loglevel",
                "info",
            ],
            log,
        )

        def listening() -> bool:
            if proc.poll() is not None:
                raise LabError(f"stayrtr exited: {log.read_text()[-2000:]}")
            out = _run(["ip", "netns", "exec", node.netns, "ss", "-Htln", f"sport = :{port}"])
            return bool(out.strip())

        wait_until(listening, 10, "stayrtr to listen")
        return proc

    def start_speaker(
        self, node: Node, *, asn: int, peer: str, routes: Iterable[str]
    ) -> subprocess.Popen[bytes]:
        """Run the minimal BGP speaker (:mod:`ztix_adapters_bird.speaker`) in ``node``: an
        IPv4 session from the node's address to ``peer`` announcing ``routes``
        (``"PREFIX=PATH"``, e.g. ``"45.50.1.0/24=500 {600 700}"``), next hop its own
        address. Its log says when the session is up or why it dropped."""
        args = [
            sys.executable,
            "-m",
            "ztix_adapters_bird.speaker",
            "--asn",
            str(asn),
            "--local",
            str(node.ipv4.ip),
            "--peer",
            peer,
        ]
        for route in routes:
            args += ["--route", route]
        return self.spawn(node, args, self.workdir / f"speaker-{node.role}.out")

    def close(self) -> None:
        """Stop every process the lab started and delete its namespaces. Idempotent."""
        for proc in reversed(self._processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._processes):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._processes.clear()
        for name in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self._namespaces.clear()


# --------------------------------------------------------------------------- members


@attrs.frozen
class Announcement:
    """One route a member router sends, with exactly these attributes.

    ``path`` is the AS path as sent (the member session is transparent, so nothing is
    prepended); empty means just the member's own ASN. ``otc`` sets the RFC 9234
    Only-to-Customer attribute (a member router without a BGP role sends it as set).
    """

    prefix: str
    path: tuple[int, ...] = ()
    communities: tuple[tuple[int, int], ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    next_hop: str | None = None
    otc: int | None = None


def member_config(
    *,
    asn: int,
    router_id: str,
    ipv4: str,
    ipv6: str,
    rs_asn: int,
    rs_ipv4: str,
    rs_ipv6: str,
    announcements: Iterable[Announcement],
    log_file: Path,
    role: str | None = None,
) -> str:
    """A member router's BIRD config: one session per family to the route server,
    announcing ``announcements`` and accepting everything it receives; ``role`` is its
    BGP role (RFC 9234, ``rs_client`` towards a route server), none by default."""
    by_family: dict[int, list[Announcement]] = {4: [], 6: []}
    for ann in announcements:
        by_family[ipaddress.ip_network(ann.prefix).version].append(ann)
    lines = [
        f"router id {router_id};",
        f'log "{log_file}" all;',
        "protocol device { scan time 5; }",
    ]
    for fam, local, remote in ((4, ipv4, rs_ipv4), (6, ipv6, rs_ipv6)):
        anns = by_family[fam]
        lines.append(f"protocol static announce{fam} {{ ipv{fam};")
        lines += [f"\troute {a.prefix} blackhole;" for a in anns]
        lines.append("}")
        lines.append(f"filter to_rs{fam} {{")
        for a in anns:
            lines.append(f"\tif net = {a.prefix} then {{")
            for hop in reversed(a.path or (asn,)):
                lines.append(f"\t\tbgp_path.prepend({hop});")
            lines += [f"\t\tbgp_community.add(({x}, {y}));" for x, y in a.communities]
            lines += [
                f"\t\tbgp_large_community.add(({x}, {y}, {z}));" for x, y, z in a.large_communities
            ]
            if a.next_hop:
                lines.append(f"\t\tbgp_next_hop = {a.next_hop};")
            if a.otc is not None:
                lines.append(f"\t\tbgp_otc = {a.otc};")
            lines.append("\t\taccept;\n\t}")
        lines.append("\treject;\n}")
        lines += [
            f"protocol bgp rs_v{fam} {{",
            f"\tlocal {local} as {asn};",
            f"\tneighbor {remote} as {rs_asn};",
            "\trs client;  # transparent: the export filter writes the whole AS path",
            *([f"\tlocal role {role};"] if role else []),
            "\tconnect delay time 1;",
            "\tconnect retry time 2;",
            "\terror wait time 1, 4;",
            f"\tipv{fam} {{ import all; export filter to_rs{fam}; }};",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_vrps(path: Path, roas: Iterable[tuple[str, int, int]]) -> None:
    """Write an rpki-client JSON file of ``(prefix, max_length, asn)`` atomically."""
    doc: dict[str, Any] = {
        "metadata": {"buildtime": "2026-01-01T00:00:00Z", "generator": "ztix-lab"},
        "roas": [{"prefix": p, "maxLength": m, "asn": a, "ta": "lab"} for p, m, a in sorted(roas)],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)
