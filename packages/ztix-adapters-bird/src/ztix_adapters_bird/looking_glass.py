"""The looking glass: one member on one BIRD route server, read with one bounded query.

One ``birdc -r`` (restricted: BIRD refuses anything but ``show`` commands) per server,
fed these commands on its standard input, in this order:

1. ``show protocols all "AS<asn>_*"`` — the member's sessions (parsed by :mod:`.status`):
   state, since when, last error, routes imported / filtered / exported;
2. ``show route filtered protocol AS<asn>_v4 count`` and the same for ``_v6`` — how many
   routes the import filter dropped, per family (BIRD counts without printing them);
3. ``show route filtered protocol AS<asn>_v4 all`` and ``_v6`` — the dropped routes with
   their attributes, read only up to the cap: once ``max_routes`` routes are in, the
   command is ended, so half a million filtered routes cost as much as ``max_routes``.
   The IPv4 listing comes first; a member past the cap in IPv4 shows no IPv6 routes, and
   the counts still say how many there are.

A deadline bounds the whole query too. Nothing a member controls reaches the command
line: protocol names come from :func:`ztix_adapters_bird.render.protocol_name` and are
checked against :data:`PROTOCOL` before use, and the command text goes to birdc's standard
input, never through a shell.

Reasons and RPKI states are decoded from the large communities the import filter sets,
``(RS, 1101, code)`` and ``(RS, 1000, state)``, through :class:`~.policy.RejectReason` and
:class:`~.policy.RpkiState`; a code those tables do not know is reported as
``unknown reason <code>``, never refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from ztix_adapters_bird.birdc import parse_reply
from ztix_adapters_bird.policy import INFO_RPKI, REJECTED, RejectReason, RpkiState
from ztix_adapters_bird.render import protocol_name
from ztix_adapters_bird.status import peer_pattern, protocol_blocks, session_from_block
from ztix_core.errors import InvalidValue
from ztix_core.looking_glass import FilteredRoute, LookingGlassServer, LookingGlassSession
from ztix_core.values import Asn

#: A protocol name the looking glass may put into a command: the renderer's, nothing else.
PROTOCOL = re.compile(r"^AS[1-9][0-9]{0,9}_v[46]$")
#: Filtered routes read per server by default (``[bird] looking_glass_max_routes``).
DEFAULT_MAX_ROUTES = 200
#: Seconds one server's query may take by default (``[bird] looking_glass_timeout_s``).
DEFAULT_TIMEOUT_S = 20.0

_PROMPT = re.compile(r"^(?:bird> ?)?\r?(?:\x1b\[K)?")
_COUNT = re.compile(r"^(\d+) of \d+ routes for \d+ networks in table (\S+)$")
#: The first line of a route: ``45.66.0.0/24  unicast [AS100_v4 06:54:15.242] * (100)``
#: (the prefix is left out for a second route to the same prefix).
_ROUTE_HEAD = re.compile(
    r"^\s*(?P<prefix>[0-9a-fA-F:.]+/\d+)?\s+"
    r"(?:unicast|blackhole|unreachable|prohibited|multipath|recursive)\s+"
    r"\[(?P<proto>[^\s\]]+)[\s\]]"
)
_LARGE = re.compile(r"\((\d+),\s*(\d+),\s*(\d+)\)")
#: How ztix words the reject reasons it knows best; any other member of RejectReason is
#: worded from its name, so reasons added to the enum need nothing here.
_WORDS = {
    "PREFIX_TOO_LONG": "prefix too long",
    "PREFIX_TOO_SHORT": "prefix too short",
    "BOGON_PREFIX": "bogon prefix",
    "BOGON_ASN": "bogon ASN in the AS path",
    "AS_PATH_TOO_LONG": "AS path too long",
    "FIRST_AS_NOT_PEER": "first AS is not the member's",
    "NEXT_HOP_NOT_PEER": "next hop is not the member's",
    "RPKI_INVALID": "RPKI invalid",
}
_UPPER = {"as", "asn", "rpki", "irr", "rs", "ix", "bgp"}


def checked_protocol(name: str) -> str:
    """``name`` when it is a protocol name the renderer writes (``AS64500_v4``), else
    InvalidValue: nothing else is ever put into a birdc command."""
    if not PROTOCOL.fullmatch(name):
        raise InvalidValue("protocol", f"{name!r} is not a member session name")
    return name


def member_protocols(asn: Asn) -> tuple[str, str]:
    """The member's two session names (IPv4, IPv6), checked."""
    return (
        checked_protocol(protocol_name(asn.value, 4)),
        checked_protocol(protocol_name(asn.value, 6)),
    )


def commands(asn: Asn) -> list[str]:
    """The birdc commands of one member's query, in order (see the module)."""
    v4, v6 = member_protocols(asn)
    return [
        f'show protocols all "{peer_pattern(asn)}"',
        f"show route filtered protocol {v4} count",
        f"show route filtered protocol {v6} count",
        f"show route filtered protocol {v4} all",
        f"show route filtered protocol {v6} all",
    ]


def argv(birdc: str, socket: str) -> list[str]:
    """birdc in restricted mode with reply codes, reading commands from standard input."""
    return [birdc, "-r", "-v", "-s", socket]


