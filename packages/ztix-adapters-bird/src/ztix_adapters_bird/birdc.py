"""birdc's replies with ``-v``: every line carries BIRD's four-digit reply code.

``CODE-text`` opens a multi-line block, ``CODE text`` ends a reply, and a line starting
with a space continues the block of the code before it. birdc's exit status is not enough
to judge a reply (it is 0 for some failures), so callers look at the codes.
"""

from __future__ import annotations

import re

import attrs

_LINE = re.compile(r"^(\d{4})([ -])(.*)$")

#: Reply codes ztix waits for (``birdc -v`` prefixes every reply line with one).
RECONFIGURED = "0003"
RECONFIG_IN_PROGRESS = "0004"
DAEMON_UP = "0013"
CONFIRMED = "0018"
NOTHING_TO_DO = "0019"
CONFIG_OK = "0020"
UNDO_REQUESTED = "0021"
UNDO_SCHEDULED = "0022"


@attrs.frozen
class ReplyLine:
    """One line: its code (inherited for continuation lines) and text."""

    code: str
    text: str


@attrs.frozen
class Reply:
    """A parsed birdc reply."""

    lines: tuple[ReplyLine, ...]

    @property
    def codes(self) -> list[str]:
        """Every code, in order, continuation lines included."""
        return [line.code for line in self.lines]

    def has(self, *codes: str) -> bool:
        """True when any of ``codes`` appears."""
        return any(line.code in codes for line in self.lines)

    @property
    def errors(self) -> list[str]:
        """``CODE text`` of the error lines (8xxx runtime errors, 9xxx parse errors)."""
        return [f"{line.code} {line.text}" for line in self.lines if line.code[0] in "89"]

    def summary(self, limit: int = 500) -> str:
        """The error lines when there are any, else the last line: what BIRD said."""
        lines = self.errors or [f"{ln.code} {ln.text}" for ln in self.lines[-1:]]
        return "; ".join(lines)[:limit]


def parse_reply(output: str) -> Reply:
    """Parse ``birdc -v`` output. Lines that carry no code and do not continue a block
    (birdc's own messages, e.g. "Unable to connect to server control socket") become
    lines with code ``----``."""
    lines: list[ReplyLine] = []
    code = "----"
    for raw in output.splitlines():
        match = _LINE.match(raw)
        if match:
            code = match.group(1)
            lines.append(ReplyLine(code, match.group(3)))
        elif raw.startswith(" ") and lines:
            lines.append(ReplyLine(code, raw[1:]))
        elif raw.strip():
            lines.append(ReplyLine("----", raw.strip()))
    return Reply(tuple(lines))
