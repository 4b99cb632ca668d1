"""How zerotier-one reads and writes JSON, reproduced: its lenient value coercions
(``OSUtils::jsonBool`` & co.), its address parser (``InetAddress``), nlohmann's error
messages and its compact, key-sorted output."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

JsonValue = Any
_U64 = 0xFFFFFFFFFFFFFFFF


class JsonError(Exception):
    """A nlohmann::json exception; ``str()`` is its ``what()`` text."""


def dump(value: JsonValue) -> bytes:
    """nlohmann's ``dump()``: compact, object keys sorted (it stores objects in a std::map)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _reject_constant(name: str) -> float:
    raise ValueError(f"invalid literal {name}")


def parse(body: bytes) -> JsonValue:
    """``nlohmann::json::parse``; raises JsonError with nlohmann's message on bad input."""
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        raise JsonError(
            "[json.exception.parse_error.101] parse error at line 1, column 1: syntax error "
            "while parsing value - unexpected end of input; expected '[', '{', or a literal"
        )
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else len(text)
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        truncated = _end_of_input_message(text) if not text[pos:].strip() else None
        if truncated is not None:  # cut between tokens: no quote in it, valid JSON
            end = len(text)
            line = text.count("\n") + 1
            column = end - (text.rfind("\n") + 1) + 1
            raise JsonError(
                f"[json.exception.parse_error.101] parse error at line {line}, column "
                f"{column}: syntax error while parsing {truncated}"
            ) from None
        if "Extra data" in str(exc) and text[pos] in _PUNCTUATION:
            raise JsonError(
                f"[json.exception.parse_error.101] parse error at line {line}, column "
                f"{column}: syntax error while parsing value - unexpected "
                f"{_PUNCTUATION[text[pos]]}; expected end of input"
            ) from None
        # nlohmann quotes the token it read verbatim; the controller does not escape it
        if "Unterminated string" in str(exc):
            problem, last_read = "invalid string: missing closing quote", text[pos:]
            # the lexer reports where it stopped: the end of the input
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
        else:
            problem, last_read = "invalid literal", text[max(0, pos - 20) : pos + 1]
        raise JsonError(
            f"[json.exception.parse_error.101] parse error at line {line}, column {column}: "
            f"syntax error while parsing value - {problem}; last read: '{last_read}'"
        ) from None


_PUNCTUATION = {"}": "'}'", "]": "']'", ",": "','", ":": "':'", "{": "'{'", "[": "'['"}
_LITERAL = "value - unexpected end of input; expected '[', '{', or a literal"
_AT_EOF = {
    "top": _LITERAL,
    "key_or_end": "object key - unexpected end of input; expected string literal",
    "key": "object key - unexpected end of input; expected string literal",
    "colon": "object separator - unexpected end of input; expected ':'",
    "value": _LITERAL,
    "comma": "object - unexpected end of input; expected '}'",
    "item_or_end": _LITERAL,
    "item": _LITERAL,
    "item_comma": "array - unexpected end of input; expected ']'",
}


def _complete_literal(token: str) -> bool:
    if token in ("true", "false", "null"):
        return True
    return re.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?", token) is not None


def _end_of_input_message(text: str) -> str | None:
    """nlohmann's "while parsing <context> - unexpected end of input; expected …" for a
    body cut off between tokens (None when it ends inside a string or literal, or is
    complete). Tracks what each open object/array expects next."""
    stack: list[list[str]] = []  # [kind, what it expects next]
    top = "top"
    i, n = 0, len(text)

    def value_done() -> None:
        nonlocal top
        if not stack:
            top = "done"
        else:
            stack[-1][1] = "comma" if stack[-1][0] == "obj" else "item_comma"

    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None  # cut inside a string: "missing closing quote"
            i = j + 1
            if stack and stack[-1][1] in ("key_or_end", "key"):
                stack[-1][1] = "colon"
            else:
                value_done()
        elif c in "{[":
            stack.append(["obj", "key_or_end"] if c == "{" else ["arr", "item_or_end"])
            i += 1
        elif c in "}]":
            if not stack:
                return None
            stack.pop()
            value_done()
            i += 1
        elif c == ":":
            if stack:
                stack[-1][1] = "value"
            i += 1
        elif c == ",":
            if stack:
                stack[-1][1] = "key" if stack[-1][0] == "obj" else "item"
            i += 1
        else:
            j = i
            while j < n and (text[j].isalnum() or text[j] in "+-."):
                j += 1
            if j >= n and not _complete_literal(text[i:j]):
                return None  # cut inside a literal: the lexer's "invalid literal"
            i = max(j, i + 1)
            value_done()
    if not stack:
        return _AT_EOF["top"] if top == "top" else None
    return _AT_EOF[stack[-1][1]]


