"""Validation and escaping of every string that reaches a BIRD config file.

BIRD 2.0's lexer reads a string literal as ``"`` up to the next ``"`` on the same line,
with no escape sequences (later versions add some). So a string can never carry ``"`` or a
newline, and ``\\`` means different things in different versions. Free text (member
descriptions from PeeringDB or a form) is therefore *sanitised*: control characters and
line breaks become spaces, ``"`` becomes ``'`` and ``\\`` becomes ``/``. Text that must be
exact (file paths, host names) is *validated* and refused with :class:`InvalidValue`.

Values the templates may print are :class:`BirdToken` instances (or ints / IP addresses);
the Jinja environment refuses any other ``str`` so that an unescaped string cannot slip
into a file unnoticed.
"""

from __future__ import annotations

import ipaddress
import re

from ztix_core.errors import InvalidValue

#: Longest description written to a config (BIRD has no limit; ``show protocols`` does not
#: need more).
MAX_DESCRIPTION = 120

_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_PATH = re.compile(r"[A-Za-z0-9_./@+,=:-]{1,4096}")
# Already clean: printable ASCII without '"', '\\' or runs of / edge spaces.
_CLEAN = re.compile(r"[!#-\[\]-~]+(?: [!#-\[\]-~]+)*")


class BirdToken(str):
    """A string already made safe for the place it is printed at."""

    __slots__ = ()


def sanitize_text(text: str, max_len: int = MAX_DESCRIPTION) -> str:
    """Free text reduced to one printable line without ``"`` or ``\\``.

    Whitespace runs (including newlines and tabs) collapse to one space; other
    non-printable characters are dropped; the result is trimmed to ``max_len`` characters.
    """
    if len(text) <= max_len and _CLEAN.fullmatch(text):
        return text
    out: list[str] = []
    for ch in str(text):
        if ch.isspace():
            out.append(" ")
        elif not ch.isprintable():
            continue
        elif ch == '"':
            out.append("'")
        elif ch == "\\":
            out.append("/")
        else:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    return cleaned[:max_len].rstrip()


def bird_string(text: str, max_len: int = MAX_DESCRIPTION) -> BirdToken:
    """A BIRD string literal (quotes included) carrying ``text`` sanitised."""
    return BirdToken(f'"{sanitize_text(text, max_len)}"')


def comment_text(text: str, max_len: int = 200) -> BirdToken:
    """Text safe inside a ``#`` comment: one line, nothing that ends the comment."""
    return BirdToken(sanitize_text(text, max_len))


def bird_path(path: str, field: str) -> BirdToken:
    """A quoted file path. Refuses anything outside a conservative character set."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise InvalidValue(
            field, f"{path!r} is not a usable path (letters, digits and _ . / @ + , = : - only)"
        )
    return BirdToken(f'"{path}"')


def rtr_remote(server: str, field: str) -> tuple[BirdToken, int]:
    """Parse ``host:port`` / ``[v6]:port`` / ``host`` (port 323) into BIRD's ``remote`` form.

    An IP address is printed bare, a DNS name quoted (BIRD's syntax for the two).
    """
    if not isinstance(server, str) or not server.strip():
        raise InvalidValue(field, f"{server!r} is not host:port")
    text = server.strip()
    port_text = ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise InvalidValue(field, f"{server!r} is not [ipv6]:port")
        port_text = rest[1:]
        try:
            addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidValue(field, f"{host!r} is not an IPv6 address") from None
        token = BirdToken(str(addr))
    else:
        host, sep, port_text = text.rpartition(":") if ":" in text else (text, "", "")
        if ":" in host:
            raise InvalidValue(field, f"{server!r}: write IPv6 addresses as [addr]:port")
        try:
            addr = ipaddress.IPv4Address(host)
            token = BirdToken(str(addr))
        except ValueError:
            if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
                raise InvalidValue(
                    field, f"{host!r} is neither an IP address nor a host name"
                ) from None
            token = BirdToken(f'"{host.lower()}"')
        if sep and not port_text:
            raise InvalidValue(field, f"{server!r} has an empty port")
    port = 323
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidValue(field, f"port {port_text!r} is not 1-65535")
        port = int(port_text)
    return token, port