def reason_words(code: int) -> str:
    """The words for a reject code: ``RPKI invalid``, ``unknown reason 42``."""
    try:
        name = RejectReason(code).name
    except ValueError:
        return f"unknown reason {code}"
    if name in _WORDS:
        return _WORDS[name]
    words = name.lower().split("_")
    return " ".join(w.upper() if w in _UPPER else w for w in words)


def rpki_words(code: int) -> str:
    """``valid``, ``invalid``, ``unknown``, or ``unknown state <n>`` for another code."""
    try:
        return RpkiState(code).name.lower()
    except ValueError:
        return f"unknown state {code}"


def strip_prompt(line: str) -> str:
    """A birdc output line without the prompt and terminal codes birdc puts in front of
    the replies it reads from standard input."""
    return _PROMPT.sub("", line, count=1)


@attrs.define
class RouteCap:
    """The line sink of a streamed query: keeps lines, counts the member's filtered routes
    as their first lines arrive, and says stop once ``max_routes`` are complete (the next
    route's first line is not kept)."""

    protocols: frozenset[str]
    max_routes: int
    lines: list[str] = attrs.Factory(list)
    routes: int = 0
    full: bool = False

    def __call__(self, raw: str) -> bool:
        line = strip_prompt(raw)
        head = _ROUTE_HEAD.match(_text(line))
        if head and head.group("proto") in self.protocols:
            if self.routes >= self.max_routes:
                self.full = True
                return False
            self.routes += 1
        self.lines.append(line)
        return True


def _text(line: str) -> str:
    """A reply line's text without its code (``1007-``) or continuation space."""
    if len(line) > 5 and line[:4].isdigit() and line[4] in " -":
        return line[5:]
    return line[1:] if line.startswith(" ") else line


@attrs.define
class _Route:
    prefix: str
    protocol: str
    attrs: dict[str, str] = attrs.Factory(dict)


def _routes(texts: Iterable[str], protocols: frozenset[str]) -> list[_Route]:
    out: list[_Route] = []
    prefix = ""
    current: _Route | None = None
    for text in texts:
        head = _ROUTE_HEAD.match(text)
        if head:
            prefix = head.group("prefix") or prefix
            current = None
            if head.group("proto") in protocols and prefix:
                current = _Route(prefix, head.group("proto"))
                out.append(current)
            continue
        if current is not None:
            key, sep, value = text.strip().partition(":")
            if sep and key.startswith("BGP."):
                current.attrs[key] = value.strip()
    return out


def _filtered_route(route: _Route, rs_asn: int) -> FilteredRoute:
    large = [
        (int(a), int(b), int(c))
        for a, b, c in _LARGE.findall(route.attrs.get("BGP.large_community", ""))
    ]
    codes = tuple(c for a, b, c in large if a == rs_asn and b == REJECTED)
    states = [c for a, b, c in large if a == rs_asn and b == INFO_RPKI]
    hop = route.attrs.get("BGP.next_hop", "").split()
    return FilteredRoute(
        prefix=route.prefix,
        protocol=route.protocol,
        reasons=tuple(reason_words(c) for c in codes),
        reason_codes=codes,
        rpki=rpki_words(states[-1]) if states else "",
        as_path=route.attrs.get("BGP.as_path", ""),
        next_hop=hop[0] if hop else "",
    )


def parse_member(
    server: str, rs_asn: int, asn: Asn, lines: Sequence[str], *, truncated: bool = False
) -> LookingGlassServer:
    """One server's answer from the query's output lines (prompts already stripped or
    not). ``truncated``: reading stopped before the end, so a route listing may lack its
    last lines (the cap stops before a route's first line, so listed routes are whole)."""
    v4, v6 = member_protocols(asn)
    protocols = frozenset({v4, v6})
    reply = parse_reply("\n".join(strip_prompt(line) for line in lines))
    sessions = []
    for block in protocol_blocks(reply):
        status = session_from_block(server, block)
        if status is None or block.name not in protocols:
            continue
        sessions.append(
            LookingGlassSession(
                protocol=status.protocol,
                state=status.state,
                since=status.since,
                info=status.info,
                last_error=status.last_error,
                received=status.imported + status.filtered,
                accepted=status.imported,
                filtered=status.filtered,
                exported=status.exported,
                import_limit_hit=status.import_limit_hit,
            )
        )
    texts = [line.text for line in reply.lines]
    total = 0
    for text in texts:
        match = _COUNT.match(text.strip())
        if match:
            total += int(match.group(1))
    routes = [_filtered_route(r, rs_asn) for r in _routes(texts, protocols)]
    # BIRD greets every client (0001); without it birdc never reached the daemon. A member
    # the server does not know answers 8003 / 9001 (unknown protocol): no sessions, no error.
    answered = any(line.code == "0001" for line in reply.lines)
    error = ""
    if not answered and not truncated:
        error = reply.summary(300) or "birdc gave no answer"
    return LookingGlassServer(
        server=server,
        sessions=tuple(sorted(sessions, key=lambda s: s.protocol)),
        filtered_routes=tuple(routes),
        filtered_total=max(total, len(routes)),
        error=error,
    )
