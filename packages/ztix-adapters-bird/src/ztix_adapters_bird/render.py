"""Render the complete BIRD 2 config file set of one route server (desired state).

``render_server(server, peers)`` returns ``{relative name: bytes}`` for the server's
``config_dir``:

* ``bird.conf`` — router id, log, device protocol, ROA tables fed by RTR
  (``protocol rpki``) or by a static VRP file read at render time, bogon sets, the shared
  import/export functions, the two client templates and ``include "peers/*.conf";``;
* ``peers/AS<asn>.conf`` — per member, an IPv4 and an IPv6 ``rs client`` session
  (protocol names from :func:`protocol_name`) whose inline filters call the shared
  functions with the member's ASN and address;
* ``peers/.keep`` — always present, so that the ``peers`` directory exists even without
  members (BIRD refuses an include glob whose directory is missing; an empty one is fine,
  and ``*.conf`` skips dotfiles).

The number of named filters and functions is fixed: BIRD 2.0.12 parses quadratically in
the number of named symbols, so nothing per member is named except the protocols. The
output is byte-for-byte deterministic (members sorted by ASN; no timestamps). Every input
is validated first and refused with :class:`~ztix_core.errors.InvalidValue` naming it;
free text is sanitised by :mod:`ztix_adapters_bird.text`.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import jinja2

from ztix_adapters_bird import bogons
from ztix_adapters_bird.settings import PolicyKnobs, RouteServerSettings
from ztix_adapters_bird.text import (
    BirdToken,
    bird_path,
    bird_string,
    comment_text,
    rtr_remote,
)
from ztix_adapters_bird.vrps import Vrp, load_vrps
from ztix_core.errors import InvalidValue
from ztix_core.max_prefix import MAX_PREFIX_LIMIT
from ztix_core.ports import PeerSpec

MAIN_FILE = "bird.conf"
PEER_DIR = "peers"
KEEP_FILE = f"{PEER_DIR}/.keep"
_KEEP_TEXT = b"# Keeps this directory in place: bird.conf includes peers/*.conf.\n"
#: Largest import limit ztix writes (BIRD takes 32-bit values; nothing real needs more).

_TEMPLATES = Path(__file__).parent / "templates"
_V4_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_V4_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _finalize(value: Any) -> Any:
    # Only values made safe on purpose may reach a config file.
    kind = type(value)
    if kind is BirdToken or kind is int:
        return value
    if isinstance(value, BirdToken | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"refusing to render unescaped value {value!r} ({type(value).__name__})")


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)


def protocol_name(asn: int, family: int) -> str:
    """The BIRD protocol name of a member's session: ``AS64500_v4`` / ``AS64500_v6``."""
    if family not in (4, 6):
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    return f"AS{int(asn)}_v{family}"


def protocol_names(peers: Sequence[PeerSpec]) -> list[str]:
    """Every BGP protocol the rendered config defines for ``peers``, sorted by ASN."""
    return [
        protocol_name(int(p.asn), fam)
        for p in sorted(peers, key=lambda p: int(p.asn))
        for fam in (4, 6)
    ]


def peer_file_name(asn: int) -> str:
    """Relative name of a member's file: ``peers/AS64500.conf``."""
    return f"{PEER_DIR}/AS{int(asn)}.conf"


