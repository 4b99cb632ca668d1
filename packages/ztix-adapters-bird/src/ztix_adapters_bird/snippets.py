"""Router snippets for members: what a member pastes into its own BIRD 2 or FRR router.

:class:`BirdRouterConfigs` is the core's :class:`~ztix_core.ports.RouterConfigs` for the
``bird`` fleet. It reads the ``[bird]`` settings (each route server's name, ASN, addresses
and import policy), never a server, and renders ``templates/member-bird.conf.j2`` and
``templates/member-frr.conf.j2``:

* one session per route server and address family, from the member's own peering-LAN
  addresses;
* first-AS checks off for these sessions only: the route servers are transparent (they
  do not put their own ASN in the AS path), so a route's first AS is the member that
  announced it, not the route server (BIRD: ``enforce first as off``; FRR:
  ``no neighbor … enforce-first-as``);
* the suggested max-prefix; an export filter announcing only the member's own routes
  (BIRD: its ``protocol static`` routes; FRR: routes with an empty AS path, which is what
  ``network`` statements and redistribution originate) within the route servers' prefix
  length bounds, never the peering LAN; an import filter that never learns the LAN;
* the communities explained in comments, read from :mod:`.policy` (its table and the
  enums it names), so a convention added there shows up here without a change.

Inputs are validated as the route-server renderer does (:mod:`.render`) and free text is
sanitised (:mod:`.text`): the member's name reaches comments and descriptions only as one
clean line.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import jinja2

from ztix_adapters_bird import bogons, policy
from ztix_adapters_bird.render import _check_v4, _check_v6, _finalize
from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings
from ztix_adapters_bird.text import BirdToken, bird_string, comment_text
from ztix_core.errors import InvalidValue
from ztix_core.max_prefix import MAX_PREFIX_LIMIT
from ztix_core.ports import MemberRouter, RouterSnippet

_TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)
#: Longest FRR neighbor description (FRR refuses longer ones).
FRR_DESCRIPTION = 80
_WIDTH = 86


@attrs.frozen
class Session:
    """One BGP session of the member: to ``server`` over one address family."""

    index: int  # 1-based, by server name: names protocols (server names are free text)
    name: BirdToken  # the server's name, comment-safe
    asn: int
    family: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address


@attrs.frozen
class CommunityRow:
    """One line of the convention table: the community (with the route servers' ASN
    filled in) and what it does."""

    community: BirdToken
    meaning: BirdToken


# --------------------------------------------------------------------------- communities


_TABLE_RULE = re.compile(r"^=+\s+=+\s*$")
_LITERAL = re.compile(r"``([^`]+)``")
_SEE_CLASS = re.compile(r"see :class:`(\w+)`")
_CLASS = re.compile(r":class:`(\w+)`")
_STANDARD = re.compile(r"\(standard form ``([^`]+)``\)")


def _enum_words(name: str) -> str:
    found = getattr(policy, name, None)
    if isinstance(found, type) and issubclass(found, enum.IntEnum):
        return "n: " + ", ".join(f"{int(m)} {_words(m.name)}" for m in found)
    return name


_ACRONYMS = frozenset({"AS", "ASN", "RPKI", "IP", "ROA"})


def _words(name: str) -> str:
    """``FIRST_AS_NOT_PEER`` → ``first AS not peer``."""
    return " ".join(w if w in _ACRONYMS else w.lower() for w in name.split("_"))


def _with_rs(text: str, rs_asn: int) -> str:
    return re.sub(r"\bRS\b", str(rs_asn), text)


def _plain(text: str, rs_asn: int) -> str:
    """RST markup of the policy module's docstring turned into plain text."""

    def standard(match: re.Match[str]) -> str:
        form = match.group(1)
        if "RS" in form and rs_asn > 65535:
            return "(no standard form: the route servers' ASN is 32-bit)"
        return f"(standard form {_with_rs(form, rs_asn)})"

    text = _STANDARD.sub(standard, text)
    text = _SEE_CLASS.sub(lambda m: _enum_words(m.group(1)), text)
    text = _CLASS.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: _with_rs(m.group(1), rs_asn), text)
    return " ".join(text.split())