def type_name(value: JsonValue) -> str:
    """nlohmann's ``type_name()`` of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def get_string(value: JsonValue) -> str:
    """``std::string s = j``: the string, or nlohmann's type_error 302."""
    if not isinstance(value, str):
        raise JsonError(
            f"[json.exception.type_error.302] type must be string, but is {type_name(value)}"
        )
    return value


def _str_to_u64(text: str) -> int:
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) & _U64 if match else 0


def json_bool(value: JsonValue, default: bool) -> bool:
    """``OSUtils::jsonBool``: strings count as true only when they start with t, T or 1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return (int(value) & _U64) > 0
    if isinstance(value, str):
        return value[:1] in ("t", "T", "1")
    return default


def json_int(value: JsonValue, default: int) -> int:
    """``OSUtils::jsonInt``: numbers as uint64, decimal strings parsed, booleans 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value) & _U64
    if isinstance(value, str):
        return _str_to_u64(value)
    return default


def json_string(value: JsonValue, default: str) -> str:
    """``OSUtils::jsonString``: strings as is, numbers in decimal, booleans "1"/"0"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(int(value) & _U64)
    return default


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_inet(text: str) -> tuple[Address, int] | None:
    """``InetAddress::fromString("ip/port")``: the address and the number after ``/``
    (a prefix length or port), or None when the text is no IPv4/IPv6 address."""
    if len(text) >= 64:
        return None
    ip_text, slash, rest = text.partition("/")
    number = _str_to_u64(rest) & 0xFFFF if slash else 0
    try:
        if ":" in ip_text:
            if "%" in ip_text:
                return None
            return ipaddress.IPv6Address(ip_text), number
        if "." in ip_text:
            return ipaddress.IPv4Address(ip_text), number
    except ValueError:
        return None
    return None


def parse_inet_lenient(text: str) -> tuple[Address, int] | None:
    """``InetAddress(const char *)`` as the controller uses it for ``ipAssignments`` and
    ``ipAssignmentPools``: text with ``:`` is IPv6 and text with ``.`` IPv4 even when
    ``inet_pton`` fails (the address then stays all-zero: ``::`` / ``0.0.0.0``); text with
    neither, or 64 characters or more, is no address (None)."""
    if len(text) >= 64:
        return None
    ip_text, slash, rest = text.partition("/")
    number = _str_to_u64(rest) & 0xFFFF if slash else 0
    if ":" in ip_text:
        try:  # inet_pton knows no scope id ("fe80::1%eth0"): it fails, leaving ::
            return ipaddress.IPv6Address(ip_text if "%" not in ip_text else "-"), number
        except ValueError:
            return ipaddress.IPv6Address(0), number
    if "." in ip_text:
        try:
            return ipaddress.IPv4Address(ip_text), number
        except ValueError:
            return ipaddress.IPv4Address(0), number
    return None


def ip_string(address: Address) -> str:
    """``InetAddress::toIpString``: like glibc ``inet_ntop`` (RFC 5952, embedded IPv4 for
    mapped and compatible IPv6 addresses)."""
    if isinstance(address, ipaddress.IPv6Address):
        packed = address.packed
        if packed[:10] == bytes(10) and (
            packed[10:12] == b"\xff\xff"
            or (packed[10:12] == bytes(2) and packed[12:14] != bytes(2))
        ):
            v4 = ipaddress.IPv4Address(packed[12:])
            return f"::ffff:{v4}" if packed[10:12] == b"\xff\xff" else f"::{v4}"
        return address.compressed
    return str(address)