def config_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 (hex) over the file set: each name and content, names sorted.

    Each entry is hashed as ``name NUL length(8 bytes, big endian) content`` so that no two
    different sets share a digest by moving bytes between names and contents.
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        digest.update(name.encode("utf-8") + b"\0" + len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def render_server(server: RouteServerSettings, peers: Sequence[PeerSpec]) -> dict[str, bytes]:
    """The complete config file set of ``server`` for ``peers`` (see the module doc).

    Raises InvalidValue for bad settings or members (duplicate ASN or address, an address
    no BGP session can use, a member ASN the policy itself treats as a bogon, an unreadable
    or invalid VRP file, ...). Nothing is returned then.
    """
    policy = check_policy(server.policy)
    checked = _check_peers(server, peers)
    files: dict[str, bytes] = {MAIN_FILE: _render_main(server, policy), KEEP_FILE: _KEEP_TEXT}
    peer_tpl = _ENV.get_template("peer.conf.j2")
    name = comment_text(server.name, 64)
    for peer, description, limit4, limit6 in checked:
        asn = int(peer.asn)
        text = peer_tpl.render(
            name=name,
            asn=asn,
            proto_v4=BirdToken(protocol_name(asn, 4)),
            proto_v6=BirdToken(protocol_name(asn, 6)),
            description=description,
            ipv4=BirdToken(peer.ipv4),
            ipv6=BirdToken(peer.ipv6),
            limit_v4=limit4,
            limit_v6=limit6,
            require_roles=roles_strict(policy, asn),
        )
        files[peer_file_name(asn)] = text.encode("utf-8")
    return dict(sorted(files.items()))


# --------------------------------------------------------------------------- validation


def check_policy(policy: PolicyKnobs) -> PolicyKnobs:
    """Return ``policy`` when every knob is usable; raise InvalidValue naming the first bad
    one (``policy.max_as_path_len``, ``policy.transit_free_asns``, ...) otherwise."""
    for fam, lo, hi, top in (
        (4, policy.ipv4_min_len, policy.ipv4_max_len, 32),
        (6, policy.ipv6_min_len, policy.ipv6_max_len, 128),
    ):
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= top):
            raise InvalidValue(
                f"policy.ipv{fam}_min_len/ipv{fam}_max_len",
                f"need 1 <= min <= max <= {top}, got {lo!r} and {hi!r}",
            )
    if not 1 <= policy.max_as_path_len <= 255:
        raise InvalidValue("policy.max_as_path_len", f"{policy.max_as_path_len} is not 1-255")
    for field in ("transit_free_asns", "bgp_roles_strict_asns", "bgp_roles_lenient_asns"):
        _check_asn_list(getattr(policy, field), f"policy.{field}")
    for field in ("bgp_roles", "bgp_roles_strict"):
        flag = getattr(policy, field)
        if not isinstance(flag, bool):
            raise InvalidValue(f"policy.{field}", f"{flag!r} is not true or false")
    both = sorted(set(policy.bgp_roles_strict_asns) & set(policy.bgp_roles_lenient_asns))
    if both:
        raise InvalidValue(
            "policy.bgp_roles_strict_asns",
            f"AS{both[0]} is also in bgp_roles_lenient_asns; name each member in one list",
        )
    if not policy.bgp_roles and (policy.bgp_roles_strict or policy.bgp_roles_strict_asns):
        raise InvalidValue(
            "policy.bgp_roles_strict",
            "strict mode needs bgp_roles = true (the route server must announce its role)",
        )
    return policy


def _check_asn_list(values: object, field: str) -> None:
    if not isinstance(values, tuple | list):
        raise InvalidValue(field, f"{values!r} is not a list of AS numbers")
    seen: set[int] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4294967294:
            raise InvalidValue(field, f"{value!r} is not an AS number (1-4294967294)")
        if value in seen:
            raise InvalidValue(field, f"AS{value} is listed twice")
        seen.add(value)


def roles_strict(policy: PolicyKnobs, asn: int) -> bool:
    """Whether the session of member ``asn`` runs BGP roles in strict mode (``require
    roles``): its own list entry, else the server's default."""
    if not policy.bgp_roles:
        return False
    if asn in policy.bgp_roles_strict_asns:
        return True
    if asn in policy.bgp_roles_lenient_asns:
        return False
    return policy.bgp_roles_strict


def _check_v4(addr: object, field: str) -> ipaddress.IPv4Address:
    if not isinstance(addr, ipaddress.IPv4Address):
        raise InvalidValue(field, f"{addr!r} is not an IPv4 address")
    bad = _v4_problem(addr)
    if bad:
        raise InvalidValue(field, f"{addr} is {bad}; a BGP neighbour needs a unicast address")
    return addr


# The verdicts are pure and the same members come back every sync: remember them.
@functools.lru_cache(maxsize=65_536)
def _v4_problem(addr: ipaddress.IPv4Address) -> str | None:
    return (
        "unspecified"
        if addr.is_unspecified
        else "loopback"
        if addr.is_loopback
        else "multicast"
        if addr.is_multicast
        else "link-local"
        if addr.is_link_local
        else "reserved/broadcast"
        if addr.is_reserved or addr == _V4_BROADCAST
        else "in 0.0.0.0/8"
        if addr in _V4_THIS_NETWORK
        else None
    )


def _check_v6(addr: object, field: str) -> ipaddress.IPv6Address:
    if not isinstance(addr, ipaddress.IPv6Address):
        raise InvalidValue(field, f"{addr!r} is not an IPv6 address")
    bad = _v6_problem(addr)
    if bad:
        raise InvalidValue(field, f"{addr} is {bad}; a BGP neighbour needs a unicast address")
    return addr