def community_rows(rs_asn: int, doc: str | None = None) -> list[CommunityRow]:
    """The rows of the convention table in :mod:`.policy`'s docstring (``doc`` replaces it
    in tests), with the route servers' ASN in place of ``RS`` and the codes of every enum
    a row names spelled out. A row's continuation lines join its meaning."""
    lines = (policy.__doc__ if doc is None else doc).splitlines()
    rules = [i for i, line in enumerate(lines) if _TABLE_RULE.match(line)]
    if len(rules) < 2:
        return []
    rows: list[list[str]] = []
    for line in lines[rules[0] + 1 : rules[1]]:
        if not line.strip():
            continue
        head = line.lstrip()
        if head.startswith("``") and line == head:
            community, _, meaning = head[2:].partition("``")
            rows.append([community, meaning])
        elif rows:
            rows[-1][1] += " " + line.strip()
    return [
        CommunityRow(
            comment_text(_with_rs(community, rs_asn), 60),
            comment_text(_plain(meaning, rs_asn), 300),
        )
        for community, meaning in rows
    ]


def community_notes(rs_asn: int, doc: str | None = None) -> list[BirdToken]:
    """The paragraphs after the table in :mod:`.policy`'s docstring, as comment lines."""
    lines = (policy.__doc__ if doc is None else doc).splitlines()
    rules = [i for i, line in enumerate(lines) if _TABLE_RULE.match(line)]
    tail = lines[rules[1] + 1 :] if len(rules) >= 2 else []
    text = _plain(" ".join(tail), rs_asn)
    return [comment_text(line, _WIDTH) for line in textwrap.wrap(text, _WIDTH)]


def _table_lines(rows: Sequence[CommunityRow]) -> list[BirdToken]:
    """The rows as aligned comment lines, long meanings wrapped under themselves."""
    width = max((len(r.community) for r in rows), default=0)
    out = []
    for row in rows:
        parts = textwrap.wrap(str(row.meaning), max(30, _WIDTH - width - 4)) or [""]
        out.append(BirdToken(f"{str(row.community).ljust(width)}  {parts[0]}".rstrip()))
        out += [BirdToken(f"{'':{width}}  {part}") for part in parts[1:]]
    return out


# --------------------------------------------------------------------------- validation


def _limit(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PREFIX_LIMIT:
        raise InvalidValue(field, f"{value!r} is not 1-{MAX_PREFIX_LIMIT}")
    return value


def _check_member(member: MemberRouter, servers: Sequence[RouteServerSettings]) -> None:
    if not isinstance(member, MemberRouter):
        raise InvalidValue("member", f"{member!r} is not a MemberRouter")
    asn = int(member.asn)
    _check_v4(member.ipv4, "member.ipv4")
    _check_v6(member.ipv6, "member.ipv6")
    for fam, own, lan in ((4, member.ipv4, member.lan_v4), (6, member.ipv6, member.lan_v6)):
        if lan is not None and own not in lan:
            raise InvalidValue(f"member.ipv{fam}", f"{own} is not in the peering LAN {lan}")
    for field in ("accepted_v4", "accepted_v6", "suggested_v4", "suggested_v6"):
        _limit(getattr(member, field), f"member.{field}")
    for server in servers:
        if asn == int(server.asn):
            raise InvalidValue("member.asn", f"AS{asn} is route server {server.name}'s own ASN")
        if member.ipv4 == server.ipv4 or member.ipv6 == server.ipv6:
            raise InvalidValue(
                "member", f"an address of AS{asn} is route server {server.name}'s own"
            )
        reason = bogons.asn_bogon_reason(
            asn, allow_documentation=server.policy.allow_documentation_ranges
        )
        if reason:
            raise InvalidValue(
                "member.asn", f"AS{asn} is a bogon ASN ({reason}): the route servers refuse it"
            )


def _sessions(
    member: MemberRouter, servers: Sequence[RouteServerSettings]
) -> tuple[list[Session], list[BirdToken]]:
    """The sessions to write and, as comment lines, the servers' addresses left out."""
    sessions: list[Session] = []
    skipped: list[BirdToken] = []
    for index, server in enumerate(sorted(servers, key=lambda s: s.name), start=1):
        name = comment_text(server.name, 64)
        for fam, address, lan in (
            (4, server.ipv4, member.lan_v4),
            (6, server.ipv6, member.lan_v6),
        ):
            if address is None:
                continue
            checked = _check_v4(address, "ipv4") if fam == 4 else _check_v6(address, "ipv6")
            if lan is not None and checked not in lan:
                skipped.append(
                    comment_text(f"{server.name} ({checked}) is not on this network ({lan})")
                )
                continue
            sessions.append(Session(index, name, int(server.asn), fam, checked))
    return sessions, skipped


# --------------------------------------------------------------------------- rendering


def _bounds(servers: Sequence[RouteServerSettings]) -> dict[str, int]:
    """The prefix lengths every route server accepts (the strictest of their policies)."""
    p = [s.policy for s in servers]
    return {
        "v4_min": max(x.ipv4_min_len for x in p),
        "v4_max": min(x.ipv4_max_len for x in p),
        "v6_min": max(x.ipv6_min_len for x in p),
        "v6_max": min(x.ipv6_max_len for x in p),
    }


def _lans(
    member: MemberRouter, servers: Sequence[RouteServerSettings]
) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv6Network]]:
    if member.lan_v4 is not None:
        v4 = [member.lan_v4]
    else:
        v4 = sorted({n for s in servers for n in s.policy.peering_lan_v4})
    if member.lan_v6 is not None:
        v6 = [member.lan_v6]
    else:
        v6 = sorted({n for s in servers for n in s.policy.peering_lan_v6})
    return v4, v6