@functools.lru_cache(maxsize=65_536)
def _v6_problem(addr: ipaddress.IPv6Address) -> str | None:
    return (
        "unspecified"
        if addr.is_unspecified
        else "loopback"
        if addr.is_loopback
        else "multicast"
        if addr.is_multicast
        else "link-local (needs an interface)"
        if addr.is_link_local
        else "IPv4-mapped"
        if addr.ipv4_mapped is not None
        else "site-local"
        if addr.is_site_local
        else "scoped"
        if addr.scope_id
        else None
    )


@functools.lru_cache(maxsize=65_536)
def _asn_problem(asn: int, allow_documentation: bool) -> str | None:
    return bogons.asn_bogon_reason(asn, allow_documentation=allow_documentation)


def _limit(value: object, field: str) -> int:
    # The core sends each member's effective limit (its own setting, the ASN's override,
    # PeeringDB's, or [provisioning]'s default): there is no second default here.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"{value!r} is not an integer")
    if not 1 <= value <= MAX_PREFIX_LIMIT:
        raise InvalidValue(field, f"{value} is not 1-{MAX_PREFIX_LIMIT}")
    return value


@attrs.frozen
class PeerProblem:
    """Why one member cannot be configured on a route server.

    ``error`` is what :func:`render_server` raises for it (its field names the member by
    index); ``reason`` says the same for an operator, naming other members by ASN."""

    error: InvalidValue
    reason: str


Checked = tuple[PeerSpec, BirdToken, int, int]


def peer_problems(server: RouteServerSettings, peers: Sequence[PeerSpec]) -> dict[int, PeerProblem]:
    """Every member of ``peers`` the server cannot configure, by index: duplicate ASN or
    address (the later one is refused), the server's own ASN or address, a bogon ASN, an
    address no BGP session can use, a bad max-prefix. The members not listed render
    together (a refused member's ASN and addresses do not count as taken)."""
    return _examine_peers(server, peers, describe=False)[1]


def _check_peers(server: RouteServerSettings, peers: Sequence[PeerSpec]) -> list[Checked]:
    checked, problems = _examine_peers(server, peers)
    if problems:
        raise problems[min(problems)].error
    return checked


def _examine_peers(
    server: RouteServerSettings, peers: Sequence[PeerSpec], *, describe: bool = True
) -> tuple[list[Checked], dict[int, PeerProblem]]:
    rs_asn = int(server.asn)
    allow_doc = server.policy.allow_documentation_ranges
    seen_asn: dict[int, int] = {}
    seen_addr: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, int] = {}
    own = {a for a in (server.ipv4, server.ipv6) if a is not None}
    out: list[Checked] = []
    problems: dict[int, PeerProblem] = {}

    def refuse(i: int, field: str, message: str, reason: str = "") -> None:
        problems[i] = PeerProblem(InvalidValue(field, message), reason or message)

    for i, item in enumerate(peers):
        entry: object = item  # callers may pass anything
        if not isinstance(entry, PeerSpec):
            refuse(i, f"peers[{i}]", f"{entry!r} is not a PeerSpec")
            continue
        peer = entry
        asn = int(peer.asn)
        where = f"peers[{i}] (AS{asn})"
        if asn in seen_asn:
            refuse(
                i,
                f"{where}.asn",
                f"AS{asn} is listed twice (also peers[{seen_asn[asn]}])",
                f"AS{asn} is already configured for another member",
            )
            continue
        if asn == rs_asn:
            refuse(i, f"{where}.asn", f"AS{asn} is the route server's own ASN")
            continue
        reason = _asn_problem(asn, allow_doc)
        if reason:
            refuse(
                i,
                f"{where}.asn",
                f"AS{asn} is a bogon ASN ({reason}); the import policy would reject every route",
            )
            continue
        try:
            v4 = _check_v4(peer.ipv4, f"{where}.ipv4")
            v6 = _check_v6(peer.ipv6, f"{where}.ipv6")
            for addr, fam in ((v4, "ipv4"), (v6, "ipv6")):
                if addr in own:
                    raise InvalidValue(
                        f"{where}.{fam}", f"{addr} is the route server's own address"
                    )
                if addr in seen_addr:
                    other = peers[seen_addr[addr]]
                    refuse(
                        i,
                        f"{where}.{fam}",
                        f"{addr} is also the address of peers[{seen_addr[addr]}]",
                        f"{addr} is also the address of AS{int(other.asn)}",
                    )
                    break
            if i in problems:
                continue
            limit4 = _limit(peer.max_prefix_v4, f"{where}.max_prefix_v4")
            limit6 = _limit(peer.max_prefix_v6, f"{where}.max_prefix_v6")
        except InvalidValue as exc:
            problems[i] = PeerProblem(exc, exc.message.removeprefix(f"{exc.field}: "))
            continue
        # Accepted: only now do its ASN and addresses count as taken.
        seen_asn[asn] = i
        seen_addr[v4] = seen_addr[v6] = i
        if not describe:  # only the verdicts are wanted: skip sanitising free text
            continue
        description = bird_string(peer.description or f"AS{asn}")
        if description == '""':
            description = bird_string(f"AS{asn}")
        out.append((peer, description, limit4, limit6))
    out.sort(key=lambda item: int(item[0].asn))
    return out, problems


# --------------------------------------------------------------------------- main file


def _render_main(server: RouteServerSettings, policy: PolicyKnobs) -> bytes:
    asn = int(server.asn)
    if not isinstance(server.router_id, ipaddress.IPv4Address) or server.router_id.is_unspecified:
        raise InvalidValue("router_id", f"{server.router_id!r} is not a usable router id")
    local_v4 = BirdToken("")
    local_v6 = BirdToken("")
    if server.ipv4 is not None:
        local_v4 = BirdToken(f"{_check_v4(server.ipv4, 'ipv4')} ")
    if server.ipv6 is not None:
        local_v6 = BirdToken(f"{_check_v6(server.ipv6, 'ipv6')} ")
    rpki = server.rpki
    if rpki.rtr_servers and rpki.vrp_file:
        raise InvalidValue("rpki", "set either rtr_servers or vrp_file, not both")
    rtr = [rtr_remote(s, f"rpki.rtr_servers[{i}]") for i, s in enumerate(rpki.rtr_servers)]
    if len(set(rtr)) != len(rtr):
        raise InvalidValue("rpki.rtr_servers", "lists the same server twice")
    vrps: list[Vrp] = load_vrps(rpki.vrp_file) if rpki.vrp_file else []
    log_file = bird_path(server.paths.log_file, "paths.log_file") if server.paths.log_file else None
    allow_doc = policy.allow_documentation_ranges
    sep = BirdToken
    text = _ENV.get_template("bird.conf.j2").render(
        name=comment_text(server.name, 64),
        asn=asn,
        asn16=asn <= 65535,
        std_nobody=BirdToken(
            f"standard form 0:{asn}" if asn <= 65535 else "(32-bit ASN: large only)"
        ),
        std_announce=BirdToken(
            f"standard form {asn}:P" if asn <= 65535 else "(32-bit ASN: large only)"
        ),
        router_id=server.router_id,
        log_file=log_file,
        policy=policy,
        bogons_v4=[
            *(
                (sep(b.bird()), comment_text(b.reason))
                for b in bogons.bogon_prefixes(4, allow_documentation=allow_doc)
            ),
            *(
                (sep(f"{lan}+"), comment_text("this exchange's peering LAN"))
                for lan in sorted(set(policy.peering_lan_v4))
            ),
        ],
        bogons_v6=[
            *(
                (sep(b.bird()), comment_text(b.reason))
                for b in bogons.bogon_prefixes(6, allow_documentation=allow_doc)
            ),
            *(
                (sep(f"{lan}+"), comment_text("this exchange's peering LAN"))
                for lan in sorted(set(policy.peering_lan_v6))
            ),
        ],
        bogon_asns=[
            (sep(bogons.asn_set_item(r)), comment_text(r.reason))
            for r in bogons.bogon_asns(allow_documentation=allow_doc)
        ],
        rtr=rtr,
        static_vrps=bool(rpki.vrp_file),
        vrp_comment=comment_text(Path(rpki.vrp_file).name) if rpki.vrp_file else None,
        # Pre-joined: a real VRP set has ~500,000 lines, too many for a template loop.
        vrps_v4=sep("\n".join(f"\t{v.bird()};" for v in vrps if v.version == 4)),
        vrps_v6=sep("\n".join(f"\t{v.bird()};" for v in vrps if v.version == 6)),
        count_v4=sum(1 for v in vrps if v.version == 4),
        count_v6=sum(1 for v in vrps if v.version == 6),
        local_v4=local_v4,
        local_v6=local_v6,
        transit_free=sep(", ".join(str(a) for a in sorted(policy.transit_free_asns))),
        # One "?" more than the longest path the filter lets through (see the template).
        as_set_mask=sep(" ".join("?" * (policy.max_as_path_len + 1))),
        bgp_roles=policy.bgp_roles,
    )
    return text.encode("utf-8")