def render_snippets(
    servers: Sequence[RouteServerSettings], member: MemberRouter
) -> list[RouterSnippet]:
    """The BIRD 2 and FRR snippets of ``member`` for ``servers`` (see the module doc).

    Raises InvalidValue for a member or a server no snippet can be written for (an
    address a session cannot use, the member's address outside its LAN, the member being
    a route server, a bogon ASN), or when no route server has an address on the member's
    network."""
    if not servers:
        return []
    _check_member(member, servers)
    sessions, skipped = _sessions(member, servers)
    if not sessions:
        raise InvalidValue(
            "bird.servers", "no route server has an address on this member's peering LAN"
        )
    asn = int(member.asn)
    lan_v4, lan_v6 = _lans(member, servers)
    rs_asns = sorted({s.asn for s in sessions})
    communities: list[dict[str, Any]] = []
    for rs_asn in rs_asns:
        names = sorted({str(s.name) for s in sessions if s.asn == rs_asn})
        communities.append(
            {
                "asn": rs_asn,
                "servers": comment_text(", ".join(names)),
                "rows": _table_lines(community_rows(rs_asn)),
                "notes": community_notes(rs_asn),
            }
        )
    context: dict[str, Any] = {
        "asn": asn,
        "name": comment_text(member.name, 80),
        "network": comment_text(str(member.network_id)),
        "ipv4": member.ipv4,
        "ipv6": member.ipv6,
        "lan_v4": [BirdToken(str(n)) for n in lan_v4],
        "lan_v6": [BirdToken(str(n)) for n in lan_v6],
        "accepted_v4": member.accepted_v4,
        "accepted_v6": member.accepted_v6,
        "suggested_v4": member.suggested_v4,
        "suggested_v6": member.suggested_v6,
        "sessions_v4": [s for s in sessions if s.family == 4],
        "sessions_v6": [s for s in sessions if s.family == 6],
        "skipped": skipped,
        "frr_families": [
            (BirdToken("V4"), BirdToken("ip"), lan_v4),
            (BirdToken("V6"), BirdToken("ipv6"), lan_v6),
        ],
        "communities": communities,
        "bounds": _bounds(servers),
        "frr_description": lambda s: comment_text(
            f"route server {s.name} AS{s.asn}", FRR_DESCRIPTION
        ),
        "bird_description": lambda s: bird_string(f"route server {s.name}"),
    }
    out = []
    for flavour, title in (("bird", "BIRD 2"), ("frr", "FRR")):
        text = _ENV.get_template(f"member-{flavour}.conf.j2").render(context)
        out.append(RouterSnippet(flavour, title, f"ztix-as{asn}-{flavour}.conf", text))
    return out


class BirdRouterConfigs:
    """The ``bird`` fleet's :class:`~ztix_core.ports.RouterConfigs`: snippets for the
    route servers in the ``[bird]`` settings. Built from settings alone; nothing is read
    from a server (the web, which holds no SSH key, uses it)."""

    def __init__(self, settings: BirdSettings) -> None:
        self.settings = settings

    def router_snippets(self, member: MemberRouter) -> Sequence[RouterSnippet]:
        """See :func:`render_snippets`; empty when no server is configured."""
        return render_snippets(self.settings.servers, member)
